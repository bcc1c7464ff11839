"""Congenital heart disease chest X-rays -> heartcv HDF5 bundle (classification or heart masks).

    python data_prep/chd.py --raw CHD_DIR --out data/chd_320.h5 --classes normal VSD ASD
    python data_prep/chd.py --raw CHD_DIR --out data/chd_heart_320.h5 --masks CHD_DIR/masks

Images are named ``<disease>_<source>_<patient>_<view>[_<n>].<ext>`` with an optional heart
polygon ``.txt`` beside each (see ``heartcv.data.datasets.chd``). With ``--masks`` the
traced images only are written, with their traces rendered to masks in that folder (task
"segmentation", for the U-Net); otherwise all images with their disease labels. The split is
seeded and patient-wise (72/8/20, stratified on the disease): frontal and lateral views of a
patient stay together. Counts per class and split are printed at the end.
"""

import sys

from heartcv.data.prepare.chd import main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/chd.py"))

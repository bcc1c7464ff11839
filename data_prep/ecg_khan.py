"""Khan et al. ECG printouts -> heartcv HDF5 bundle of whole printouts (one image per ECG).

    python data_prep/ecg_khan.py --raw ECG_DIR --out data/ecg_printouts_320.h5 --size 320

Reads the class folders under their published names (typos kept; see
``heartcv.data.datasets.ecg_khan``), makes a seeded patient-wise 72/8/20 split stratified on
the class, converts each printout to a ``size`` x ``size`` image (the sheet is stretched;
``--channels 3`` keeps colour) and prints the counts per class and split.

Not done here: the 13-lead crop bundle of the five-class ECG paper (lead crops cut with
``heartcv.data.ecg_layout``) belongs to a later issue. The ready-made ``leads28/*.npy``
crops are read directly with ``heartcv.data.datasets.ecg_khan.leads28_dataset``.
"""

import sys

from heartcv.data.prepare.ecg_khan import main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/ecg_khan.py"))

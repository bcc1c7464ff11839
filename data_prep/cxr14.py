"""NIH ChestX-ray14 -> heartcv HDF5 bundle (14-label or Cardiomegaly-vs-No-Finding view).

    python data_prep/cxr14.py --raw RAW_DIR --out data/cxr14_cardiomegaly_320.h5 \
        --view cardiomegaly --size 320 --seed 0

Reads the raw download as published (see ``heartcv.data.datasets.cxr14``), takes the official
``train_val_list.txt``/``test_list.txt`` split when present (train_val divided patient-wise,
10% of its patients for validation) or else a seeded patient-wise 72/8/20 split, checks that
no patient is in two splits, converts the images found on disk, and prints the counts per
class and split. Images listed in the metadata but absent from disk are left out (counted).
"""

import sys

from heartcv.data.prepare.cxr14 import main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/cxr14.py"))

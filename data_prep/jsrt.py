"""JSRT + SCR masks -> heartcv HDF5 segmentation bundle (heart, left lung, right lung).

    python data_prep/jsrt.py --raw ../shared/data/jsrt_heart --out data/jsrt_320.h5 --size 320

Reads the ``png/`` + ``mask/<structure>/`` layout (see ``heartcv.data.datasets.jsrt``), adds
the label ``nodule`` and the cardiothoracic ratio measured on the masks (``meta/ctr``), makes
a seeded 72/8/20 split (one image per patient; stratified on ``nodule``), converts images and
masks, and prints the counts per class and split.
"""

import sys

from heartcv.data.prepare.jsrt import main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/jsrt.py"))

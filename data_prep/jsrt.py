"""JSRT + SCR masks -> heartcv HDF5 segmentation bundle (heart, left lung, right lung).

Same as ``heartcv prep jsrt …``: the conversion is the one registered as ``jsrt`` in
heartcv's dataset registry (``heartcv.data.datasets.get_dataset("jsrt")``, defined in
``heartcv/data/datasets/jsrt.py``); ``--help`` lists the options.
"""

import sys

from heartcv.data.datasets import get_dataset

main = get_dataset("jsrt").main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/jsrt.py"))

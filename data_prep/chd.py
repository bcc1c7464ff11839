"""Congenital heart disease chest X-rays -> heartcv HDF5 bundle (classification or heart masks).

Same as ``heartcv prep chd …``: the conversion is the one registered as ``chd`` in
heartcv's dataset registry (``heartcv.data.datasets.get_dataset("chd")``, defined in
``heartcv/data/datasets/chd.py``); ``--help`` lists the options.
"""

import sys

from heartcv.data.datasets import get_dataset

main = get_dataset("chd").main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/chd.py"))

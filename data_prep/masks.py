"""Your own images + masks folder (e.g. an external validation set) -> heartcv HDF5 bundle.

Same as ``heartcv prep masks …``: the conversion is the one registered as ``masks`` in
heartcv's dataset registry (``heartcv.data.datasets.get_dataset("masks")``, defined in
``heartcv/data/datasets/masks.py``); ``--help`` lists the options.
"""

import sys

from heartcv.data.datasets import get_dataset

main = get_dataset("masks").main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/masks.py"))

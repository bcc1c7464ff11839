"""NIH ChestX-ray14 -> heartcv HDF5 bundle (14-label or Cardiomegaly-vs-No-Finding view).

Same as ``heartcv prep cxr14 …``: the conversion is the one registered as ``cxr14`` in
heartcv's dataset registry (``heartcv.data.datasets.get_dataset("cxr14")``, defined in
``heartcv/data/datasets/cxr14.py``); ``--help`` lists the options.
"""

import sys

from heartcv.data.datasets import get_dataset

main = get_dataset("cxr14").main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/cxr14.py"))

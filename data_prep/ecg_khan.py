"""Khan et al. ECG printouts -> heartcv HDF5 bundle of whole printouts (one image per ECG).

Same as ``heartcv prep ecg_khan …``: the conversion is the one registered as ``ecg_khan`` in
heartcv's dataset registry (``heartcv.data.datasets.get_dataset("ecg_khan")``, defined in
``heartcv/papers/ecg_images_5class/prep.py``); ``--help`` lists the options.
"""

import sys

from heartcv.data.datasets import get_dataset

main = get_dataset("ecg_khan").main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/ecg_khan.py"))

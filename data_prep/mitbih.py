"""MIT-BIH Arrhythmia Database: AAMI beat counts and the single-beat image bundle.

Same as ``heartcv prep mitbih …``: the conversion is the one registered as ``mitbih`` in
heartcv's dataset registry (``heartcv.data.datasets.get_dataset("mitbih")``, defined in
``heartcv/data/datasets/mitbih.py``); ``--help`` lists the options.
"""

import sys

from heartcv.data.datasets import get_dataset

main = get_dataset("mitbih").main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/mitbih.py"))

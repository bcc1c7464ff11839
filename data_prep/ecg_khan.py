"""Khan et al. ECG printouts -> heartcv HDF5 bundle of whole printouts (one image per ECG).

Same as ``heartcv prep ecg_khan …``; the logic and the full description are in
``heartcv/data/prepare/ecg_khan.py``; ``--help`` lists the options.
"""

import sys

from heartcv.data.prepare.ecg_khan import main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/ecg_khan.py"))

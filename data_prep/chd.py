"""Congenital heart disease chest X-rays -> heartcv HDF5 bundle (classification or heart masks).

Same as ``heartcv prep chd …``; the logic and the full description are in
``heartcv/data/prepare/chd.py``; ``--help`` lists the options.
"""

import sys

from heartcv.data.prepare.chd import main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/chd.py"))

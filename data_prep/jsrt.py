"""JSRT + SCR masks -> heartcv HDF5 segmentation bundle (heart, left lung, right lung).

Same as ``heartcv prep jsrt …``; the logic and the full description are in
``heartcv/data/prepare/jsrt.py``; ``--help`` lists the options.
"""

import sys

from heartcv.data.prepare.jsrt import main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/jsrt.py"))

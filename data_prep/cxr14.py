"""NIH ChestX-ray14 -> heartcv HDF5 bundle (14-label or Cardiomegaly-vs-No-Finding view).

Same as ``heartcv prep cxr14 …``; the logic and the full description are in
``heartcv/data/prepare/cxr14.py``; ``--help`` lists the options.
"""

import sys

from heartcv.data.prepare.cxr14 import main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/cxr14.py"))

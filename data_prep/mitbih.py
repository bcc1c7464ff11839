"""MIT-BIH Arrhythmia Database: AAMI beat counts and the single-beat image bundle.

Same as ``heartcv prep mitbih …``; the logic and the full description are in
``heartcv/data/prepare/mitbih.py``; ``--help`` lists the options.
"""

import sys

from heartcv.data.prepare.mitbih import main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/mitbih.py"))

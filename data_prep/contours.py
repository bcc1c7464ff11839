"""Heart outlines from two marked rows per image -> ``<stem>.txt`` polygon traces (CHD paper).

Same as ``heartcv prep contours …``: the conversion is the one registered as ``contours`` in
heartcv's dataset registry (``heartcv.data.datasets.get_dataset("contours")``, defined in
``heartcv/papers/chd_xray_vgg_unet/prep.py``); ``--help`` lists the options.
"""

import sys

from heartcv.data.datasets import get_dataset

main = get_dataset("contours").main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/contours.py"))

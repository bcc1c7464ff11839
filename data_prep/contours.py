"""Heart outlines from two marked rows per image -> ``<stem>.txt`` polygon traces (CHD paper).

Same as ``heartcv prep contours …``; the logic and the full description are in
``heartcv/data/prepare/contours.py`` and ``heartcv/data/contours``; ``--help`` lists the
options.
"""

import sys

from heartcv.data.prepare.contours import main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/contours.py"))

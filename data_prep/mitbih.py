"""MIT-BIH Arrhythmia Database: AAMI beat counts per record set (no bundle yet).

    python data_prep/mitbih.py --raw ../shared/data/mitdb
    python data_prep/mitbih.py --raw mitdb --sets DS1 DS2 --by-record

Reads the reference annotations of the 48 records with wfdb (see
``heartcv.data.datasets.mitbih``) and prints the beats per AAMI class (N, S, V, F, Q) for
the record sets asked: all 48, de Chazal's inter-patient DS1 / DS2, and the 4 paced records.

Not done yet: the beat-image bundle (2-D images of single beats for the beat-classification
paper) is a later issue. This script writes no file; it only checks and reports the data.
"""

import sys

from heartcv.data.prepare.mitbih import main

if __name__ == "__main__":
    sys.exit(main(prog="data_prep/mitbih.py"))

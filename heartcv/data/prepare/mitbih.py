"""MIT-BIH Arrhythmia Database: AAMI beat counts per record set (no bundle yet).

    python data_prep/mitbih.py --raw ../shared/data/mitdb
    python data_prep/mitbih.py --raw mitdb --sets DS1 DS2 --by-record

Reads the reference annotations of the 48 records with wfdb (see
``heartcv.data.datasets.mitbih``) and prints the beats per AAMI class (N, S, V, F, Q) for
the record sets asked: all 48, de Chazal's inter-patient DS1 / DS2, and the 4 paced records.

Not done yet: the beat-image bundle (2-D images of single beats for the beat-classification
paper) is a later issue. This script writes no file; it only checks and reports the data.
"""

import pandas as pd

from heartcv.data.datasets import mitbih
from heartcv.data.prepare._common import dataset_parser, run

PROG = "heartcv prep mitbih"


def build_parser(prog=PROG):
    p = dataset_parser(prog, __doc__, raw_help="folder holding NNN.dat/.hea/.atr", convert=False,
                       epilog=("The beat-image bundle is a later issue: this script "
                               "only prints AAMI counts and writes nothing."))
    p.add_argument("--sets", nargs="+", default=["all", "DS1", "DS2", "paced"],
                   choices=tuple(mitbih.RECORD_SETS),
                   help="record sets to count (default: all four)")
    p.add_argument("--by-record", action="store_true", help="also print one row per record")
    return p


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)

    def work():
        table = mitbih.beat_table(args.raw, mitbih.RECORDS)
        rows = {}
        for name in args.sets:
            part = table[table["record"].isin(mitbih.record_set(name))]
            rows[f"{name} ({len(mitbih.record_set(name))} records)"] = mitbih.aami_counts(table=part)
        counts = pd.DataFrame(rows).T
        counts["total"] = counts.sum(axis=1)
        counts.columns.name = None
        print(f"AAMI beats per record set ({mitbih.SOURCE}):")
        print(counts.to_string())
        if args.by_record:
            print(mitbih.aami_counts(table=table, by_record=True).to_string())

    return run(prog, args, work)

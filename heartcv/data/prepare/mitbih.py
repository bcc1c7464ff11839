"""MIT-BIH Arrhythmia Database: AAMI beat counts per record set (no bundle yet).

    python data_prep/mitbih.py --raw ../shared/data/mitdb
    python data_prep/mitbih.py --raw mitdb --sets DS1 DS2 --by-record

Reads the reference annotations of the 48 records with wfdb (see
``heartcv.data.datasets.mitbih``) and prints the beats per AAMI class (N, S, V, F, Q) for
the record sets asked: all 48, de Chazal's inter-patient DS1 / DS2, and the 4 paced records.

Not done yet: the beat-image bundle (2-D images of single beats for the beat-classification
paper) is a later issue. This script writes no file; it only checks and reports the data.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd

from heartcv.data.datasets import mitbih

PROG = "heartcv prep mitbih"


def build_parser(prog=PROG):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=("The beat-image bundle is a later issue: this script "
                                        "only prints AAMI counts and writes nothing."))
    p.add_argument("--raw", required=True, help="folder holding NNN.dat/.hea/.atr")
    p.add_argument("--sets", nargs="+", default=["all", "DS1", "DS2", "paced"],
                   choices=tuple(mitbih.RECORD_SETS),
                   help="record sets to count (default: all four)")
    p.add_argument("--by-record", action="store_true", help="also print one row per record")
    return p


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    if not Path(args.raw).is_dir():
        print(f"{prog}: error: raw dataset folder not found: {args.raw}", file=sys.stderr)
        return 2
    try:
        table = mitbih.beat_table(args.raw, mitbih.RECORDS)
    except (FileNotFoundError, ValueError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
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
    return 0


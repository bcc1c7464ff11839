"""Congenital heart disease chest X-rays -> heartcv HDF5 bundle (classification or heart masks).

    python data_prep/chd.py --raw CHD_DIR --out data/chd_320.h5 --classes normal VSD ASD
    python data_prep/chd.py --raw CHD_DIR --out data/chd_heart_320.h5 --masks CHD_DIR/masks

Images are named ``<disease>_<source>_<patient>_<view>[_<n>].<ext>`` with an optional heart
polygon ``.txt`` beside each (see ``heartcv.data.datasets.chd``). With ``--masks`` the
traced images only are written, with their traces rendered to masks in that folder (task
"segmentation", for the U-Net); otherwise all images with their disease labels. The split is
seeded and patient-wise (72/8/20, stratified on the disease): frontal and lateral views of a
patient stay together. Counts per class and split are printed at the end.
"""

import argparse

from heartcv.data.prepare._common import convert, dataset_parser, run
from heartcv.data.datasets import assign_split, chd

PROG = "heartcv prep chd"


def build_parser(prog=PROG):
    p = dataset_parser(prog, __doc__, raw_help="folder searched recursively for the images",
                       epilog="See data_prep/README.md for the file-name convention.")
    p.add_argument("--classes", nargs="+", default=list(chd.DISEASES),
                   help=f"diseases to keep, in label order (default: {' '.join(chd.DISEASES)})")
    p.add_argument("--views", nargs="+", default=None, choices=chd.VIEWS,
                   help="views to keep (default: both)")
    p.add_argument("--sources", nargs="+", default=None, help="sources to keep (default: all)")
    p.add_argument("--masks", default=None,
                   help="render the traces into this folder and write a segmentation bundle")
    p.add_argument("--strict", action=argparse.BooleanOptionalAction, default=True,
                   help="fail on file names or traces that do not parse (default on)")
    return p


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)

    def work():
        index = chd.chd_index(args.raw, class_names=args.classes, views=args.views,
                              sources=args.sources, strict=args.strict)
        if args.masks is not None:
            index = chd.segmentation_index(index, args.masks, strict=args.strict)
        if index.attrs.get("unparsed"):
            print(f"skipped {len(index.attrs['unparsed'])} file(s) whose names do not parse")
        convert(assign_split(index, seed=args.seed, stratify="disease"), args)

    return run(prog, args, work)

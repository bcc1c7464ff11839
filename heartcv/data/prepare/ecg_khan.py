"""Khan et al. ECG printouts -> heartcv HDF5 bundle of whole printouts (one image per ECG).

    python data_prep/ecg_khan.py --raw ECG_DIR --out data/ecg_printouts_320.h5 --size 320

Reads the class folders under their published names (typos kept; see
``heartcv.data.datasets.ecg_khan``), makes a seeded patient-wise 72/8/20 split stratified on
the class, converts each printout to a ``size`` x ``size`` image (the sheet is stretched;
``--channels 3`` keeps colour) and prints the counts per class and split.

Not done here: the 13-lead crop bundle of the five-class ECG paper (lead crops cut with
``heartcv.data.ecg_layout``) belongs to a later issue. The ready-made ``leads28/*.npy``
crops are read directly with ``heartcv.data.datasets.ecg_khan.leads28_dataset``.
"""

import argparse
import sys
from pathlib import Path

from heartcv.data.convert import convert_index
from heartcv.data.datasets import assign_split, ecg_khan

PROG = "heartcv prep ecg_khan"


def build_parser(prog=PROG):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=("The 13-lead crop bundle is a later issue; this script "
                                        "writes whole printouts only."))
    p.add_argument("--raw", required=True, help="folder holding the class folders (any depth)")
    p.add_argument("--out", required=True, help="bundle to write (.h5)")
    p.add_argument("--classes", nargs="+", default=None, choices=ecg_khan.CLASS_NAMES,
                   help="classes to keep, in label order (default: the classes found)")
    p.add_argument("--size", type=int, default=320, help="output side in pixels (default 320)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=1,
                   help="1 grey (default) or 3 RGB")
    p.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: all cores)")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="continue an interrupted conversion (default on)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="progress bar (default on)")
    return p


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    if not Path(args.raw).is_dir():
        print(f"{prog}: error: raw dataset folder not found: {args.raw}", file=sys.stderr)
        return 2
    try:
        index = ecg_khan.printouts_index(args.raw, class_names=args.classes)
        index = assign_split(index, seed=args.seed)
        result = convert_index(index, args.out, size=args.size, channels=args.channels,
                               workers=args.workers, resume=args.resume,
                               overwrite=args.overwrite, progress=args.progress)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    if not args.progress:
        print(result.summary())
    return 0


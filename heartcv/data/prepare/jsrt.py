"""JSRT + SCR masks -> heartcv HDF5 segmentation bundle (heart, left lung, right lung).

    python data_prep/jsrt.py --raw ../shared/data/jsrt_heart --out data/jsrt_320.h5 --size 320

Reads the ``png/`` + ``mask/<structure>/`` layout (see ``heartcv.data.datasets.jsrt``), adds
the label ``nodule`` and the cardiothoracic ratio measured on the masks (``meta/ctr``), makes
a seeded 72/8/20 split (one image per patient; stratified on ``nodule``), converts images and
masks, and prints the counts per class and split.
"""

import argparse
import sys
from pathlib import Path

from heartcv.data.convert import convert_index
from heartcv.data.datasets import assign_split, jsrt

PROG = "heartcv prep jsrt"


def build_parser(prog=PROG):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See data_prep/README.md for where to get the data.")
    p.add_argument("--raw", required=True, help="folder holding png/ and mask/")
    p.add_argument("--out", required=True, help="bundle to write (.h5)")
    p.add_argument("--size", type=int, default=320, help="output side in pixels (default 320)")
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
        index = jsrt.jsrt_index(args.raw, ctr=True)
        index = assign_split(index, seed=args.seed, stratify="nodule")
        result = convert_index(index, args.out, size=args.size, channels=1, workers=args.workers,
                               resume=args.resume, overwrite=args.overwrite, progress=args.progress)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    ctr = index["ctr"]
    print(f"CTR: mean {ctr.mean():.3f}, sd {ctr.std():.3f}, min {ctr.min():.3f}, "
          f"max {ctr.max():.3f}, > 0.5: {int((ctr > 0.5).sum())} of {len(ctr)}")
    if not args.progress:
        print(result.summary())
    return 0


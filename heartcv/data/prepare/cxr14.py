"""NIH ChestX-ray14 -> heartcv HDF5 bundle (14-label or Cardiomegaly-vs-No-Finding view).

    python data_prep/cxr14.py --raw RAW_DIR --out data/cxr14_cardiomegaly_320.h5 \
        --view cardiomegaly --size 320 --seed 0

Reads the raw download as published (see ``heartcv.data.datasets.cxr14``), takes the official
``train_val_list.txt``/``test_list.txt`` split when present (train_val divided patient-wise,
10% of its patients for validation) or else a seeded patient-wise 72/8/20 split, checks that
no patient is in two splits, converts the images found on disk, and prints the counts per
class and split. Images listed in the metadata but absent from disk are left out (counted).
"""

import argparse
import sys
from pathlib import Path

from heartcv.data.convert import convert_index
from heartcv.data.datasets import cxr14

PROG = "heartcv prep cxr14"


def build_parser(prog=PROG):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See data_prep/README.md for where to get the data.")
    p.add_argument("--raw", required=True, help="ChestX-ray14 folder (metadata CSV + images)")
    p.add_argument("--out", required=True, help="bundle to write (.h5)")
    p.add_argument("--view", choices=("multilabel", "cardiomegaly"), default="multilabel",
                   help="14 labels, or Cardiomegaly (any) vs No Finding (default: multilabel)")
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
        build = cxr14.cardiomegaly_index if args.view == "cardiomegaly" else cxr14.multilabel_index
        index = cxr14.assign_split(build(args.raw, seed=args.seed), seed=args.seed)
        result = convert_index(index, args.out, size=args.size, channels=1, workers=args.workers,
                               resume=args.resume, overwrite=args.overwrite, progress=args.progress)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    print(f"split: {index.attrs['split_source']}; images in the metadata but not on disk: "
          f"{index.attrs['missing_images']}")
    if not args.progress:
        print(result.summary())
    return 0


"""NIH ChestX-ray14 -> heartcv HDF5 bundle (14-label or Cardiomegaly-vs-No-Finding view).

    python data_prep/cxr14.py --raw RAW_DIR --out data/cxr14_cardiomegaly_320.h5 \
        --view cardiomegaly --size 320 --seed 0

Reads the raw download as published (see ``heartcv.data.datasets.cxr14``), takes the official
``train_val_list.txt``/``test_list.txt`` split when present (train_val divided patient-wise,
10% of its patients for validation) or else a seeded patient-wise 72/8/20 split, checks that
no patient is in two splits, converts the images found on disk, and prints the counts per
class and split. Images listed in the metadata but absent from disk are left out (counted).
"""

from heartcv.data.prepare._common import convert, dataset_parser, run
from heartcv.data.datasets import cxr14

PROG = "heartcv prep cxr14"


def build_parser(prog=PROG):
    p = dataset_parser(prog, __doc__, raw_help="ChestX-ray14 folder (metadata CSV + images)")
    p.add_argument("--view", choices=("multilabel", "cardiomegaly"), default="multilabel",
                   help="14 labels, or Cardiomegaly (any) vs No Finding (default: multilabel)")
    return p


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)

    def work():
        build = cxr14.cardiomegaly_index if args.view == "cardiomegaly" else cxr14.multilabel_index
        index = cxr14.assign_split(build(args.raw, seed=args.seed), seed=args.seed)
        print(f"split: {index.attrs['split_source']}; images in the metadata but not on disk: "
              f"{index.attrs['missing_images']}")
        convert(index, args)

    return run(prog, args, work)

"""JSRT + SCR masks -> heartcv HDF5 segmentation bundle (heart, left lung, right lung).

    python data_prep/jsrt.py --raw ../shared/data/jsrt_heart --out data/jsrt_320.h5 --size 320

Reads the ``png/`` + ``mask/<structure>/`` layout (see ``heartcv.data.datasets.jsrt``), adds
the label ``nodule`` and the cardiothoracic ratio measured on the masks (``meta/ctr``), makes
a seeded 72/8/20 split (one image per patient; stratified on ``nodule``), converts images and
masks, and prints the counts per class and split.
"""

from heartcv.data.prepare._common import convert, dataset_parser, run
from heartcv.data.datasets import assign_split, jsrt

PROG = "heartcv prep jsrt"


def build_parser(prog=PROG):
    return dataset_parser(prog, __doc__, raw_help="folder holding png/ and mask/")


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)

    def work():
        index = assign_split(jsrt.jsrt_index(args.raw, ctr=True), seed=args.seed, stratify="nodule")
        ctr = index["ctr"]
        print(f"CTR: mean {ctr.mean():.3f}, sd {ctr.std():.3f}, min {ctr.min():.3f}, "
              f"max {ctr.max():.3f}, > 0.5: {int((ctr > 0.5).sum())} of {len(ctr)}")
        convert(index, args)

    return run(prog, args, work)

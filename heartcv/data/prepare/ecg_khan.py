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

from heartcv.data.prepare._common import convert, dataset_parser, run
from heartcv.data.datasets import assign_split, ecg_khan

PROG = "heartcv prep ecg_khan"


def build_parser(prog=PROG):
    p = dataset_parser(prog, __doc__, raw_help="folder holding the class folders (any depth)",
                       epilog=("The 13-lead crop bundle is a later issue; this script "
                               "writes whole printouts only."))
    p.add_argument("--classes", nargs="+", default=None, choices=ecg_khan.CLASS_NAMES,
                   help="classes to keep, in label order (default: the classes found)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=1,
                   help="1 grey (default) or 3 RGB")
    return p


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)

    def work():
        index = ecg_khan.printouts_index(args.raw, class_names=args.classes)
        convert(assign_split(index, seed=args.seed), args, channels=args.channels)

    return run(prog, args, work)

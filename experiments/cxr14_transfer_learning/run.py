"""Reproduce the cxr14 transfer-learning paper: Tables 1 and 2, Fig. 3–8, box scores.

    python experiments/cxr14_transfer_learning/run.py --quick                 # phantom, CPU-sized
    python experiments/cxr14_transfer_learning/run.py --data data/cxr14_multilabel_320.h5
    python experiments/cxr14_transfer_learning/run.py --rows densenet121_da \
        --data data/cxr14_multilabel_400.h5 --set data.image_size=400

Trains the three table rows (configs/<row>.yaml: DenseNet121 without and with data
augmentation, ResNet50 with) on one patient-wise split and writes, under
runs/cxr14_transfer_learning/: tables.md (Tables 1 and 2, per-label AUROC with bootstrap CIs,
the paper beside ours, box scores), rows.json (the same per row, nested), results.json (flat
"<row>/mean/auroc", "<row>/<Label>/auroc", "mean/auroc", ...; its path is printed last),
figures/ (loss curves = Fig. 3, ROC of the 14 labels per row = Fig. 4–6, top-4 Grad-CAM and
Grad-CAM++ = Fig. 7–8) and one run directory per row.
Before training, the split is checked for shared patients (the paper's set intersection).
"""

import argparse
import sys
from pathlib import Path

# heartcv registers its models (importing TensorFlow, its start-up lines hidden) in main(),
# once the arguments are parsed: --help answers without TensorFlow.
__heartcv_register_later__ = True

import heartcv
from heartcv.config import load_config
from heartcv.papers import experiment_parser
from heartcv.data.splits import format_leakage, leakage_check
from heartcv.papers.cxr14_transfer_learning import ROWS  # light: the experiment imports Keras
from heartcv.recipes import config_overrides, read_recipe
from heartcv.results import write_results

HERE = Path(__file__).resolve().parent
# --quick: the 14-label findings phantom at 128 px, 8 epochs of Adam from scratch, and heatmap
# box scores on the first 48 boxed test images only (configs/quick.yaml says why)
RECIPE = read_recipe(HERE / "configs" / "quick.yaml")
QUICK, QUICK_BOXED = config_overrides(RECIPE["config"]), RECIPE["max_boxed"]


def build_parser():
    p = experiment_parser(__doc__, set_help="override any config value of every row (repeatable)")
    p.add_argument("--data", help="ChestX-ray14 14-label bundle (heartcv prep cxr14 --view "
                                  "multilabel); default: the synthetic findings phantom")
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS, metavar="ROW",
                   help=f"table rows to run (default: all three: {' '.join(ROWS)})")
    p.add_argument("--quick", action=argparse.BooleanOptionalAction, default=False,
                   help="a CPU-sized run on the phantom (configs/quick.yaml)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    heartcv.register_all(debug=args.debug)
    from heartcv.papers.cxr14_transfer_learning.experiment import (
        bundle_boxes, flat_results, phantom_boxes, run_experiment)

    settings = [f"output_dir={args.output_dir}"] + (QUICK if args.quick else [])
    if args.data:
        report = leakage_check(args.data)
        print(format_leakage(report))
        if report["leaking"]:
            return 1
        settings.append(f"data.source={args.data}")
    cfgs = {row: load_config(HERE / "configs" / f"{row}.yaml", settings + args.overrides)
            for row in args.rows}
    from heartcv.data.sources import load_data

    first = next(iter(cfgs.values()))
    data = load_data(first.data)  # patient-disjoint splits (assert_disjoint on every build)
    test_ids = data.splits["test"].image_id
    boxes = bundle_boxes(args.data, test_ids) if args.data else phantom_boxes(first.data, test_ids)
    exp = run_experiment(cfgs, data=data, out_dir=first.run_dir.parent,
                         expected_csv=HERE / "expected.csv", boxes=boxes,
                         max_boxed=QUICK_BOXED if args.quick else None)
    print(f"\ntables: {exp['paths']['tables']}")
    print(f"figures: {exp['paths']['loss_curves'].parent}")
    write_results(first.run_dir.parent, flat_results(exp["rows"]))  # prints its path last
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reproduce the five-class ECG-image paper (Paul & Azad, CSE 472, BUET): six architectures.

    python experiments/ecg_images_5class/run.py --quick                     # synthetic, CPU-sized
    python experiments/ecg_images_5class/run.py --leads28 ../shared/data/ecg_khan/leads28
    python experiments/ecg_images_5class/run.py --data data/ecg_khan_leads64.h5
    python experiments/ecg_images_5class/run.py --models ecg_cnn2d ecg_attention_vgg --bagging 5

Cuts every ECG into a 13-lead volume (H, W, 13), trains each architecture with
configs/<model>.yaml (on configs/base.yaml) on one patient-wise split, and writes each run's
per-class report and confusion matrix (runs/<name>/<model>/) and the paper's Performance
Report tables for all of them (performance_report.md: accuracy, per-class precision, recall,
F1, specificity, the weighted Decision table, paper vs heartcv from expected.csv).
"""

import argparse
import sys
from pathlib import Path

from heartcv.config import load_config
from heartcv.papers import experiment_parser
from heartcv.papers.ecg_images_5class.experiment import (MODELS, drop_duplicates, leads28_volumes, make_splits,
                                       read_volume_bundle, run_experiment, synthetic_volumes)

HERE = Path(__file__).resolve().parent
# --quick (and no data given): CPU-sized: 5 epochs, the attention VGG at a quarter width.
QUICK = ["train.epochs=5", "ecg_attention_vgg:model.params.filters=[16,32,64,128,128,128]"]


def build_parser():
    p = experiment_parser(
        __doc__, set_metavar="[MODEL:]KEY=VALUE",
        set_help="override a config value of every model, or of MODEL only (e.g. "
                 "ecg_attention_vgg:model.params.filters=[16,32,64,128,128,128]); repeatable")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", help="HDF5 bundle of (N, H, W, 13) lead volumes")
    src.add_argument("--leads28", help="the real 28x28 lead arrays (ecg_khan/leads28: COVID-19, "
                                       "MI, history of MI)")
    src.add_argument("--quick", action=argparse.BooleanOptionalAction, default=False,
                     help="synthetic printouts, CPU-sized (see QUICK; default when no "
                          "--data/--leads28)")
    p.add_argument("--n-sheets", type=int, default=300,
                   help="synthetic printouts to generate (default: 300)")
    p.add_argument("--size", type=int, default=32,
                   help="synthetic lead-crop side in pixels (default: 32; the paper: 64)")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS, metavar="MODEL",
                   help=f"architectures, in table order (default: all six: {' '.join(MODELS)})")
    p.add_argument("--drop-duplicates", action=argparse.BooleanOptionalAction, default=True,
                   help="keep one copy of byte-identical ECG volumes and drop those under two "
                        "labels, so no copy straddles a split (default: on)")
    p.add_argument("--bagging", type=int, default=0, metavar="N",
                   help="also train a bagging ensemble of N members per model")
    return p


def split_overrides(overrides):
    """``--set`` values: those for every model, and ``{model: [...]}`` for ``MODEL:KEY=VALUE``."""
    common, per_model = [], {}
    for text in overrides:
        head = text.split("=", 1)[0]
        if ":" in head:
            model, rest = text.split(":", 1)
            if model not in MODELS:
                raise SystemExit(f"--set {text}: unknown model {model!r}; choose from {MODELS}")
            per_model.setdefault(model, []).append(rest)
        else:
            common.append(text)
    return common, per_model


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.data:
        volumes = read_volume_bundle(args.data)
    elif args.leads28:
        volumes = leads28_volumes(args.leads28)
    else:
        volumes = synthetic_volumes(args.n_sheets, size=args.size, seed=0)
        args.overrides = QUICK + args.overrides
    duplicates = None
    if args.drop_duplicates:
        volumes, duplicates = drop_duplicates(volumes)
        print(f"{duplicates['n_in']} ECGs, {duplicates['n_out']} distinct kept "
              f"({duplicates['copies_dropped']} copies, {duplicates['conflicting_dropped']} "
              f"under two labels dropped)")
    size = int(volumes["x"].shape[1])
    settings = [f"output_dir={args.output_dir}", f"data.image_size={size}",
                f"data.source={volumes['source']}"]
    common, per_model = split_overrides(args.overrides)
    settings += common
    configs = {m: load_config(HERE / "configs" / f"{m}.yaml", settings + per_model.get(m, []))
               for m in args.models}
    base = load_config(HERE / "configs" / "base.yaml", settings)
    data = make_splits(volumes, val_fraction=base.data.val_fraction,
                       test_fraction=base.data.test_fraction, seed=base.data.seed)
    exp = run_experiment(configs, data, out_dir=base.run_dir, expected_csv=HERE / "expected.csv",
                         bagging=args.bagging, duplicates=duplicates,
                         title=f"ECG images, {volumes['source']}, {size} px")
    print(f"\nPerformance report: {exp['paths']['markdown']}")
    for name, run in exp["runs"].items():
        print(f"{name}: {run.paths['table_md']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

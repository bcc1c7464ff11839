"""Reproduce the five-class ECG-image paper (Paul & Azad, CSE 472, BUET): six architectures.

    python experiments/ecg_images_5class/run.py --quick                     # synthetic, CPU-sized
    python experiments/ecg_images_5class/run.py --leads28 ../shared/data/ecg_khan/leads28
    python experiments/ecg_images_5class/run.py --data data/ecg_khan_leads64.h5
    python experiments/ecg_images_5class/run.py --models ecg_cnn2d ecg_attention_vgg --bagging 5
    python experiments/ecg_images_5class/run.py --leads28 ../shared/data/ecg_khan/leads28 --cv 5

Cuts every ECG into a 13-lead volume (H, W, 13), trains each architecture with
configs/<model>.yaml (on configs/base.yaml) on one patient-wise split, and writes each run's
per-class report and confusion matrix (runs/<name>/<model>/), the paper's Performance
Report tables for all of them (performance_report.md: accuracy, per-class precision, recall,
F1, specificity, the weighted Decision table, paper vs heartcv from expected.csv), the
shortcut probe beside every model (shortcut.md) and results.json (its path printed last).

--quick (off by default) makes every setting CPU-sized, whatever the data: 5 epochs, the
attention VGG at a quarter of the listing's widths, and, for synthetic printouts, 300
sheets at 32 px. Without it the paper's settings run: the configs' 30 epochs, the full
VGG widths, and 2,746 synthetic sheets (the paper's ECG count) at 64 px.

--cv K (the headline on leads28) replaces the single split by grouped K-fold
cross-validation (heartcv.papers.ecg_images_5class.cv): every ECG tested once, ECGs sharing a
near-identical lead crop kept in one fold, the shortcut probe fitted in the same folds, and
pooled accuracy, per-class recall and precision with bootstrap intervals over ECGs (cv.md,
cv.json); a row is credited where its accuracy interval lies above the probe's.

--norm both (default) trains every architecture twice: the paper's preprocessing (x / 255,
row <model>) and, beyond the paper, with a per-crop BackgroundNormalization layer inside
the model (row <model>_bgnorm: background 0, trace ink 1, grid residue zeroed).
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
from heartcv.papers.ecg_images_5class import BGNORM, MODELS  # light: no Keras
from heartcv.recipes import config_overrides, format_override, read_recipe
from heartcv.results import write_results

HERE = Path(__file__).resolve().parent
RECIPE = read_recipe(HERE / "configs" / "quick.yaml")
#: --quick: CPU-sized settings, applied to every data source (prepended to --set values):
#: (key, value) pairs, ``MODEL:key`` for one model only (configs/quick.yaml).
QUICK = config_overrides(RECIPE["config"]) + [
    (f"{model}:{key}", value) for model, tree in RECIPE["models"].items()
    for key, value in config_overrides(tree)]
#: Synthetic printouts (no --data/--leads28): (sheets, crop side) with and without --quick
#: (without: the paper's 2,746 ECGs at 64 px).
SYNTHETIC = {True: (RECIPE["synthetic"]["n_sheets"], RECIPE["synthetic"]["size"]),
             False: (2746, 64)}
NORMS = ("paper", "background", "both")


def build_parser():
    p = experiment_parser(
        __doc__, set_metavar="[MODEL:]KEY=VALUE",
        set_help="override a config value of every model, or of MODEL only (e.g. "
                 "ecg_attention_vgg:model.params.filters=[16,32,64,128,128,128]); repeatable")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", help="HDF5 bundle of (N, H, W, 13) lead volumes")
    src.add_argument("--leads28", help="the real 28x28 lead arrays (ecg_khan/leads28: COVID-19, "
                                       "MI, history of MI)")
    p.add_argument("--quick", action=argparse.BooleanOptionalAction, default=False,
                   help="CPU-sized settings for any data: " + ", ".join(map(format_override, QUICK))
                        + "; synthetic "
                        f"printouts {SYNTHETIC[True][0]} sheets at {SYNTHETIC[True][1]} px "
                        f"(default off: the configs' epochs, full VGG widths, "
                        f"{SYNTHETIC[False][0]} sheets at {SYNTHETIC[False][1]} px). "
                        "Without --data/--leads28 the data are synthetic printouts")
    p.add_argument("--n-sheets", type=int, default=None,
                   help="synthetic printouts to generate (default: 300 with --quick, else 2746)")
    p.add_argument("--size", type=int, default=None,
                   help="synthetic lead-crop side in pixels (default: 32 with --quick, else 64, "
                        "the paper's)")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS, metavar="MODEL",
                   help=f"architectures, in table order (default: all six: {' '.join(MODELS)})")
    p.add_argument("--norm", choices=NORMS, default="both",
                   help="paper: x / 255 as the paper; background: per-crop "
                        "BackgroundNormalization in the model (rows <model>_bgnorm); both "
                        "(default): each architecture both ways")
    p.add_argument("--drop-duplicates", action=argparse.BooleanOptionalAction, default=True,
                   help="keep one copy of byte-identical ECG volumes and drop those under two "
                        "labels, so no copy straddles a split (default: on)")
    p.add_argument("--group-shared-crops", action=argparse.BooleanOptionalAction, default=True,
                   help="make ECGs that share a (near-)identical lead crop one patient, so the "
                        "test split shares no crop with training (default: on; a bundle's own "
                        "split is kept and only checked)")
    p.add_argument("--probe", action=argparse.BooleanOptionalAction, default=True,
                   help="fit the shortcut probe (trace-free crop statistics) and score every "
                        "model on background-shifted test crops (default: on)")
    p.add_argument("--bagging", type=int, default=0, metavar="N",
                   help="also train a bagging ensemble of N members per model")
    p.add_argument("--cv", type=int, default=0, metavar="K",
                   help="grouped K-fold cross-validation instead of the single split (every ECG "
                        "tested once; the probe in the same folds; cv.md, cv.json)")
    p.add_argument("--lead-augment", action="store_true",
                   help="with --cv: augment the training batches against source cues "
                        "(heartcv.data.lead_augment: background level and texture, line "
                        "thickness, amplitude, shifts); rows <model>_aug")
    p.add_argument("--source-shift", default=None, metavar="BUNDLE",
                   help="with --cv: score every fold's model on the MI ECGs of another source, "
                        "a bundle of lead volumes of the same side (heartcv prep ecg_khan "
                        "--leads --size 28 --split none); source_shift.md")
    return p


def split_overrides(overrides):
    """``--set`` values (``KEY=VALUE`` strings or ``(KEY, VALUE)`` pairs, as QUICK's): those
    for every model, and ``{model: [...]}`` for ``MODEL:KEY=VALUE``."""
    common, per_model = [], {}
    for item in overrides:
        pair = isinstance(item, tuple)
        head = item[0] if pair else item.split("=", 1)[0]
        if ":" in head:
            model, rest = head.split(":", 1) if pair else item.split(":", 1)
            if model not in MODELS:
                text = format_override(item) if pair else item
                raise SystemExit(f"--set {text}: unknown model {model!r}; choose from {MODELS}")
            per_model.setdefault(model, []).append((rest, item[1]) if pair else rest)
        else:
            common.append(item)
    return common, per_model


def _positive(parser, name, value):
    if value is not None and value < 1:
        parser.error(f"--{name} must be a positive int. Received: {value}")


def model_configs(models, norm, settings, per_model):
    """``{row: RunConfig}``: each model with the paper's scaling and/or background norm."""
    configs = {}
    for m in models:
        path = HERE / "configs" / f"{m}.yaml"
        if norm in ("paper", "both"):
            configs[m] = load_config(path, settings + per_model.get(m, []))
        if norm in ("background", "both"):
            configs[m + BGNORM] = load_config(
                path, settings + per_model.get(m, []) + [
                    "model.params.background_norm=true",
                    f"name=ecg_images_5class/{m}{BGNORM}"])
    return configs


def plan(args) -> dict:
    """What ``--quick`` decides: ``{"overrides", "n_sheets", "size"}`` (the last two for
    synthetic printouts); QUICK comes before the user's ``--set`` values, which win."""
    n, size = SYNTHETIC[bool(args.quick)]
    return {"overrides": (QUICK if args.quick else []) + list(args.overrides),
            "n_sheets": args.n_sheets or n, "size": args.size or size}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _positive(parser, "n-sheets", args.n_sheets)
    _positive(parser, "size", args.size)
    if args.cv and (args.cv < 2 or args.bagging or args.data):
        parser.error(f"--cv needs K >= 2, no --bagging and no --data bundle (its own split is "
                     f"kept). Received: --cv {args.cv}")
    if args.lead_augment and not args.cv:
        parser.error("--lead-augment needs --cv K")
    if args.source_shift and not args.cv:
        parser.error("--source-shift needs --cv K (it scores the folds' models)")
    heartcv.register_all(debug=args.debug)
    from heartcv.papers.ecg_images_5class.experiment import (
        drop_duplicates, group_shared_crops, leads28_volumes, make_splits, read_volume_bundle,
        run_experiment, shortcut_report, synthetic_volumes)

    settings_plan = plan(args)
    if args.data:
        volumes = read_volume_bundle(args.data)
    elif args.leads28:
        volumes = leads28_volumes(args.leads28)
    else:
        volumes = synthetic_volumes(settings_plan["n_sheets"], size=settings_plan["size"], seed=0)
    args.overrides = settings_plan["overrides"]
    duplicates = shared = None
    if args.drop_duplicates:
        volumes, duplicates = drop_duplicates(volumes)
        print(f"{duplicates['n_in']} ECGs, {duplicates['n_out']} distinct kept "
              f"({duplicates['copies_dropped']} copies, {duplicates['conflicting_dropped']} "
              f"under two labels dropped)")
    if args.group_shared_crops and volumes.get("split") is None:
        volumes, shared = group_shared_crops(volumes)
        print(f"{shared['ecgs_linked']} ECGs share a lead crop with another: "
              f"{shared['groups']} groups, each kept in one split")
    size = int(volumes["x"].shape[1])
    settings = [f"output_dir={args.output_dir}", f"data.image_size={size}",
                f"data.source={volumes['source']}"]
    common, per_model = split_overrides(args.overrides)
    settings += common
    configs = model_configs(args.models, args.norm, settings, per_model)
    base = load_config(HERE / "configs" / "base.yaml", settings)
    if args.cv:
        return _cross_validate(args, configs, volumes, base)
    data = make_splits(volumes, val_fraction=base.data.val_fraction,
                       test_fraction=base.data.test_fraction, seed=base.data.seed)
    exp = run_experiment(configs, data, out_dir=base.run_dir, expected_csv=HERE / "expected.csv",
                         bagging=args.bagging, duplicates=duplicates, shared_crops=shared,
                         title=f"ECG images, {volumes['source']}, {size} px")
    results = {}
    for row, run in exp["runs"].items():
        results[f"{row}/accuracy"] = run.metrics["accuracy"]
        auroc = (run.metrics.get("auroc") or {}).get("value")
        if isinstance(auroc, (int, float)) and auroc == auroc:
            results[f"{row}/macro_auroc"] = auroc
    for row, bag in exp["bagging"].items():
        results[f"{row}_bagging/accuracy"] = bag["accuracy"]
    sharing = exp["split"]["test_sharing_a_crop_with_train"]
    if sharing is not None:
        results["split/test_ecgs_sharing_a_crop_with_train"] = sharing
    results.update({f"split/{k}_ecgs": len(s) for k, s in data.splits.items()})
    print(f"\nPerformance report: {exp['paths']['markdown']}")
    for name, run in exp["runs"].items():
        print(f"{name}: {run.paths['table_md']}")
    if args.probe:
        probe = shortcut_report(exp["runs"], data, base.run_dir, seed=base.data.seed,
                                n_boot=max(200, base.eval.bootstrap))
        results.update(probe["results"])
        print(f"Shortcut probe: {probe['paths']['markdown']}")
        print((Path(probe["paths"]["markdown"])).read_text())
    write_results(base.run_dir, results)
    return 0


def _cross_validate(args, configs, volumes, base) -> int:
    from heartcv.config import replace
    from heartcv.data.lead_augment import LEAD_DEFAULTS
    from heartcv.papers.ecg_images_5class.cv import run_cv
    from heartcv.papers.ecg_images_5class.experiment import read_volume_bundle

    augment = None
    if args.lead_augment:  # own rows and run folders: never mixed with unaugmented runs
        augment = {k: list(v) if isinstance(v, tuple) else v for k, v in LEAD_DEFAULTS.items()}
        configs = {f"{row}_aug": replace(cfg, name=f"{cfg.name}_aug")
                   for row, cfg in configs.items()}
    cv = run_cv(configs, volumes, out_dir=base.run_dir, k=args.cv, seed=base.data.seed,
                n_boot=max(200, base.eval.bootstrap), probe=args.probe, lead_augment=augment)
    print(Path(cv["paths"]["markdown"]).read_text())
    results = dict(cv["results"])
    if args.source_shift:
        from heartcv.papers.ecg_images_5class.cv import source_shift_check

        shift = source_shift_check(cv["run_dirs"], read_volume_bundle(args.source_shift),
                                   volumes["class_names"], out_dir=base.run_dir)
        results.update(shift["results"])
        print(Path(shift["paths"]["markdown"]).read_text())
    write_results(base.run_dir, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

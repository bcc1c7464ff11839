"""Reproduce Cardio-XAttentionNet (Innat et al., Sci Rep 2023): Tables 4 and 5, Fig. 5–9.

    python experiments/cardio_xattentionnet/run.py --quick                  # phantom, CPU-sized
    python experiments/cardio_xattentionnet/run.py --quick --seeds 3 --models cxa_densenet121 densenet121_gap
    python experiments/cardio_xattentionnet/run.py --data data/cxr14_cardiomegaly_320.h5
    python experiments/cardio_xattentionnet/run.py --models cxa_densenet121 densenet121_gap
    python experiments/cardio_xattentionnet/run.py --config configs/localization_224.yaml \
        --models cxa_densenet121 densenet121_gap --seeds 3   # the 224-px localization rows
    heartcv prep cxr14 ... --size 1024 --splits test --out data/cxr14_cardiomegaly_test_1024.h5
    python experiments/cardio_xattentionnet/run.py --data data/cxr14_cardiomegaly_320.h5 \
        --test-data data/cxr14_cardiomegaly_test_1024.h5          # the paper's full-size test

Trains each model with the paper's recipe (configs/paper.yaml) on one patient-wise split
(with --seeds K: K training seeds on that same split), writes Table 4 per model
(runs/<name>/<model>/report.md, paper beside ours), Table 5 (table5.md: AMM vs GAP with
bootstrap CIs and DeLong's paired test; with K seeds mean ± sd and the test of every seed),
ROC curves of all models, confusion matrices, attention overlays at 0.2 beside the GAP
baselines' Grad-CAM, localization scores (localization.md: heatmap mass on the heart against
the heart's area, pointing game; phantom heart masks, or the NIH Cardiomegaly boxes of a
bundle), the maps' faithfulness (issue 26: AUROC with the AMM map made constant, flip,
mean-map and blank-image tests, heart correlation, mass on the heart after min–max; per seed,
mean ± sd with --seeds) and results.json (its path printed last). The maps are scored at the
training size unless --map-size says otherwise. With --test-data, every trained model
is also tested on a second bundle at that bundle's own (full) size with the threshold its run
chose on validation (full_size_test.md; results keys "<model>/full/auroc", ...): the paper
trains small and tests on the 1024-px images.
"""

import argparse
import sys
import time
from pathlib import Path

# heartcv registers its models (importing TensorFlow, its start-up lines hidden) in main(),
# once the arguments are parsed: --help answers without TensorFlow.
__heartcv_register_later__ = True

import heartcv
from heartcv.cli import positive_int  # the CLI's own check (light: no TensorFlow)
from heartcv.config import load_config
from heartcv.papers import experiment_parser
from heartcv.recipes import config_overrides, read_recipe
from heartcv.papers.cardio_xattentionnet import MODELS  # light: the experiment imports Keras

HERE = Path(__file__).resolve().parent
# --quick: the phantom at 96 px, 6 epochs with Adam 1e-3 (configs/quick.yaml says why)
QUICK = config_overrides(read_recipe(HERE / "configs" / "quick.yaml")["config"])


def build_parser():
    p = experiment_parser(__doc__)
    p.add_argument("--data", help="ChestX-ray14 Cardiomegaly bundle (data_prep/cxr14.py "
                                  "--view cardiomegaly); default: the synthetic phantom")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS, metavar="MODEL",
                   help=f"models to train, in table order (default: all eight: {' '.join(MODELS)})")
    p.add_argument("--quick", action=argparse.BooleanOptionalAction, default=False,
                   help="a CPU-sized run: 96 px, 6 epochs, Adam (configs/quick.yaml)")
    p.add_argument("--seeds", type=positive_int, default=1, metavar="K",
                   help="train every model with K seeds (train.seed, +1, ...) on the same split: "
                        "Table 5 as mean ± sd over seeds, DeLong's paired test per seed")
    p.add_argument("--config", type=Path, default=HERE / "configs" / "paper.yaml",
                   metavar="YAML",
                   help="base config (default configs/paper.yaml; e.g. "
                        "configs/localization_224.yaml); --models sets model.name per row")
    p.add_argument("--map-size", type=positive_int, default=None, metavar="PX",
                   help="phantom: generate the test images at PX for the heatmaps and their "
                        "faithfulness checks (default: the training size, data.image_size; "
                        "224: 7×7 cells), training resizes them to data.image_size; a bundle "
                        "keeps its own size")
    p.add_argument("--test-data", metavar="FULL.h5",
                   help="a test bundle at full resolution (heartcv prep cxr14 --size 1024 "
                        "--splits test): every model is also evaluated on its test split at "
                        "the bundle's own size (fully convolutional models)")
    return p


def full_size_test(runs: dict, bundle, out_dir) -> tuple[dict, Path]:
    """Each run's model on ``bundle``'s test split at the bundle's own size, with the threshold
    the run chose on validation; returns ``({model: report}, table path)``."""
    from heartcv.evaluate import evaluate_bundle
    from heartcv.files import atomic_write_text

    reports, lines = {}, []
    for name, run in runs.items():
        thr = run.metrics.get("threshold") or {}
        value = thr.get("value") if isinstance(thr.get("value"), (int, float)) else 0.5
        reports[name] = r = evaluate_bundle(
            run.paths["model_h5"], bundle, split="test", image_size="full", threshold=value,
            threshold_source=thr.get("source", "default"), curves=False)
        auc = r.get("auroc") or {}
        lo, hi = (auc.get("ci") or [float("nan")] * 2)[:2]
        lines.append(f"| {name} | {r['image_size_label']} | {r['n_samples']} | "
                     f"{auc.get('value', float('nan')):.3f} [{lo:.3f}–{hi:.3f}] | "
                     f"{r['accuracy']:.3f} |")
    table = ["# Full-size test (the paper's protocol: trained small, tested at full resolution)",
             "", f"Test bundle: `{bundle}`; thresholds chosen on validation by each run.", "",
             "| model | tested at | n | AUROC [95% CI] | accuracy |", "|:--|:--|--:|--:|--:|",
             *lines, ""]
    path = atomic_write_text(Path(out_dir) / "full_size_test.md", "\n".join(table))
    return reports, path


def main(argv=None) -> int:
    start = time.time()
    args = build_parser().parse_args(argv)
    heartcv.register_all(debug=args.debug)
    from heartcv.papers.cardio_xattentionnet.experiment import (
        bundle_boxes, load_experiment_data, results_numbers, run_experiment)

    settings = [f"output_dir={args.output_dir}"] + (QUICK if args.quick else [])
    if args.data:
        from heartcv.data.bundle import open_bundle

        with open_bundle(args.data) as b:  # the paper tests on the full-size image
            settings += [f"data.source={args.data}", f"eval.image_size={b.images.shape[1]}"]
    config = args.config if args.config.is_absolute() or args.config.exists() \
        else HERE / args.config
    cfg = load_config(config, settings + args.overrides)
    if args.test_data:  # checked before any training
        from heartcv.data.bundle import open_bundle

        with open_bundle(args.test_data) as b:
            if not len(b.indices("test")):
                print(f"error: {args.test_data}: the bundle has no test split", file=sys.stderr)
                return 2
    data = load_experiment_data(cfg, None if args.data else args.map_size)
    boxes = None
    if args.data:  # NIH boxes of the test images, in the bundle's pixel frame
        boxes = bundle_boxes(args.data, data.splits["test"].image_id)
    exp = run_experiment(cfg, args.models, data=data, out_dir=cfg.run_dir,
                         expected_csv=HERE / "expected.csv", boxes=boxes, seeds=args.seeds)
    print(f"\nTable 5: {exp['paths']['markdown']}")
    for name, run in exp["runs"].items():
        print(f"Table 4 {name}: {run.paths['table_md']}")
    print(f"localization: {exp['paths']['localization_md']}")
    from heartcv.results import flatten, write_results

    numbers = results_numbers(exp)
    if args.test_data:
        full, table = full_size_test(exp["runs"], args.test_data, cfg.run_dir)
        print(f"full-size test: {table}")
        for name, r in full.items():
            numbers.update(flatten({f"{name}/full": {
                "auroc": (r.get("auroc") or {}).get("value"), "accuracy": r["accuracy"],
                "image_size": r["image_size"] if isinstance(r["image_size"], int) else None}}))
    print(f"elapsed: {time.time() - start:.0f} s")
    numbers["time/total_s"] = time.time() - start
    write_results(cfg.run_dir, numbers)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reproduce the MIT-BIH beat-image classifier (Le, Le & Vu 2021): intra-patient accuracy, de Chazal's DS1 -> DS2 table.

    python experiments/mitbih_ecg_beats/run.py --quick                     # synthetic beats, no data, ~3 min
    python experiments/mitbih_ecg_beats/run.py --data ../shared/data/mitdb # the 48 WFDB records: every model
    python experiments/mitbih_ecg_beats/run.py --data ../shared/data/mitdb --models beat_rr --protocols inter
    python experiments/mitbih_ecg_beats/run.py --data data/mitbih_beats_128.h5 \\
        --config configs/small_cnn_cpu.yaml --max-train-per-class 1200 --max-test-per-class 1000

``--data`` a folder of WFDB records (or ``--quick``): the array path
(``heartcv.papers.mitbih_ecg_beats.fast``): every beat read once into a cached ``.npz`` of
64-px beat images and RR features, then each model of ``--models`` trained per protocol
(``intra``: the paper's beat-level split; ``inter``: de Chazal's DS1 -> DS2, validation
patients from DS1). Writes ``report.md`` (per protocol and model: accuracy, balanced accuracy,
per-class sensitivity / positive predictivity / FPR, the all-N baseline), per run
``<protocol>/<model>/summary.json``, ``test_predictions.npz``, ``model.keras``.

``--data`` an HDF5 bundle (``data_prep/mitbih.py --out``): the config path through
``heartcv.train`` (``--config``, Fig. 3 / Fig. 4 reports per protocol, summary.md).

Both write ``results.json`` (``intra/accuracy``, ``ds2/S/sensitivity``, ``ds2/S/ppv``,
``ds2/all_n_baseline/accuracy``, ...) and print its path last.
"""

import os
import sys
import time
from pathlib import Path

# heartcv registers its models (importing TensorFlow, its start-up lines hidden) in main(),
# once the arguments are parsed: --help answers without TensorFlow.
__heartcv_register_later__ = True

import heartcv
from heartcv.recipes import read_recipe

HERE = Path(__file__).resolve().parent
MODEL_KEYS = ("beat_cnn", "beat_rr", "beat_ctx", "ctx_gbm", "small_cnn", "vgg16")
#: per-model defaults of the array path: epochs, training and test caps per class
DEFAULTS = {"beat_cnn": (8, None, None), "beat_rr": (8, None, None),
            "beat_ctx": (8, None, None), "ctx_gbm": (1, None, None),
            "small_cnn": (10, 1200, None), "vgg16": (10, 600, 500)}
#: --quick: synthetic beats and CPU-sized training (configs/quick.yaml)
QUICK = read_recipe(HERE / "configs" / "quick.yaml")


def build_parser():
    from heartcv.papers import experiment_parser
    from heartcv.papers.mitbih_ecg_beats import VALIDATION  # light: no Keras

    p = experiment_parser(__doc__)
    p.add_argument("--quick", action="store_true",
                   help=f"synthetic beats ({QUICK['n_per_class']} per class, "
                        f"{QUICK['n_patients']} pseudo-patients), no --data; CPU-sized")
    p.add_argument("--data", help="a folder of MIT-BIH WFDB records (NNN.dat/.hea/.atr) or a "
                                  "beat-image bundle (.h5, data_prep/mitbih.py --out)")
    p.add_argument("--models", nargs="+", default=None, choices=MODEL_KEYS,
                   help="array path: models to train (default: all four; --quick: beat_cnn "
                        "beat_rr small_cnn)")
    p.add_argument("--protocols", nargs="+", default=["intra", "inter"],
                   choices=("intra", "inter"), help="split protocols (default: intra inter)")
    p.add_argument("--epochs", type=int, default=None,
                   help="array path: epochs for every model (default per model: "
                        + ", ".join(f"{k} {v[0]}" for k, v in DEFAULTS.items()) + ")")
    p.add_argument("--lr-schedule", default="constant", choices=("constant", "cosine"),
                   help="array path: learning rate constant (default) or a half-cosine decay "
                        "to 0 over all epochs")
    p.add_argument("--image-dropout", type=float, default=None,
                   help="array path: image-feature dropout of the two-input models beat_rr, "
                        "beat_ctx (default: the builder's 0.5)")
    p.add_argument("--image-size", type=int, default=64, help="array path: beat image side "
                                                              "(default 64)")
    p.add_argument("--cache", default=None,
                   help="array path: beat cache .npz (default <run dir>/beats_<size>.npz)")
    p.add_argument("--config", default="configs/paper.yaml",
                   help="bundle path: run config, relative to this folder or a path "
                        "(default configs/paper.yaml)")
    p.add_argument("--max-train-per-class", type=int, default=None,
                   help="seeded subset: at most N training beats per class (array path "
                        "default: small_cnn 1200, vgg16 600, others all)")
    p.add_argument("--max-test-per-class", type=int, default=None,
                   help="seeded subset: at most N test beats per class (array path default: "
                        "vgg16 500, others all)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--max-class-weight", type=float, default=100.0,
                   help="array path, inter: class weights n/(K n_c) capped at this many times "
                        "the N weight (default 100)")
    p.add_argument("--resume", action="store_true",
                   help="array path: reuse each finished <protocol>/<model> run of the output "
                        "folder written with the same settings (an interrupted full table)")
    p.add_argument("--validation", default="test", choices=VALIDATION,
                   help="bundle path: validation data, the test beats as the paper (default), "
                        "or none")
    return p


def _fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    return 2


def run_bundle(args):
    """The HDF5-bundle path (heartcv.train with a config); results.json from its predictions."""
    heartcv.register_all(debug=args.debug)
    import numpy as np

    from heartcv.config import load_config
    from heartcv.papers.mitbih_ecg_beats.experiment import run_experiment
    from heartcv.papers.mitbih_ecg_beats.fast import all_n_baseline, confusion, dechazal_table
    from heartcv.results import flatten, write_results

    config = Path(args.config)
    if not config.is_file() and (HERE / config).is_file():
        config = HERE / config
    cfg = load_config(config, [f"output_dir={args.output_dir}"] + args.overrides)
    exp = run_experiment(cfg, args.protocols, bundle=args.data, out_dir=cfg.run_dir,
                         expected_csv=HERE / "expected.csv",
                         max_train_per_class=args.max_train_per_class,
                         max_test_per_class=args.max_test_per_class, seed=args.seed,
                         validation=args.validation)
    print()
    print(exp["paths"]["summary_md"].read_text())
    out = {}
    for name, run in exp["runs"].items():
        print(f"{name}: {run.paths['table_md']}")
        z = np.load(Path(run.run_dir) / "test_predictions.npz")
        y = np.argmax(z["y_true"], 1)
        full = exp["info"][name]["full"]["test"]
        row = "intra" if name == "intra" else "ds2"
        out[row] = dechazal_table(confusion(y, np.argmax(z["y_score"], 1)), full_counts=full)
        out[f"{row}/all_n_baseline"] = all_n_baseline(y, full_counts=full)
    write_results(cfg.run_dir, flatten(out))
    return 0


def run_arrays(args):
    """The array path: WFDB records (or synthetic beats with --quick) -> every model."""
    heartcv.register_all(debug=args.debug)
    from heartcv.papers.mitbih_ecg_beats import beatset, fast
    from heartcv.results import write_results

    # --quick: every model but the frozen VGG16 base (the slowest, and random here)
    models = args.models or [k for k in MODEL_KEYS if not (args.quick and k == "vgg16")]
    out_dir = Path(args.output_dir) / "mitbih_ecg_beats" / ("quick" if args.quick else "mitdb")
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if args.quick:
        arrays = beatset.synthetic_set(QUICK["n_per_class"], n_patients=QUICK["n_patients"],
                                       size=args.image_size, seed=args.seed)
        n_train = max(1, round(0.6 * QUICK["n_patients"]))
        val_records = tuple(f"s{p:02d}" for p in range(n_train - 2, n_train))
        source = (f"synthetic beats (heartcv.data.synthetic.beats), {QUICK['n_per_class']} per "
                  f"class, {QUICK['n_patients']} pseudo-patients")
    else:
        cache = Path(args.cache) if args.cache else out_dir / f"beats_{args.image_size}.npz"
        try:
            arrays = beatset.load_mitdb(args.data, size=args.image_size, cache=cache)
        except (ValueError, FileNotFoundError) as err:
            return _fail(f"--data {args.data}: {err}")
        val_records = fast.VAL_RECORDS
        source = f"MIT-BIH records in {args.data} (beat cache {cache})"
    print(f"beats: {len(arrays['labels']):,} from {source} "
          f"({time.perf_counter() - start:.0f} s)", flush=True)

    def per_model(i, cli):
        if cli is not None:
            return cli
        if args.quick:
            return QUICK["epochs"] if i == 0 else None
        return {k: DEFAULTS[k][i] for k in models}

    header = (f"# MIT-BIH beats: {', '.join(models)} ({', '.join(args.protocols)})\n\n"
              f"Command: `python experiments/mitbih_ecg_beats/run.py {' '.join(sys.argv[1:])}`; "
              f"data: {source}; machine: {os.cpu_count()}-core CPU, load average at start "
              f"{os.getloadavg()[0]:.1f}. Se = sensitivity, +P = positive predictivity, "
              "FPR = false-positive rate; validation-tuned = per-class score multipliers "
              "chosen on the DS1 validation patients.")
    summaries = fast.run_fast(
        arrays, protocols=args.protocols, models=models, out_dir=out_dir,
        epochs=per_model(0, args.epochs), header=header, size=args.image_size,
        max_train_per_class=per_model(1, args.max_train_per_class),
        max_test_per_class=per_model(2, args.max_test_per_class),
        val_records=val_records, seed=args.seed, resume=args.resume,
        max_weight_ratio=args.max_class_weight,
        min_val_support=QUICK["min_val_support"] if args.quick else 50,
        lr_schedule=args.lr_schedule, image_dropout=args.image_dropout,
        batch_size=QUICK["batch_size"] if args.quick else 128)
    elapsed = time.perf_counter() - start
    print()
    print((out_dir / "report.md").read_text())
    print(f"total {elapsed / 60:.1f} min; report: {out_dir / 'report.md'}")
    results = fast.results_dict(summaries)
    results["run/minutes"] = round(elapsed / 60, 2)
    write_results(out_dir, results)
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.image_size < 16:
        return _fail(f"--image-size must be >= 16. Received: {args.image_size}")
    for name in ("epochs", "max_train_per_class", "max_test_per_class"):
        v = getattr(args, name)
        if v is not None and v < 1:
            return _fail(f"--{name.replace('_', '-')} must be >= 1. Received: {v}")
    if args.image_dropout is not None and not 0 <= args.image_dropout < 1:
        return _fail(f"--image-dropout must be in [0, 1). Received: {args.image_dropout}")
    if not args.max_class_weight >= 1:
        return _fail(f"--max-class-weight must be >= 1. Received: {args.max_class_weight}")
    if args.quick:
        return run_arrays(args)
    if not args.data:
        return _fail("give --data (a folder of MIT-BIH WFDB records, or a beat bundle .h5) "
                     "or --quick")
    data = Path(args.data)
    if data.is_dir():
        if not any(data.glob("*.hea")):
            return _fail(f"--data {data}: no WFDB records (*.hea) in this folder")
        return run_arrays(args)
    if data.is_file():
        return run_bundle(args)
    return _fail(f"--data {data}: no such file or folder")


if __name__ == "__main__":
    sys.exit(main())

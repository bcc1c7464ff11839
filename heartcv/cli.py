"""The ``heartcv`` command (also ``python -m heartcv``).

Subcommands: ``list-models``, ``prep``, ``train``, ``evaluate``, ``predict``, ``explain``,
``report``, ``leakage``, ``demo``. ``main(argv)`` returns the exit code: 0 on success, 2 for
bad input (one line on stderr naming the problem; ``--debug`` shows the traceback), 1 when
``leakage`` finds a patient in two splits.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_LEAKAGE, EXIT_BAD_INPUT = 0, 1, 2


class CLIError(ValueError):
    """Bad command-line input; printed as one line, exit code 2."""


def _add_overrides(p):
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.epochs=3 (repeatable)")


def _prep_description() -> str:
    """The datasets ``heartcv prep`` converts, one line each, from the static index (no
    dataset module, so no pandas or OpenCV, is imported for help)."""
    from heartcv._registry_index import DATASETS
    from heartcv.registry import registered_datasets

    rows = dict(DATASETS)  # with any registered in this process (a test's toy dataset)
    rows.update({n: s.description for n, s in registered_datasets().items()})
    width = max(len(n) for n in rows)
    lines = [f"  {n:<{width}}  {rows[n]}" for n in sorted(rows)]
    return ("heartcv prep DATASET --help shows the dataset's own options. Datasets:\n"
            + "\n".join(lines))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heartcv", description="Reproduce five heart-disease-from-images papers.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("list-models", help="list registered models")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'cxa_*'")
    p.add_argument("--task", choices=("binary", "multiclass", "multilabel", "segmentation"))
    p.add_argument("--paper", metavar="KEY", default=None,
                   help="only the models of one paper (its experiments/ folder name, e.g. "
                        "chd_xray_vgg_unet)")

    p = sub.add_parser("prep", help="convert a raw dataset (or the synthetic phantom) to an HDF5 bundle",
                       description=_prep_description(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="a registered dataset (listed above)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the dataset's options (--raw, --out, --size, ...)")

    p = sub.add_parser("train", help="train from a YAML config; writes a run directory")
    p.add_argument("config", nargs="?", help="YAML run config (default: built-in defaults)")
    _add_overrides(p)
    p.add_argument("--overwrite", action=argparse.BooleanOptionalAction, default=False,
                   help="train a finished run again (its outputs are cleared first); without "
                        "it a finished run is left as it is and an interrupted one resumes")

    p = sub.add_parser("evaluate", help="evaluate a saved model on a bundle split")
    p.add_argument("model", help="model file (.h5 or .keras)")
    p.add_argument("--data", required=True, help="HDF5 bundle")
    p.add_argument("--split", default="test")
    p.add_argument("--out", default=None, help="output folder (default: beside the model)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="decision threshold (choose it on validation data, never on test)")
    p.add_argument("--prevalence", type=float, default=None, help="report PPV/NPV at this prevalence")
    p.add_argument("--image-size", type=_image_size_arg, default=None, metavar="N|full",
                   help=_IMAGE_SIZE_HELP)
    p.add_argument("--shifts", action="store_true",
                   help="also evaluate under the fixed, seeded acquisition-shift suite (dimmed, "
                        "gamma, contrast, blur, noise, JPEG, low resolution; segmentation)")
    p.add_argument("--class-map", default=None, metavar="OLD=NEW,...",
                   help="score the bundle's class OLD as the model's class NEW (names as in "
                        "the bundle and the model card); without it a bundle whose class names "
                        "differ from the model's is refused")

    p = sub.add_parser("predict", help="predict images; one: its JSON and overlay, several: a CSV",
                       description=_PREDICT_DESCRIPTION)
    p.add_argument("images", nargs="*", metavar="PATH",
                   help="PNG/JPG/BMP/TIFF (grey, RGB, RGBA, 16-bit) or DICOM images, folders "
                        "or glob patterns")
    p.add_argument("--model", required=True, help="model file (.h5 or .keras)")
    p.add_argument("--out", default=".", help="folder for outputs (default: current directory)")
    p.add_argument("--image-size", type=_image_size_arg, default=None, metavar="N|full",
                   help=_IMAGE_SIZE_HELP)
    p.add_argument("--view", type=str.upper, choices=("PA", "AP"), default=None,
                   help="film view for the CTR call (default: a `view` column of --csv, the "
                        "DICOM ViewPosition, else read as PA). AP films get no cardiomegaly "
                        "call unless --ctr-threshold is given: the AP projection magnifies the heart")
    p.add_argument("--ctr-threshold", type=_unit_float, default=None, metavar="T",
                   help="CTR cut-off for the cardiomegaly call (default 0.5 on PA films)")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True,
                   help="heart + lungs models: a CTR interval from test-time augmentation "
                        "(5 views in one model call; --no-tta: none)")
    _add_batch_options(p, overlays=True)
    _add_max_pixels(p)

    p = sub.add_parser("explain", help="heatmaps of images: attention, Grad-CAM(++), saliency, deep Taylor",
                       description="One image: its overlay and prediction JSON. Several (files, "
                                   "folders, globs, --csv, --data): one overlay per image and "
                                   "predictions.csv / skipped.csv as `heartcv predict` writes.")
    p.add_argument("images", nargs="*", metavar="PATH",
                   help="PNG/JPG/BMP/TIFF or DICOM images, folders or glob patterns")
    p.add_argument("--model", required=True, help="model file (.h5 or .keras)")
    p.add_argument("--method", default="auto",
                   choices=("auto", "attention", "gradcam", "gradcam++", "saliency", "deep_taylor"),
                   help="auto: AMM attention for cxa_* models, else Grad-CAM")
    p.add_argument("--alpha", type=float, default=0.2, help="overlay intensity (paper: 0.2)")
    p.add_argument("--out", default=".", help="folder for outputs (default: current directory)")
    p.add_argument("--image-size", type=_image_size_arg, default=None, metavar="N|full",
                   help=_IMAGE_SIZE_HELP)
    _add_batch_options(p, overlays=False)
    _add_max_pixels(p)

    p = sub.add_parser("report", help="rewrite a run's tables from its metrics.json")
    p.add_argument("run_dir")
    p.add_argument("--expected", default=None, help="expected.csv with the paper's numbers")

    p = sub.add_parser("leakage",
                       help="check that no patient is in two splits (exit 1 if one is)")
    p.add_argument("source", help="HDF5 bundle, or a CSV with the id and `split` columns")
    p.add_argument("--by", default="patient_id", help="id column to intersect (default: patient_id)")
    p.add_argument("--split-column", default="split", help="CSV split column (default: split)")

    p = sub.add_parser("demo", help="the main job on generated data (minutes on a CPU)")
    p.add_argument("--output-dir", default="runs", help="where the run directory goes")
    p.add_argument("--models-dir", default="models", help="where the demo model is saved")
    p.add_argument("--quick", action=argparse.BooleanOptionalAction, default=False,
                   help="an even smaller run (tests)")
    _add_overrides(p)
    return parser


# ----------------------------------------------------------------------------- commands


def _model_index() -> tuple[dict, set]:
    """``({name: (task, paper, description)}, paper keys)`` from the static index
    (heartcv/_registry_index.py: no model code, so no TensorFlow, is imported), with the
    models and papers registered in this process on top."""
    from heartcv._registry_index import MODELS, PAPERS
    from heartcv.registry import get_spec, list_models, list_papers

    rows = {name: (task, paper, desc) for name, task, paper, desc in MODELS}
    for name in list_models():
        spec = get_spec(name)
        rows[name] = (spec.task, spec.paper, spec.description)
    return rows, set(PAPERS) | set(list_papers())


def cmd_list_models(args) -> int:
    from fnmatch import fnmatchcase

    from heartcv.registry import did_you_mean

    rows, papers = _model_index()
    if args.paper is not None and args.paper not in papers:
        raise ValueError(f"Unknown paper {args.paper!r}.{did_you_mean(args.paper, papers)} "
                         f"Expected one of {sorted(papers)}. Received: paper={args.paper!r}")
    names = sorted(n for n, (task, paper, _) in rows.items()
                   if fnmatchcase(n, args.pattern) and args.task in (None, task)
                   and args.paper in (None, paper))
    if not names:
        print(f"no registered model matches {args.pattern!r}")
        return EXIT_OK
    width = max(len(n) for n in names)
    for n in names:
        task, _, desc = rows[n]
        print(f"{n:<{width}}  {task:<12}  {desc}")
    return EXIT_OK


def cmd_prep(args) -> int:
    from heartcv.data import prepare

    try:
        return prepare.main(args.dataset, args.args)
    except SystemExit as exc:  # the dataset's own argparse: --help or a usage error
        return int(exc.code or 0)


def cmd_train(args) -> int:
    from heartcv.config import load_config
    from heartcv.train import train

    from heartcv.summary import print_summary

    cfg = getattr(args, "config_loaded", None) or load_config(args.config, args.overrides)
    result = train(cfg, overwrite=getattr(args, "overwrite", False))
    if result.already_complete:
        print(f"heartcv train: run {result.run_dir} is already complete "
              f"({result.paths['metrics_json']}); pass --overwrite to train it again",
              file=sys.stderr)
        return EXIT_OK
    print_summary(result)
    return EXIT_OK


def cmd_evaluate(args) -> int:
    from heartcv.scoring import evaluate_saved_model

    import errno
    import json
    from pathlib import Path

    from heartcv.evaluate import check_task

    # a model of the other task, or --shifts on classification: one line, before any work
    from heartcv.classes import parse_class_map

    class_map = parse_class_map(args.class_map)  # a malformed map: one line, before any work
    task = check_task(args.model, args.data, shifts=args.shifts)
    if task != "segmentation" and not args.shifts:  # classifiers: streamed, any size
        from heartcv.evaluate import evaluate_bundle
        from heartcv.summary import headline

        out = Path(args.out) if args.out else Path(args.model).parent / f"eval_{args.split}"
        if out.exists() and not out.is_dir():
            raise FileExistsError(errno.EEXIST, "exists and is not a folder", str(out))
        res = evaluate_bundle(args.model, args.data, args.split, args.image_size,
                              threshold=args.threshold, prevalence=args.prevalence, out_dir=out,
                              class_map=class_map)
        print(f"{args.split} at {res['image_size_label']} ({res['image_size_source']}): "
              f"{headline(res)}")
        print(f"metrics written to {out / 'metrics.json'}")
        return EXIT_OK
    out = evaluate_saved_model(args.model, args.data, split=args.split, out_dir=args.out,
                               threshold=args.threshold, prevalence=args.prevalence,
                               image_size=args.image_size, shifts=args.shifts,
                               class_map=class_map)
    metrics = json.loads((out / "metrics.json").read_text())
    if metrics.get("task") == "segmentation":
        for line in _segmentation_lines(metrics):
            print(line)
    print(f"metrics written to {out / 'metrics.json'}")
    return EXIT_OK


def _segmentation_lines(m: dict) -> list[str]:
    """Dice per structure, CTR, and one line per shift, for the terminal."""
    lines = [f"{s}: Dice {m['dice'][s]['mean']:.3f} ± {m['dice'][s]['sd']:.3f} (median "
             f"{m['dice'][s]['median']:.3f}, {m['dice'][s]['below_0.8']:.0%} below 0.8, "
             f"n={m['dice'][s]['n']})" for s in m["structures"]]
    if m.get("unscored_structures"):
        lines.append(f"not scored (no reference mask): {', '.join(m['unscored_structures'])}")
    c = m.get("ctr")
    if c and not c.get("measured", True):
        lines.append(f"CTR: not measured ({c['reason']})")
    elif c:
        lines.append(f"CTR: MAE {c['mae']:.4f}, AUROC for CTR > 0.5 {c['auroc']:.3f} "
                     f"[{c['auroc_ci'][0]:.3f}–{c['auroc_ci'][1]:.3f}] ({c['n_positive']} of "
                     f"{c['n']} positive; {c['n_unmeasured']} unmeasured)")
    for row in m.get("shift_table", []):
        parts = [f"{k.split('.')[1]} {v:.3f}" for k, v in row.items() if k.endswith(".mean")]
        if "ctr.mae" in row:
            parts.append(f"CTR MAE {row['ctr.mae']:.4f}")
        lines.append(f"  shift {row['shift']:<10} Dice " + ", ".join(parts))
    return lines


_PREDICT_DESCRIPTION = (
    "One image file: <stem>.prediction.json and <stem>.overlay.png in --out. Several inputs "
    "(files, folders, glob patterns, --csv, --data): the model is loaded once, images are "
    "read in parallel and predicted in batches, and --out gets predictions.csv (path, class "
    "probabilities and the call; for segmentation models the CTR, its call, flags and areas) "
    "and skipped.csv (path, reason: images that could not be read; they never stop the run); "
    "--overlays adds one overlay per image.")


def _unit_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        x = -1.0
    if not 0.0 < x < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {value!r}")
    return x


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {value!r}")
    return n


def _add_batch_options(p, *, overlays: bool) -> None:
    """The options of ``predict`` / ``explain`` with several inputs."""
    p.add_argument("--recursive", action=argparse.BooleanOptionalAction, default=False,
                   help="look in sub-folders of folder inputs too (and let ** span folders)")
    p.add_argument("--csv", default=None, metavar="FILE",
                   help="CSV with a `path` column (relative paths: relative to the CSV)")
    p.add_argument("--data", default=None, metavar="FILE.h5",
                   help="HDF5 bundle to predict (its image ids name the rows)")
    p.add_argument("--split", default=None, help="bundle split for --data ('all': every "
                                                 "image; default: test); only with --data")
    p.add_argument("--batch-size", type=_positive_int, default=16,
                   help="images per model call (default: 16)")
    p.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                   help="threads reading images (default: the CPU count, at most 8)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="show a progress bar on stderr (--no-progress: none)")
    if overlays:
        p.add_argument("--overlays", action=argparse.BooleanOptionalAction, default=False,
                       help="with several inputs, also write one overlay per image")


def _pixels_arg(value: str) -> int:
    try:
        n = int(float(value.replace("_", "")))
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a number of pixels >= 0 (0: no limit), "
                                         f"got {value!r}")
    return n


def _add_max_pixels(p) -> None:
    p.add_argument("--max-pixels", type=_pixels_arg, default=None, metavar="N",
                   help="refuse, before decoding, an image of more than N pixels (width × "
                        "height; default 20e6, or HEARTCV_MAX_PIXELS; 0: no limit): a huge "
                        "image file can decode to more memory than the machine has")


_IMAGE_SIZE_HELP = ("run the model at N×N pixels, or 'full': the image's own size (fully "
                    "convolutional models only). Default: the model card's input_size, else "
                    "the model's fixed input size, else the image's size")


def _image_size_arg(value: str):
    """``--image-size``: a positive int or ``full``."""
    if value.strip().lower() == "full":
        return "full"
    try:
        return _positive_int(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a positive int or 'full', got {value!r}") from None


def _print_prediction(result) -> None:
    size = "x".join(str(s) for s in result["image_size"])
    print(f"input size: {size} ({result['image_size_source']})")
    if result.get("task") == "segmentation":
        from heartcv.predict import ctr_line

        for name, s in result["structures"].items():
            print(f"{name}: {s['area_px']} px ({s['area_fraction']:.1%} of the image)")
        print(ctr_line(result))
    else:
        for name, p in result["probabilities"].items():
            print(f"{name}: {p:.4f}")


def _single_image(args) -> bool:
    """One image file named, nothing else: today's one-image outputs (JSON + overlay)."""
    from pathlib import Path

    return (len(args.images) == 1 and args.csv is None and args.data is None
            and Path(args.images[0]).is_file())


def _run_batch(args, *, overlays, method="auto", alpha=0.2) -> int:
    from heartcv.predict import csv_views, predict_batch

    seg = {}
    if getattr(args, "command", None) == "predict":
        seg = {"view": args.view, "ctr_threshold": args.ctr_threshold, "tta": args.tta,
               "views": csv_views(args.csv) if args.csv is not None else None}
    result = predict_batch(args.inputs, args.model, out_dir=args.out, missing=args.missing,
                           data=args.data, split=args.split, image_size=args.image_size,
                           batch_size=args.batch_size, jobs=args.jobs, overlays=overlays,
                           method=method, alpha=alpha, progress=args.progress, **seg)
    sizes = ", ".join(f"{s} ({n})" for s, n in result["image_sizes"].items()) or "none"
    print(f"input size: {sizes}; {result['decision']}")
    print(f"predicted {result['n_predicted']} of {result['n_inputs']} images; "
          f"skipped {len(result['skipped'])}")
    for path, reason in result["skipped"][:10]:
        print(f"  skipped {path}: {reason}")
    if len(result["skipped"]) > 10:
        print(f"  ... {len(result['skipped']) - 10} more in {result['written'][1]}")
    for path in result["written"]:
        print(f"wrote {path}")
    if result["n_predicted"] == 0:  # every input skipped: an error, not a result
        path, reason = result["skipped"][0] if result["skipped"] else ("?", "?")
        raise CLIError(f"Nothing predicted: none of the {result['n_inputs']} inputs could be "
                       f"predicted (first: {path}: {reason}); each is listed with its reason in "
                       f"{result['written'][1]}")
    return EXIT_OK


def cmd_predict(args) -> int:
    from heartcv.predict import predict_image

    if not _single_image(args):
        return _run_batch(args, overlays=args.overlays)
    result = predict_image(args.images[0], args.model, out_dir=args.out,
                           image_size=args.image_size, view=args.view,
                           ctr_threshold=args.ctr_threshold, tta=args.tta)
    _print_prediction(result)
    for path in result.get("written", []):
        print(f"wrote {path}")
    return EXIT_OK


def cmd_explain(args) -> int:
    from heartcv.predict import predict_image

    if not _single_image(args):
        return _run_batch(args, overlays=True, method=args.method, alpha=args.alpha)
    result = predict_image(args.images[0], args.model, out_dir=args.out, method=args.method,
                           alpha=args.alpha, image_size=args.image_size)
    if "heatmap" in result:
        print(f"{result['heatmap']['method']} map {tuple(result['heatmap']['shape'])}")
    else:
        _print_prediction(result)
    for path in result["written"]:
        print(f"wrote {path}")
    return EXIT_OK


def cmd_report(args) -> int:
    from heartcv.report import rewrite_run_report

    paths = rewrite_run_report(args.run_dir, expected_csv=args.expected)
    for p in paths.values():
        print(f"wrote {p}")
    return EXIT_OK


def cmd_leakage(args) -> int:
    from heartcv.data.splits import format_leakage, leakage_check

    report = leakage_check(args.source, by=args.by, split_column=args.split_column)
    print(format_leakage(report))
    return EXIT_LEAKAGE if report["leaking"] else EXIT_OK


def cmd_demo(args) -> int:
    from heartcv.demo import run_demo

    run_demo(output_dir=args.output_dir, models_dir=args.models_dir, quick=args.quick,
             overrides=args.overrides)
    return EXIT_OK


# Commands that need no model registry (and so no TensorFlow) to run; list-models reads the
# static index (heartcv/_registry_index.py).
LIGHT_COMMANDS = ("list-models", "prep", "leakage")

COMMANDS = {"list-models": cmd_list_models, "prep": cmd_prep, "train": cmd_train,
            "evaluate": cmd_evaluate, "predict": cmd_predict, "explain": cmd_explain,
            "report": cmd_report, "leakage": cmd_leakage, "demo": cmd_demo}


def _weights_unavailable():
    from heartcv.errors import WeightsUnavailableError

    return WeightsUnavailableError


# Arguments naming an input that must exist, checked before TensorFlow is imported, in the
# order (and with the messages) the commands themselves would report them.
_INPUT_ARGS = {"evaluate": ("model", "data"), "predict": ("model", "data", "csv"),
               "explain": ("model", "data", "csv"), "report": ("run_dir",)}
_MISSING = {"model": "Model file not found", "data": "Bundle not found",
            "csv": "CSV file not found", "run_dir": "Run directory not found"}


def _precheck_images(args) -> None:
    """``predict`` / ``explain``: find the inputs (no TensorFlow); none is one error line."""
    from pathlib import Path

    from heartcv.predict import collect_inputs

    if args.split is not None and args.data is None:
        raise CLIError(f"--split {args.split} selects images of a bundle, and no --data "
                       f"FILE.h5 was given: pass --data, or leave --split out")
    args.split = "test" if args.split is None else args.split
    images = args.images
    if len(images) == 1 and args.csv is None and args.data is None and \
            not Path(images[0]).exists() and not any(c in images[0] for c in "*?["):
        raise CLIError(f"Image file not found: {images[0]}")  # one image: as it always was
    if not images and args.csv is None and args.data is None:
        raise CLIError("No input images given: name image files, folders or glob patterns, "
                       "or pass --csv FILE or --data FILE.h5")
    args.inputs, args.missing = collect_inputs(images, recursive=args.recursive, csv=args.csv)
    if not args.inputs and args.data is None:
        why = [f"{a} is a directory with no image files" + ("" if args.recursive else
                                                             " (--recursive: sub-folders too)")
               if Path(a).is_dir() else a for a in images]
        raise CLIError(f"No input images found in {', '.join(why + ([args.csv] if args.csv else []))}")


def _precheck(args) -> None:
    """Input and config errors that need no TensorFlow, raised before it is imported."""
    from pathlib import Path

    for name in _INPUT_ARGS.get(args.command, ()):
        value = getattr(args, name, None)
        if value is not None and not Path(value).exists():
            raise CLIError(f"{_MISSING[name]}: {value}")
    if args.command in ("predict", "explain"):
        if args.max_pixels is not None:  # one setting for single and batch reads
            from heartcv.data.images import set_max_pixels

            set_max_pixels(args.max_pixels)
        _precheck_images(args)
    if args.command == "train":
        from heartcv.config import load_config

        args.config_loaded = load_config(args.config, args.overrides)


#: the Keras backends, the packages each needs and how to install them (setup.cfg's extras)
_BACKENDS = {"tensorflow": (("tensorflow",), 'pip install "heartcv"  (TensorFlow is a '
                            'requirement of heartcv)'),
             "jax": (("jax", "jaxlib"), 'pip install "heartcv[jax]"  (or pip install jax)'),
             "torch": (("torch",), "pip install torch")}


def _missing_backend(err: ImportError) -> str | None:
    """One line for a Keras backend that is not installed, else None."""
    import os

    missing = (getattr(err, "name", None) or "").split(".")[0]
    for backend, (packages, install) in _BACKENDS.items():
        if missing in packages:
            chosen = os.environ.get("KERAS_BACKEND")
            why = (f"KERAS_BACKEND={chosen} needs" if chosen else
                   f"the Keras backend ({backend}, from ~/.keras/keras.json) needs")
            return f"{why} {missing}, which is not installed: {install}"
    return None


def _load_models(debug: bool) -> None:
    """Import TensorFlow (quietly unless ``--debug`` or ``HEARTCV_DEBUG=1``) and register
    every model. A Keras backend that is not installed (``KERAS_BACKEND=jax`` without jax)
    is one error line with the install command."""
    import heartcv

    try:
        heartcv.register_all(debug=debug)
    except ImportError as err:
        line = _missing_backend(err)
        if line is None or debug:
            raise
        raise CLIError(line) from None


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or usage errors (2)
        return int(exc.code or 0)
    try:
        _precheck(args)
        if args.command not in LIGHT_COMMANDS:
            _load_models(debug=args.debug)
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("heartcv: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, FileNotFoundError, KeyError,
            _weights_unavailable()) as err:
        if args.debug:
            raise
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if isinstance(err, FileNotFoundError) and getattr(err, "filename", None) and \
                str(err.filename) not in msg:
            msg = f"{msg}: {err.filename}"
        print(f"heartcv: error: {msg}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as err:  # disk full, read-only or unwritable folder, a file in the way
        if args.debug:
            raise
        from heartcv.files import os_error_line

        print(f"heartcv: error: {os_error_line(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        if getattr(args, "max_pixels", None) is not None:  # for this command only
            from heartcv.data.images import set_max_pixels

            set_max_pixels(None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``heartcv`` command (also ``python -m heartcv``): the argument parser and the dispatch.

Subcommands: ``list-models``, ``prep``, ``train``, ``evaluate``, ``predict``, ``explain``,
``report``, ``leakage``, ``demo``, each run by its module in :mod:`heartcv.commands` (the
table :data:`COMMANDS`), imported only when that command runs, so ``heartcv --help`` and
``heartcv COMMAND --help`` import no pandas, OpenCV or TensorFlow. ``main(argv)`` returns the
exit code: 0 on success, 2 for bad input (one line on stderr naming the problem; ``--debug``
shows the traceback), 1 when ``leakage`` finds a patient in two splits.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
from pathlib import Path

import heartcv
from heartcv._registry_index import DATASETS
from heartcv.commands import EXIT_BAD_INPUT, CLIError
from heartcv.errors import WeightsUnavailableError
from heartcv.files import os_error_line
from heartcv.registry import registered_datasets


def _add_overrides(p):
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.epochs=3 (repeatable)")


def _prep_description() -> str:
    """The datasets ``heartcv prep`` converts, one line each, from the static index (no
    dataset module, so no pandas or OpenCV, is imported for help)."""
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


def positive_int(value: str) -> int:
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
    p.add_argument("--batch-size", type=positive_int, default=16,
                   help="images per model call (default: 16)")
    p.add_argument("--jobs", type=positive_int, default=None, metavar="N",
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
        return positive_int(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a positive int or 'full', got {value!r}") from None


@dataclasses.dataclass(frozen=True)
class Command:
    """How ``main`` runs a command: ``heartcv.commands.<module>.run(args)``."""

    module: str
    models: bool = True  # register every model (import TensorFlow) before the module
    check: str | None = None  # heartcv.commands.<check>.check(args) first, without TensorFlow


# list-models reads the static index (heartcv/_registry_index.py), prep and leakage need no
# model: those three never import TensorFlow.
COMMANDS = {"list-models": Command("list_models", models=False),
            "prep": Command("prep", models=False),
            "train": Command("train", check="train_config"),
            "evaluate": Command("evaluate"),
            "predict": Command("predict", check="predict"),
            "explain": Command("explain", check="predict"),
            "report": Command("report"),
            "leakage": Command("leakage", models=False),
            "demo": Command("demo")}

# Arguments naming an input that must exist, checked before TensorFlow is imported, in the
# order (and with the messages) the commands themselves would report them.
_INPUT_ARGS = {"evaluate": ("model", "data"), "predict": ("model", "data", "csv"),
               "explain": ("model", "data", "csv"), "report": ("run_dir",)}
_MISSING = {"model": "Model file not found", "data": "Bundle not found",
            "csv": "CSV file not found", "run_dir": "Run directory not found"}


def _check_paths(args) -> None:
    """The input files a command names exist (no TensorFlow needed to say so)."""
    for name in _INPUT_ARGS.get(args.command, ()):
        value = getattr(args, name, None)
        if value is not None and not Path(value).exists():
            raise CLIError(f"{_MISSING[name]}: {value}")


#: the Keras backends, the packages each needs and how to install them (setup.cfg's extras)
_BACKENDS = {"tensorflow": (("tensorflow",), 'pip install "heartcv"  (TensorFlow is a '
                            'requirement of heartcv)'),
             "jax": (("jax", "jaxlib"), 'pip install "heartcv[jax]"  (or pip install jax)'),
             "torch": (("torch",), "pip install torch")}


def _missing_backend(err: ImportError) -> str | None:
    """One line for a Keras backend that is not installed, else None."""
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
    try:
        heartcv.register_all(debug=debug)
    except ImportError as err:
        line = _missing_backend(err)
        if line is None or debug:
            raise
        raise CLIError(line) from None


def _command_module(name: str):
    return importlib.import_module(f"heartcv.commands.{name}")


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or usage errors (2)
        return int(exc.code or 0)
    command, checker = COMMANDS[args.command], None
    try:
        _check_paths(args)
        if command.check is not None:
            checker = _command_module(command.check)
            checker.check(args)
        if command.models:
            _load_models(debug=args.debug)
        return _command_module(command.module).run(args)
    except KeyboardInterrupt:
        print("heartcv: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, FileNotFoundError, KeyError,
            WeightsUnavailableError) as err:
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
        print(f"heartcv: error: {os_error_line(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        if checker is not None and hasattr(checker, "finish"):  # e.g. --max-pixels: this command only
            checker.finish(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``heartcv predict PATH … --model M``: one image: its JSON and overlay; several (files,
folders, globs, ``--csv``, ``--data``): a CSV of predictions and one of skipped images.

:func:`check` runs before TensorFlow is imported (so this module imports no Keras at the
top), for ``explain`` too: it applies ``--max-pixels`` for this command and finds the inputs;
:func:`finish` restores the pixel limit. ``heartcv explain`` shares the batch helpers.
"""

from pathlib import Path

from heartcv.commands import EXIT_OK, CLIError
from heartcv.data.images import set_max_pixels
from heartcv.predict import collect_inputs, csv_views, ctr_line, predict_batch, predict_image


def check(args) -> None:
    """Find the inputs (no TensorFlow); none is one error line."""
    if args.max_pixels is not None:  # one setting for single and batch reads
        set_max_pixels(args.max_pixels)
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


def finish(args) -> None:
    """``--max-pixels`` holds for this command only."""
    if getattr(args, "max_pixels", None) is not None:
        set_max_pixels(None)


def single_image(args) -> bool:
    """One image file named, nothing else: today's one-image outputs (JSON + overlay)."""
    return (len(args.images) == 1 and args.csv is None and args.data is None
            and Path(args.images[0]).is_file())


def print_prediction(result) -> None:
    size = "x".join(str(s) for s in result["image_size"])
    print(f"input size: {size} ({result['image_size_source']})")
    if result.get("task") == "segmentation":
        for name, s in result["structures"].items():
            print(f"{name}: {s['area_px']} px ({s['area_fraction']:.1%} of the image)")
        print(ctr_line(result))
    else:
        for name, p in result["probabilities"].items():
            print(f"{name}: {p:.4f}")


def run_batch(args, *, overlays, method="auto", alpha=0.2) -> int:
    """Several inputs: one model load, batched prediction, predictions.csv / skipped.csv."""
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


def run(args) -> int:
    if not single_image(args):
        return run_batch(args, overlays=args.overlays)
    result = predict_image(args.images[0], args.model, out_dir=args.out,
                           image_size=args.image_size, view=args.view,
                           ctr_threshold=args.ctr_threshold, tta=args.tta)
    print_prediction(result)
    for path in result.get("written", []):
        print(f"wrote {path}")
    return EXIT_OK

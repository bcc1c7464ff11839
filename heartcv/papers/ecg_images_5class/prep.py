"""Khan et al. ECG printouts -> heartcv HDF5 bundle: whole printouts, or the 13-lead volumes.

    python data_prep/ecg_khan.py --raw ECG_DIR --out data/ecg_printouts_320.h5 --size 320
    python data_prep/ecg_khan.py --raw ECG_DIR --out data/ecg_leads_64.h5 --leads [--size 64]

Reads the class folders under their published names (typos kept; see
``heartcv.data.datasets.ecg_khan``), makes a seeded patient-wise 72/8/20 split stratified on
the class (``--split none``: every sheet in ``test``, for an external set), and prints the
counts per class and split.

Whole printouts (default): each printout becomes a ``size`` x ``size`` image (the sheet is
stretched; ``--channels 3`` keeps colour). Each image must look like a 3 x 4 + 1 ECG sheet
(``detect_layout``, as for ``--leads``); one that does not (a chest radiograph, a blank page)
is skipped, counted and listed with the reason in ``<out>.log.csv``, like an unreadable file.

``--leads``: the input of the five-class ECG-image paper (Paul & Azad). On each sheet the
3 x 4 + 1 lead grid is found (``heartcv.papers.ecg_images_5class.detect.detect_layout``: measured on the sheet,
so cropped and re-saved copies work; the published boxes where they fit), the 13 leads are cut,
greyscaled, inverted, dilated (3 x 3) and resized to ``size`` x ``size`` (default 64; the paper
also tried 28 and 96), and stacked as channels. The bundle then holds:

* ``images``: (N, size, size, 13) uint8, bright trace on black; channel ``i`` is lead
  ``LEAD_NAMES[i]`` = I, aVR, V1, V4, II, aVL, V2, V5, III, aVF, V3, V6, rhythm strip (II);
* ``labels``: (N, K) one-hot float32 over ``class_names`` (the classes found, in
  ``ecg_khan.CLASS_NAMES`` order, or ``--classes``); task ``"multiclass"``;
* ``patient_id`` (file stem, one printout per patient), ``image_id`` (``<folder>/<file>``),
  ``split`` (``train``/``val``/``test``);
* ``meta/class``, ``meta/folder``, ``meta/layout`` (``"detected"`` or ``"reference"``);
* file attributes ``lead_names`` (JSON list), ``lead_size``, ``dilate_kernel``.

A sheet whose grid is not found (not a 3 x 4 + 1 ECG, unreadable file) is an error: all are
counted and listed in ``<out>.log.csv`` (``image_id, path, status, note``), and the run fails
naming the first; ``--no-strict`` leaves them out and writes the others. ``--resume`` has no
effect with ``--leads`` (the lead bundle is written in one pass).
"""

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from heartcv.data.bundle import BundleWriter
from heartcv.data.conversion_workers import start_pool
from heartcv.data.datasets import assign_split, ecg_khan
from heartcv.data.datasets._prep import convert, dataset_parser, run
from heartcv.data.images import read_image
from heartcv.files import atomic_write_text, check_output_file
from heartcv.papers.ecg_images_5class.detect import LayoutError, detect_layout
from heartcv.papers.ecg_images_5class.layout import LEAD_NAMES
from heartcv.papers.ecg_images_5class.leads import lead_volume
from heartcv.progress import progress_bar
from heartcv.registry import register_dataset

PROG = "heartcv prep ecg_khan"
LEAD_SIZES = (28, 64, 96)  # the sizes of the paper; any size >= 8 is accepted
_BATCH = 64


def build_parser(prog=PROG):
    p = dataset_parser(prog, __doc__, raw_help="folder holding the class folders (any depth)",
                       epilog=("With --leads, --size defaults to 64 (the paper's 64 x 64; it "
                               "also tried 28 and 96). See data_prep/README.md."))
    p.set_defaults(size=None)
    p.add_argument("--classes", nargs="+", default=None, choices=ecg_khan.CLASS_NAMES,
                   help="classes to keep, in label order (default: the classes found)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=1,
                   help="whole printouts: 1 grey (default) or 3 RGB")
    p.add_argument("--leads", action="store_true",
                   help="write the 13-lead volumes (N, size, size, 13) of the five-class paper")
    p.add_argument("--dilate", type=int, default=3,
                   help="--leads: side of the square dilation kernel, 1 = none (default 3)")
    p.add_argument("--remove-grid", action="store_true",
                   help="--leads: whiten each sheet's grid before cutting the leads (Otsu on "
                        "the sheet; beyond the paper, which keeps the grid)")
    p.add_argument("--strict", action=argparse.BooleanOptionalAction, default=True,
                   help="--leads: fail when a sheet's lead grid is not found (default on)")
    p.add_argument("--split", choices=("seeded", "none"), default="seeded",
                   help="seeded: the patient-wise 72/8/20 split (default); none: every sheet "
                        "in `test`, for an external set scored whole with `heartcv evaluate`")
    return p


def _lead_item(item):
    """Read one sheet and make its lead volume; never raises for a bad sheet."""
    pos, path, size, dilate, grid = item
    try:
        sheet = read_image(path, grey=False)
        layout = detect_layout(sheet, name=path)
        return (pos, lead_volume(sheet, size, dilate, layout=layout, remove_grid=grid),
                layout.source, "")
    except (OSError, ValueError) as e:  # ImageReadError and LayoutError are ValueErrors
        reason = e.problem if isinstance(e, LayoutError) else str(e)
        return pos, None, "", reason


def check_sheet(image, path):
    """``ValueError`` unless ``image`` looks like a 3 x 4 + 1 ECG sheet (whole-sheet mode)."""
    try:
        detect_layout(image, name=path)
    except LayoutError as e:
        raise ValueError(f"not an ECG sheet ({e.problem})") from None


def _results(items, workers):
    if workers <= 1 or len(items) < 2 * _BATCH:
        yield from map(_lead_item, items)
        return

    pool = start_pool(workers, None)
    try:
        yield from pool.map(_lead_item, items, chunksize=8)
    finally:
        pool.shutdown(cancel_futures=True)


def write_lead_bundle(index, out, *, size=64, dilate_kernel=3, strict=True, workers=None,
                      overwrite=False, progress=True, remove_grid=False):
    """Write the 13-lead bundle of an ECG printout index (see the module docstring).

    Args:
        index: :func:`heartcv.data.datasets.ecg_khan.printouts_index` with a ``split`` column.
        out: bundle path (``.h5``); ``<out stem>.log.csv`` is written beside it.
        size: side of each lead image.
        dilate_kernel: side of the dilation kernel (1 = none).
        strict: raise when any sheet fails (after trying all); else leave those out.
        workers: processes (default all cores; 1 = this process).
        overwrite: replace an existing bundle.
        progress: tqdm bar.
        remove_grid: whiten each sheet's grid before cutting (``layout.remove_grid``).

    Returns:
        A dict with ``out``, ``log``, ``written``, ``failed`` (list of ``(image_id, reason)``),
        ``counts`` (DataFrame class x split) and ``seconds``.

    Raises:
        FileExistsError: ``out`` exists and not ``overwrite``.
        ValueError: bad ``size``/``dilate_kernel``; any sheet failed and ``strict``; or none
            could be read.
    """
    t0 = time.perf_counter()
    for name, value, low in (("size", size, 8), ("dilate_kernel", dilate_kernel, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"Expected `{name}` to be an int >= {low}. Received: "
                             f"{name}={value!r}")

    out = check_output_file(out, overwrite=overwrite, what="Bundle")
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.with_name(out.stem + ".log.csv")
    class_names = list(index.attrs["class_names"])
    items = [(i, str(p), int(size), int(dilate_kernel), bool(remove_grid))
             for i, p in enumerate(index["path"])]
    workers = workers or os.cpu_count() or 1
    failed, written = [], []
    status, note = ["failed"] * len(items), [""] * len(items)
    attrs = {"lead_names": json.dumps(list(LEAD_NAMES)), "lead_size": int(size),
             "dilate_kernel": int(dilate_kernel), "remove_grid": int(bool(remove_grid))}
    source = f"{ecg_khan.SOURCE}; 13 lead crops per sheet (heartcv.papers.ecg_images_5class.leads.lead_volume)"
    batch = []
    with BundleWriter(out, task="multiclass", class_names=class_names, source=source,
                      attrs=attrs) as writer:

        def flush():
            rows = index.iloc[[pos for pos, _, _ in batch]]
            writer.append(np.stack([v for _, v, _ in batch]),
                          labels=rows[class_names].to_numpy(np.float32),
                          patient_id=rows["patient_id"].tolist(),
                          image_id=rows["image_id"].tolist(), split=rows["split"].tolist(),
                          meta={"class": rows["class"].tolist(),
                                "folder": rows["folder"].tolist(),
                                "layout": [s for _, _, s in batch]})
            written.extend(pos for pos, _, _ in batch)
            batch.clear()

        bar = progress_bar(_results(items, workers), total=len(items), desc="ECG lead volumes",
                           unit="sheet", disable=not progress)
        for pos, volume, layout_source, reason in bar:
            if volume is None:
                failed.append((index["image_id"].iloc[pos], reason))
                note[pos] = reason
                continue
            status[pos], note[pos] = "written", f"{layout_source} grid"
            batch.append((pos, volume, layout_source))
            if len(batch) >= _BATCH:
                flush()
        if batch:
            flush()
        atomic_write_text(log, pd.DataFrame({"image_id": index["image_id"], "path": index["path"],
                                             "status": status, "note": note}).to_csv(index=False))
        if not written:
            raise ValueError(f"No lead grid found on any of the {len(items)} printouts (see "
                             f"{log}). First: {failed[0][0]}: {failed[0][1]}")
        if failed and strict:
            raise ValueError(f"{len(failed)} of {len(items)} printouts have no readable 3x4+1 "
                             f"lead grid (all listed in {log}); pass --no-strict to leave them "
                             f"out. First: {failed[0][0]}: {failed[0][1]}")
    done = index.iloc[sorted(written)]
    counts = pd.crosstab(done["class"], done["split"], margins=True, margins_name="total")
    return {"out": out, "log": log, "written": len(written), "failed": failed, "counts": counts,
            "seconds": time.perf_counter() - t0}


def _leads(index, args):
    size = 64 if args.size is None else args.size
    result = write_lead_bundle(index, args.out, size=size, dilate_kernel=args.dilate,
                               strict=args.strict, workers=args.workers,
                               overwrite=args.overwrite, progress=args.progress,
                               remove_grid=args.remove_grid)
    print(f"{result['out']}: {result['written']} of {result['written'] + len(result['failed'])} "
          f"printouts written as ({size}, {size}, 13) lead volumes "
          f"({result['seconds']:.1f} s)")
    print(result["counts"].to_string())
    if result["failed"]:
        reasons = Counter(reason.split(" (")[0] for _, reason in result["failed"])
        print(f"left out: {len(result['failed'])} (" + "; ".join(
            f"{k}: {v}" for k, v in reasons.most_common()) + f"; see {result['log']})")
    return result


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)

    def work():
        index = ecg_khan.printouts_index(args.raw, class_names=args.classes)
        if args.split == "none":  # an external set: all of it is test data
            index = index.assign(split="test")
        else:
            index = assign_split(index, seed=args.seed)
        if args.leads:
            _leads(index, args)
        else:
            if args.size is None:
                args.size = 320
            convert(index, args, channels=args.channels, check=check_sheet)

    return run(prog, args, work)


register_dataset("ecg_khan", main=main, build_parser=build_parser, reader=ecg_khan.printouts_index,
                 description="Khan et al. ECG printouts: whole sheets or --leads 13-lead volumes", module=__name__)

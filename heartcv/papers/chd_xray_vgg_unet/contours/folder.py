"""Outlines for a folder of images: marked rows from a CSV or from reference masks, traces
written beside the images (or elsewhere), masks rendered from the traces, Dice against
reference masks.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from heartcv.data.datasets import did_you_mean, require_dir, require_file
from heartcv.data.datasets.chd import IMAGE_EXTENSIONS, read_trace, trace_to_mask, write_trace
from heartcv.data.images import read_image, read_mask
from heartcv.files import atomic_write_image, atomic_write_text
from heartcv.papers.chd_xray_vgg_unet.contours.outline import (
    dice, extract_heart_outline, rows_from_mask,
)
from heartcv.papers.chd_xray_vgg_unet.contours.params import make_params
from heartcv.progress import progress_bar

__all__ = ["ROWS_COLUMNS", "SUBSETS", "list_images", "load_marked", "marked_images",
           "outline_folder", "read_rows_csv", "summarize_outlines", "write_rows_csv"]

ROWS_COLUMNS = ("image", "top_row", "bottom_row")
SUBSETS = ("all", "even", "odd")


def list_images(folder):
    """The image files directly in ``folder`` (extensions of ``chd.IMAGE_EXTENSIONS``), sorted."""
    return sorted(f for f in Path(folder).iterdir()
                  if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)


def read_rows_csv(path):
    """Read the marked rows: a CSV with columns ``image,top_row,bottom_row``.

    ``image`` is a file name or stem in the image folder; the rows are pixel rows of that
    image (the manually marked upper and lower heart boundaries).

    Returns:
        dict ``{image: (top_row, bottom_row)}`` in file order.

    Raises:
        FileNotFoundError: missing file. ValueError: naming the file: missing columns, an
            empty file, a row that is not an integer or not ``0 <= top_row < bottom_row``
            (with its line), a repeated image.
    """
    path = require_file(path, "rows")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ValueError(f"Rows file {str(path)!r} is empty; expected the columns "
                         f"{','.join(ROWS_COLUMNS)}.") from None
    missing = [c for c in ROWS_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"Rows file {str(path)!r} lacks the column(s) {missing}; expected "
                         f"{','.join(ROWS_COLUMNS)}. Received: columns={list(table.columns)}")
    if table.empty:
        raise ValueError(f"Rows file {str(path)!r} has no rows.")
    out = {}
    for line, rec in enumerate(table.to_dict("records"), start=2):
        name = rec["image"].strip()
        if not name:
            raise ValueError(f"Rows file {str(path)!r} line {line}: empty image name.")
        marks = []
        for col in ("top_row", "bottom_row"):
            try:
                marks.append(int(rec[col]))
            except ValueError:
                raise ValueError(f"Rows file {str(path)!r} line {line}: {col} is not an integer. "
                                 f"Received: {col}={rec[col]!r}") from None
        if marks[0] < 0 or marks[1] <= marks[0]:
            raise ValueError(f"Rows file {str(path)!r} line {line}: expected 0 <= top_row < "
                             f"bottom_row. Received: top_row={marks[0]}, bottom_row={marks[1]}")
        if name in out:
            raise ValueError(f"Rows file {str(path)!r} line {line}: image {name!r} is listed "
                             f"twice.")
        out[name] = tuple(marks)
    return out


def write_rows_csv(path, rows):
    """Write ``{image: (top_row, bottom_row)}`` as a rows CSV, atomically."""
    text = ",".join(ROWS_COLUMNS) + "\n"
    text += "".join(f"{name},{int(t)},{int(b)}\n" for name, (t, b) in rows.items())
    return atomic_write_text(path, text)


def _by_stem(folder, what):
    files = list_images(folder)
    out = {}
    for f in files:
        if f.stem in out:
            raise ValueError(f"Two {what} files share the name {f.stem!r} in {str(folder)!r}: "
                             f"{out[f.stem].name!r} and {f.name!r}")
        out[f.stem] = f
    return out


def _require_all(stems, table, folder, what):
    lacking = [s for s in stems if s not in table]
    if lacking:
        raise FileNotFoundError(f"{len(lacking)} image(s) have no {what} in {str(folder)!r} "
                                f"(matched by file stem), e.g. {lacking[:3]}")


def marked_images(images_dir, rows=None, *, masks_dir=None, reference_masks=None,
                  subset="all"):
    """The images to outline, with where their rows and reference masks come from.

    Args: as :func:`outline_folder`.

    Returns:
        DataFrame with ``image_id, path``, ``top_row, bottom_row`` (from ``rows``; NaN when
        they come from ``masks_dir``), ``rows_mask`` and ``reference_path`` (paths or None),
        sorted by ``image_id`` and cut to ``subset``.

    Raises:
        FileNotFoundError, ValueError: as :func:`outline_folder`.
    """
    folder = require_dir(images_dir, "images_dir")
    if (rows is None) == (masks_dir is None):
        raise ValueError(f"Give exactly one of `rows` (the marked rows) and `masks_dir` (rows "
                         f"from reference masks). Received: rows={rows!r}, masks_dir={masks_dir!r}")
    if subset not in SUBSETS:
        raise ValueError(f"Unknown subset {subset!r}.{did_you_mean(subset, SUBSETS)} Expected one "
                         f"of {SUBSETS}. Received: subset={subset!r}")
    images = _by_stem(folder, "image")
    if not images:
        raise FileNotFoundError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) in {str(folder)!r}. "
                                f"Received: images_dir={str(images_dir)!r}")
    marks, mask_files = {}, {}
    if rows is not None:
        marks_in = rows if isinstance(rows, dict) else read_rows_csv(rows)
        unknown = []
        for name, tb in marks_in.items():
            stem = Path(str(name)).stem if Path(str(name)).suffix.lower() in IMAGE_EXTENSIONS \
                else str(name)
            if stem in images:
                marks[stem] = tb
            else:
                unknown.append(str(name))
        if unknown:
            where = "`rows`" if isinstance(rows, dict) else repr(str(rows))
            raise FileNotFoundError(f"{len(unknown)} image(s) named in {where} are not in "
                                    f"{str(folder)!r}, e.g. {unknown[:3]}")
        stems = sorted(marks)
    else:
        mdir = require_dir(masks_dir, "masks_dir")
        mask_files = _by_stem(mdir, "mask")
        stems = sorted(images)
        _require_all(stems, mask_files, mdir, "mask")
    refs = {}
    if reference_masks is not None:
        rdir = require_dir(reference_masks, "reference_masks")
        refs = _by_stem(rdir, "reference mask")
        _require_all(stems, refs, rdir, "reference mask")
    stems = stems if subset == "all" else stems[(0 if subset == "even" else 1)::2]
    return pd.DataFrame({
        "image_id": stems,
        "path": [str(images[s]) for s in stems],
        "top_row": [marks[s][0] if s in marks else np.nan for s in stems],
        "bottom_row": [marks[s][1] if s in marks else np.nan for s in stems],
        "rows_mask": [str(mask_files[s]) if s in mask_files else None for s in stems],
        "reference_path": [str(refs[s]) if s in refs else None for s in stems],
    })


def load_marked(rec):
    """Read one :func:`marked_images` row: ``(image, top_row, bottom_row, reference or None)``.

    Raises:
        ValueError: an unreadable image or mask, a mask of another size, an empty mask.
    """
    img = read_image(rec["path"])
    masks = {}
    for key in ("rows_mask", "reference_path"):
        if rec[key] is not None:
            m = read_mask(rec[key])
            if m.shape != img.shape:
                raise ValueError(f"mask {Path(rec[key]).name!r} is {m.shape[1]}x{m.shape[0]}, "
                                 f"its image {img.shape[1]}x{img.shape[0]} (WxH)")
            masks[key] = m
    if "rows_mask" in masks:
        t, b = rows_from_mask(masks["rows_mask"])
    else:
        t, b = int(rec["top_row"]), int(rec["bottom_row"])
    return img, t, b, masks.get("reference_path")


def outline_folder(images_dir, rows=None, *, masks_dir=None, traces_dir=None, masks_out=None,
                   reference_masks=None, params=None, overwrite=False, subset="all",
                   progress=False):
    """Outline the heart in every marked image of a folder and write ``<stem>.txt`` traces.

    Args:
        images_dir: folder of images (not searched recursively).
        rows: the marked rows: a rows CSV path (:func:`read_rows_csv`) or a dict
            ``{image name or stem: (top_row, bottom_row)}``; only those images are done.
        masks_dir: instead of ``rows``, take each image's rows from its reference mask
            ``masks_dir/<stem>.*`` (first and last heart rows: the measurement protocol).
        traces_dir: where traces go (default: beside the images), written atomically with
            :func:`heartcv.data.datasets.chd.write_trace`.
        masks_out: if given, each trace is read back and rendered with ``trace_to_mask``
            into ``masks_out/<stem>.png`` (0/255).
        reference_masks: if given, a folder of reference masks (``<stem>.*``); each trace's
            mask is compared with its reference (``dice`` column).
        params: :class:`OutlineParams` or a dict of its fields.
        overwrite: redo images whose trace exists (default: keep it, status ``"exists"``).
        subset: ``"all"``, or ``"even"``/``"odd"``: every other image in sorted order (to
            tune on one half and measure on the other).
        progress: tqdm progress bar.

    Returns:
        DataFrame with ``image_id, path, top_row, bottom_row, trace_path, status`` (written,
        exists, failed), ``error`` and ``dice`` (NaN without references), one row per image.

    Raises:
        FileNotFoundError: a missing folder, no images, images named in ``rows`` that are not
            in the folder, or images without a mask in ``masks_dir``/``reference_masks``.
        ValueError: a bad rows file, both or neither of ``rows`` and ``masks_dir``, a bad
            ``subset`` or parameter. Per-image failures (an unreadable image, no heart found)
            do not raise: they are rows with status ``"failed"`` and the message.
    """
    p = make_params(params)
    plan = marked_images(images_dir, rows, masks_dir=masks_dir,
                         reference_masks=reference_masks, subset=subset)
    tdir = Path(images_dir) if traces_dir is None else Path(traces_dir)
    tdir.mkdir(parents=True, exist_ok=True)
    if masks_out is not None:
        Path(masks_out).mkdir(parents=True, exist_ok=True)
    records = []
    for rec in progress_bar(plan.to_dict("records"), desc="outlines", unit="img",
                            disable=not progress):
        stem, path = rec["image_id"], Path(rec["path"])
        trace = tdir / f"{stem}.txt"
        out = {"image_id": stem, "path": str(path), "top_row": np.nan, "bottom_row": np.nan,
               "trace_path": str(trace), "status": "failed", "error": "", "dice": np.nan}
        try:
            img, t, b, ref = load_marked(rec)
            out["top_row"], out["bottom_row"] = t, b
            if trace.is_file() and not overwrite:
                out["status"] = "exists"
            else:
                write_trace(trace, extract_heart_outline(img, t, b, p))
                out["status"] = "written"
            mask = trace_to_mask(read_trace(trace, img.shape), img.shape)
            if masks_out is not None:
                atomic_write_image(Path(masks_out) / f"{stem}.png", mask * 255)
            if ref is not None:
                out["dice"] = dice(mask, ref)
        except ValueError as e:
            out["status"], out["error"] = "failed", f"{path.name}: {e}"
        records.append(out)
    df = pd.DataFrame(records, columns=["image_id", "path", "top_row", "bottom_row",
                                        "trace_path", "status", "error", "dice"])
    df.attrs["params"] = dataclasses.asdict(p)
    return df


def summarize_outlines(df):
    """One line of counts and, where Dice was measured, Dice mean/sd/median/min."""
    counts = df["status"].value_counts()
    text = (f"{len(df)} image(s): {int(counts.get('written', 0))} trace(s) written, "
            f"{int(counts.get('exists', 0))} kept (exist), {int(counts.get('failed', 0))} failed")
    d = df["dice"].to_numpy(dtype=np.float64)
    if np.isfinite(d).any():
        scored = np.where(df["status"] == "failed", 0.0, d)
        ok = d[np.isfinite(d)]
        text += (f"; Dice vs reference over {len(ok)} outlined: mean {ok.mean():.4f}, "
                 f"sd {ok.std():.4f}, median {np.median(ok):.4f}, min {ok.min():.4f}")
        if len(ok) < len(df):
            text += f" (failures counted as 0: mean {scored.mean():.4f} over {len(df)})"
    return text

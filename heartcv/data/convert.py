"""Convert a dataset index (one row per image) into an HDF5 bundle, in parallel and resumably.

The dataset readers (``heartcv.data.datasets``) return a pandas DataFrame *index*:

* ``image_id`` (str, unique), ``path`` (image file), ``patient_id`` (str);
* optional ``split`` (``"train"``/``"val"``/``"test"``, NaN = unassigned);
* optional ``mask_path`` (one structure) or several ``mask_path:<name>`` columns;
* one float column per class name (0/1, NaN = unknown);
* optional ``orig_w``, ``orig_h``: the image size the index (and its boxes) refer to;
* any other columns (age, view, CTR, ...) become ``meta/<name>`` columns of the bundle;
* ``index.attrs``: ``class_names`` (list), ``task``, ``source``, optionally ``boxes`` (a
  DataFrame with ``image_id, label, x, y, w, h`` in the ``orig_w`` x ``orig_h`` pixel frame,
  or in the stored image's frame when those are unknown).

:func:`convert_index` reads every image (and mask) with :func:`heartcv.data.images.load_image`
in worker processes, resizes it to ``size`` x ``size`` (aspect not kept), and streams the
result into a :class:`heartcv.data.h5.BundleWriter`. Boxes are scaled to the new size.

Bad inputs never crash the run and are never dropped silently: RGBA, colour and 16-bit images
are converted to 8-bit grey (counted in ``converted_notes``); images whose stored size
disagrees with ``orig_w``/``orig_h``, or that are not square, are converted and logged as
such; missing, empty, corrupt or unsupported files are skipped with a reason, and so are
images smaller than 8×8 pixels, multi-page TIFFs, images with no finite pixel, fully
transparent images (:mod:`heartcv.data.images`) and images the caller's ``check`` refuses
(e.g. a chest radiograph among ECG sheets). Everything goes to ``<out>.log.csv`` beside the
bundle (``image_id, path, status, note``).

Output checks come first: ``out`` must not be a folder, nor exist without ``overwrite``,
and its folder must be writable (or creatable; it is created). heartcv's own temporary
files of ``out`` left by an earlier, killed run (``<out>.tmp-<pid>``, ``.<stem>.*.tmp.*``
of the bundle, its log and state; :func:`heartcv.files.sweep_orphans`) are removed at the
start. An ``OSError`` while writing (disk full, ...) removes the partial files and raises
:class:`heartcv.files.OutputPathError` naming the bundle.

Resuming: rows are processed in chunks of ``chunk`` images, in index order. After each chunk
the partial bundle ``<out>.partial`` is flushed, that chunk's log lines are appended to
``<out>.partial.log.jsonl`` and ``<out>.partial.json`` records the chunks done. A re-run with
the same index and settings continues after the last recorded chunk (rows written past it
are truncated first), and yields the same bundle as an uninterrupted run. A different index
or settings start over. Nothing appears under ``<out>`` until the bundle is complete.

Workers use the ``fork`` start method where the platform has it (Linux), so they do not
re-import heartcv (and with it TensorFlow); elsewhere the platform default.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from heartcv.data.h5 import (
    COMPRESSIONS,
    SCHEMA_VERSION,
    TASKS,
    BundleWriter,
    _as_str_array,
    _check_choice,
    _check_splits,
    _did_you_mean,
    check_labels,
)
from heartcv.data.images import (
    DICOM_EXTENSIONS,
    DICOM_HINT,
    ImageReadError,
    check_min_size,
    load_image,
    read_mask,
    resize_image,
    resize_mask,
)
from heartcv.data.splits import assert_disjoint
from heartcv.files import OutputPathError, atomic_write_text, check_output_file, sweep_orphans
from heartcv.progress import progress_bar

__all__ = ["ConversionResult", "convert_index", "REQUIRED_COLUMNS"]

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("image_id", "path", "patient_id")
_RESERVED = {"image_id", "path", "patient_id", "split", "mask_path"}
_STATE_VERSION = 1
NOTE_SIZE = "size differs from index"
NOTE_NONSQUARE = "non-square (stretched)"
NOTE_MASK_RES = "mask resolution differs from image"


@dataclass
class ConversionResult:
    """What :func:`convert_index` did.

    Attributes:
        out_path: the bundle written.
        log_path: the CSV log beside it (skips and conversion notes).
        n_total: rows in the index.
        n_written: images in the bundle.
        skipped: ``(image_id, path, reason)`` per skipped row.
        converted_notes: note -> count of images converted with it (``"RGBA→grey": 2``).
        notes: ``(image_id, path, note, detail)`` per converted image and note.
        counts: per split (rows) the images, patients and per-class positives written.
        elapsed_s: wall time of this call; ``images_per_s`` = images processed by this call
            (written or skipped) / ``elapsed_s``.
        resumed_rows: index rows already done by an earlier, interrupted run (0 if fresh).
        boxes_written, boxes_dropped: box table rows kept / dropped (image skipped or unknown).
    """

    out_path: Path
    log_path: Path
    n_total: int
    n_written: int
    skipped: list
    converted_notes: dict
    notes: list
    counts: pd.DataFrame
    elapsed_s: float
    images_per_s: float
    resumed_rows: int = 0
    boxes_written: int = 0
    boxes_dropped: int = 0

    @property
    def n_skipped(self):
        return len(self.skipped)

    def summary(self):
        """A small text table: images, patients and class counts per split, then skips/notes."""
        lines = [f"{self.out_path}: {self.n_written} of {self.n_total} images written"]
        lines.append(self.counts.to_string())
        if self.skipped:
            reasons = Counter(_reason_key(r) for _, _, r in self.skipped)
            lines.append(
                f"skipped: {self.n_skipped} ("
                + ", ".join(f"{k}: {v}" for k, v in reasons.most_common())
                + f"; see {self.log_path.name})"
            )
        else:
            lines.append("skipped: 0")
        if self.converted_notes:
            lines.append(
                "converted: "
                + ", ".join(f"{k}: {v}" for k, v in sorted(self.converted_notes.items()))
            )
        if self.boxes_written or self.boxes_dropped:
            lines.append(f"boxes: {self.boxes_written} written, {self.boxes_dropped} dropped")
        if self.resumed_rows:
            lines.append(f"resumed after {self.resumed_rows} rows done by an earlier run")
        lines.append(f"{self.images_per_s:.1f} images/s ({self.elapsed_s:.1f} s)")
        return "\n".join(lines)


def _reason_key(reason):
    """The reason's kind, without file-specific details (for the summary)."""
    for sep in (" (", ":", ";"):
        reason = reason.split(sep)[0]
    return reason


# --------------------------------------------------------------------------------------------
# index preparation


@dataclass
class _Prepared:
    image_id: np.ndarray
    path: np.ndarray
    patient_id: np.ndarray
    split: np.ndarray
    labels: np.ndarray | None
    class_names: list
    task: str
    source: str
    mask_cols: list  # [(name, column)], name None for a single ``mask_path``
    mask_names: list | None
    orig_wh: np.ndarray | None  # (N, 2) float, NaN unknown
    meta: dict
    boxes: pd.DataFrame | None
    negative_class: str | None = None  # binary: name of the negative class, kept in the bundle


def _prepare(index, meta_columns):
    if not isinstance(index, pd.DataFrame):
        raise TypeError("Expected `index` to be a pandas DataFrame. Received: "
                        f"{type(index).__name__}")
    if len(index) == 0:
        raise ValueError("Expected a non-empty `index`. Received: 0 rows")
    cols = list(index.columns)
    for c in REQUIRED_COLUMNS:
        if c not in cols:
            raise ValueError(
                f"The index lacks the required column {c!r}.{_did_you_mean(c, cols)} Received: "
                f"columns={cols}"
            )
    attrs = index.attrs
    for key in ("class_names", "task", "source"):
        if key not in attrs:
            raise ValueError(
                f"Expected index.attrs[{key!r}] (set by the dataset reader). Received: attrs "
                f"keys={sorted(attrs)}"
            )
    task = attrs["task"]
    _check_choice("index.attrs['task']", task, TASKS)
    class_names = [str(c) for c in attrs["class_names"]]
    n = len(index)
    image_id = _as_str_array(index["image_id"], "image_id", n, allow_empty=False)
    dup = pd.Series(image_id).duplicated()
    if dup.any():
        raise ValueError(
            f"Expected unique image_id values in the index; {int(dup.sum())} duplicates. "
            f"Received: image_id={image_id[dup.to_numpy()][0]!r}"
        )
    patient_id = _as_str_array(index["patient_id"], "patient_id", n, allow_empty=False)
    path = _as_str_array(index["path"], "path", n)
    split = _as_str_array(index["split"], "split", n) if "split" in cols else np.full(n, "", object)
    _check_splits(split)
    assert_disjoint(patient_id, split)

    missing = [c for c in class_names if c not in cols]
    if task != "segmentation" and missing:
        raise ValueError(
            f"The index lacks label columns {missing} named in attrs['class_names']."
            f"{_did_you_mean(missing[0], cols)} Received: columns={cols}"
        )
    labels = None
    if class_names and not missing:
        try:
            labels = check_labels(index[class_names].to_numpy(dtype=np.float32), task, class_names)
        except (TypeError, ValueError) as e:
            raise ValueError(f"Invalid labels in the index: {e}") from None

    named = [c for c in cols if isinstance(c, str) and c.startswith("mask_path:")]
    if named and "mask_path" in cols:
        raise ValueError(
            f"Use either one `mask_path` column or several `mask_path:<name>` columns, not both. "
            f"Received: columns={cols}"
        )
    if named:
        mask_cols = [(c.split(":", 1)[1], c) for c in named]
        mask_names = [m for m, _ in mask_cols]
    elif "mask_path" in cols:
        mask_cols, mask_names = [(None, "mask_path")], None
    else:
        mask_cols, mask_names = [], None
    if task == "segmentation" and not mask_cols:
        raise ValueError(
            "task='segmentation' needs a `mask_path` or `mask_path:<name>` column. Received: "
            f"columns={cols}"
        )

    orig_wh = None
    if "orig_w" in cols and "orig_h" in cols:
        orig = index[["orig_w", "orig_h"]].apply(pd.to_numeric, errors="coerce")
        orig_wh = orig.to_numpy(np.float64)

    used = _RESERVED | set(class_names) | set(named)
    if meta_columns is None:
        meta_names = [c for c in cols if c not in used]
    else:
        meta_names = list(meta_columns)
        for c in meta_names:
            if c not in cols:
                raise ValueError(f"Unknown meta column {c!r}.{_did_you_mean(c, cols)} Received: "
                                 f"meta_columns={meta_names}")
    meta = {}
    for c in meta_names:
        s = index[c]
        if pd.api.types.is_bool_dtype(s):
            meta[str(c)] = s.to_numpy(np.int8)
        elif pd.api.types.is_numeric_dtype(s):
            meta[str(c)] = s.to_numpy()
        else:
            meta[str(c)] = _as_str_array(s.to_numpy(object), f"index[{c!r}]", n)

    boxes = attrs.get("boxes")
    if boxes is not None:
        boxes = pd.DataFrame(boxes)
        need = ["image_id", "label", "x", "y", "w", "h"]
        lack = [c for c in need if c not in boxes.columns]
        if lack:
            raise ValueError(
                f"index.attrs['boxes'] lacks columns {lack}. Received: "
                f"columns={list(boxes.columns)}"
            )
    return _Prepared(
        image_id, path, patient_id, split, labels, class_names, task, str(attrs["source"]),
        mask_cols, mask_names, orig_wh, meta, boxes,
        attrs.get("negative_class") if task == "binary" else None,
    )


def _fingerprint(p, index, params):
    h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    columns = {"image_id": p.image_id, "path": p.path, "patient_id": p.patient_id, "split": p.split}
    for _, c in p.mask_cols:
        columns[c] = index[c].to_numpy(object)
    if p.labels is not None:
        columns["labels"] = p.labels.ravel()
    if p.orig_wh is not None:
        columns["orig"] = p.orig_wh.ravel()
    for k, v in p.meta.items():
        columns[f"meta:{k}"] = v
    for name in sorted(columns):
        arr = np.asarray(columns[name])
        h.update(name.encode())
        h.update(pd.util.hash_array(arr.astype(object) if arr.dtype == object else arr).tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# the per-image work (runs in worker processes)


def _init_worker():
    cv2.setNumThreads(1)  # one process per core already


def _ping():
    return os.getpid()


def _start_pool(workers, start_method):
    """Start the worker processes now (before any HDF5 file is opened).

    With ``fork``, OpenCV's thread count is set to 1 in this process only while forking:
    the children inherit it, and calling ``cv2.setNumThreads`` inside a forked child can
    hang on the parent's (absent) thread pool. The parent's setting is restored afterwards.
    """
    method = start_method or ("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    ctx = multiprocessing.get_context(method)
    forked = ctx.get_start_method() == "fork"
    threads = cv2.getNumThreads()
    if forked:
        cv2.setNumThreads(1)
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=None if forked else _init_worker
    )
    try:
        pool.submit(_ping).result()  # fork/spawn every worker now
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        if forked:
            cv2.setNumThreads(threads)
    return pool


def _aspect_close(a_hw, b_hw, tol=0.01):
    return abs(a_hw[0] / a_hw[1] - b_hw[0] / b_hw[1]) <= tol * (a_hw[0] / a_hw[1])


def _load_item(item):
    """Read, convert and resize one row. Never raises for a bad file (only for ImportError)."""
    pos, path, mask_items, size, channels, check = item

    def skip(reason):
        return (pos, None, None, (), reason, None)

    if not path:
        return skip("no image path in the index")
    try:
        img, info = load_image(path, grey=channels == 1)
        check_min_size(img, path)
        if check is not None:
            try:
                check(img, path)
            except ValueError as e:
                return skip(" ".join(str(e).split()))
        out = resize_image(img, size)
        if out.ndim == 2:
            out = out[..., None]
        notes = list(info.conversions)
        masks = None
        if mask_items:
            resized = []
            for name, mpath in mask_items:
                label = "mask" if name is None else f"mask {name!r}"
                if not mpath:
                    return skip(f"no {label} path in the index")
                try:
                    m = read_mask(mpath)
                except FileNotFoundError:
                    return skip(f"{label} not found: {mpath}")
                except ImageReadError as e:
                    return skip(f"{label} unreadable: {e.reason}")
                if m.shape != img.shape[:2]:
                    if not _aspect_close(m.shape, img.shape[:2]):
                        return skip(
                            f"{label} size {m.shape[1]}×{m.shape[0]} (w×h) does not match "
                            f"the image {img.shape[1]}×{img.shape[0]}"
                        )
                    notes.append(NOTE_MASK_RES)
                resized.append(resize_mask(m, size))
            masks = resized[0] if mask_items[0][0] is None else np.stack(resized, axis=-1)
        return (pos, out, masks, tuple(dict.fromkeys(notes)), None, (info.height, info.width))
    except FileNotFoundError:
        return skip("file not found")
    except ImageReadError as e:
        return skip(e.reason)
    except ImportError:
        raise
    except Exception as e:  # noqa: BLE001 - a bad file must be logged, not crash the run
        return skip(f"{type(e).__name__}: {' '.join(str(e).split())}")


# --------------------------------------------------------------------------------------------
# checkpoint files


def _atomic_write_text(path, text):
    atomic_write_text(path, text, fsync=True)


def _load_state(state_path, log_path, fingerprint):
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, []
    if state.get("version") != _STATE_VERSION or state.get("fingerprint") != fingerprint:
        logger.warning("%s belongs to a different index or settings; starting over", state_path)
        return None, []
    by_chunk = {}
    if log_path.exists():
        for line in log_path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:  # a line cut by the interruption
                continue
            if entry.get("chunk", 1 << 60) < state["chunks_done"]:
                by_chunk[entry["chunk"]] = entry
    entries = [by_chunk[k] for k in sorted(by_chunk)]
    if len(entries) != state["chunks_done"]:
        logger.warning("%s is incomplete; starting over", log_path)
        return None, []
    return state, entries


def _save_progress(state_path, log_fh, entry, state):
    """Record one finished chunk (its log line first, then the state that counts it)."""
    log_fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    log_fh.flush()
    os.fsync(log_fh.fileno())
    _atomic_write_text(state_path, json.dumps(state))


def _write_rows(writer, p, results):
    """Append the successfully read rows of one chunk to the bundle."""
    ok = [r for r in results if r[1] is not None]
    if not ok:
        return
    rows = np.asarray([r[0] for r in ok])
    images = np.stack([r[1] for r in ok])
    masks = None if not p.mask_cols else np.stack([r[2] for r in ok])
    meta = {k: v[rows] for k, v in p.meta.items()}
    meta["src_height"] = np.asarray([r[5][0] for r in ok], dtype=np.int32)
    meta["src_width"] = np.asarray([r[5][1] for r in ok], dtype=np.int32)
    writer.append(
        images,
        patient_id=p.patient_id[rows],
        image_id=p.image_id[rows],
        split=p.split[rows],
        labels=None if p.labels is None else p.labels[rows],
        masks=masks,
        meta=meta,
    )


# --------------------------------------------------------------------------------------------
# the conversion


def _row_notes(p, r, size):
    """(note, detail) pairs for one converted row, including size checks against the index."""
    notes = [(c, c) for c in r[3]]
    h, w = r[5]
    if p.orig_wh is not None:
        ow, oh = p.orig_wh[r[0]]
        if np.isfinite(ow) and np.isfinite(oh) and (int(ow), int(oh)) != (w, h):
            notes.append((NOTE_SIZE, f"stored {w}×{h} (w×h), index orig_w×orig_h "
                                     f"{int(ow)}×{int(oh)}"))
    if h != w:
        notes.append((NOTE_NONSQUARE, f"{w}×{h} (w×h) stretched to {size}×{size}"))
    return notes


def _scaled_boxes(p, boxes, kept_ids, src_hw, size):
    row_of = {v: i for i, v in enumerate(kept_ids)}
    pos_of = {v: i for i, v in enumerate(p.image_id.tolist())}
    ids = boxes["image_id"].astype(str)
    keep = ids.map(lambda v: v in row_of).to_numpy(bool)
    b = boxes.loc[keep].copy()
    ids = ids[keep]
    rows = ids.map(row_of).to_numpy(np.int64)
    frame_w = src_hw[rows, 1].astype(np.float64)
    frame_h = src_hw[rows, 0].astype(np.float64)
    if p.orig_wh is not None:
        pos = ids.map(pos_of).to_numpy(np.int64)
        ow, oh = p.orig_wh[pos, 0], p.orig_wh[pos, 1]
        known = np.isfinite(ow) & np.isfinite(oh) & (ow > 0) & (oh > 0)
        frame_w = np.where(known, ow, frame_w)
        frame_h = np.where(known, oh, frame_h)
    sx, sy = size / frame_w, size / frame_h
    out = pd.DataFrame({
        "image_index": rows,
        "label": b["label"].astype(str).to_numpy(),
        "x": b["x"].to_numpy(np.float64) * sx,
        "y": b["y"].to_numpy(np.float64) * sy,
        "w": b["w"].to_numpy(np.float64) * sx,
        "h": b["h"].to_numpy(np.float64) * sy,
    })
    return out, int((~keep).sum())


def _counts_table(p, written):
    split = np.where(p.split[written] == "", "(unassigned)", p.split[written])
    pids = p.patient_id[written]
    labels = None if p.labels is None else p.labels[written]
    order = [s for s in ("train", "val", "test", "(unassigned)") if s in set(split.tolist())]
    rows = {}
    for name in order + ["all"]:
        sel = np.ones(len(split), bool) if name == "all" else split == name
        row = {"images": int(sel.sum()), "patients": int(len(np.unique(pids[sel])))}
        if labels is not None:
            for j, c in enumerate(p.class_names):
                row[c] = int((labels[sel, j] == 1).sum())
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _write_log_csv(path, skipped, notes):
    rows = [(i, pth, "skipped", r) for i, pth, r in skipped]
    rows += [(i, pth, "converted", f"{k}: {d}" if d != k else k) for i, pth, k, d in notes]
    df = pd.DataFrame(rows, columns=["image_id", "path", "status", "note"])
    _atomic_write_text(path, df.to_csv(index=False))


def _open_writer(out_path, partial, p, compression, n, state, entries):
    """The streaming writer on ``partial``, resumed at ``state['rows_written']`` when possible."""

    def new_writer(resume):
        return BundleWriter(
            out_path, task=p.task, class_names=p.class_names, source=p.source,
            mask_names=p.mask_names, compression=compression, attrs={"n_source_rows": n,
                   **({"negative_class": p.negative_class} if p.negative_class else {})},
            temp_path=partial, resume=resume, keep_partial=True,
        )

    def restart(why):
        logger.warning("cannot resume from %s (%s); starting over", partial, why)
        partial.unlink(missing_ok=True)
        return new_writer(False), {**state, "chunks_done": 0, "rows_written": 0}, []

    if state["chunks_done"] == 0:
        return new_writer(False), state, entries
    try:
        writer = new_writer(True)
    except OSError as e:  # an unreadable partial file
        return restart(e)
    if writer.n_written < state["rows_written"]:
        writer.abort()
        return restart(f"it holds {writer.n_written} rows, {state['rows_written']} recorded")
    writer.truncate(state["rows_written"])
    return writer, state, entries


def _run_chunks(p, index, chunks, first, writer, state, entries, pool, size, channels,
                state_path, jsonl_path, progress, out_path, resumed_rows, check=None):
    """Read, write and checkpoint chunks ``first ..``; on any exception keep the partial file."""

    def items(ci):
        s, e = chunks[ci]
        out = []
        for pos in range(s, e):
            masks = tuple(
                (name, "" if pd.isna(index[col].iat[pos]) else str(index[col].iat[pos]))
                for name, col in p.mask_cols
            )
            out.append((pos, p.path[pos], masks, size, channels, check))
        return out

    pending = {}

    def submit(ci):
        if pool is not None and ci < len(chunks) and ci not in pending:
            pending[ci] = [pool.submit(_load_item, it) for it in items(ci)]

    bar = progress_bar(total=len(p.image_id), initial=resumed_rows, unit="img",
                       disable=not progress, desc=f"convert {out_path.name}", dynamic_ncols=True)
    try:
        with open(jsonl_path, "a", encoding="utf-8") as log_fh:
            submit(first)
            for ci in range(first, len(chunks)):
                submit(ci + 1)  # keep the workers busy while this chunk is written
                if pool is None:
                    results = [_load_item(it) for it in items(ci)]
                else:
                    results = [f.result() for f in pending.pop(ci)]
                entry = {"chunk": ci, "skipped": [], "notes": []}
                for r in results:
                    pos = r[0]
                    if r[1] is None:
                        entry["skipped"].append([p.image_id[pos], p.path[pos], r[4]])
                        logger.warning("skipped %s (%s): %s", p.image_id[pos], p.path[pos], r[4])
                    else:
                        for key, detail in _row_notes(p, r, size):
                            entry["notes"].append([p.image_id[pos], p.path[pos], key, detail])
                _write_rows(writer, p, results)
                writer.flush()
                state = {**state, "chunks_done": ci + 1, "rows_written": writer.n_written}
                _save_progress(state_path, log_fh, entry, state)
                entries.append(entry)
                bar.update(chunks[ci][1] - chunks[ci][0])
    except BaseException:
        for futures in pending.values():
            for f in futures:
                f.cancel()
        writer.abort()  # keeps the partial file for a later resume
        raise
    finally:
        bar.close()


def _check_int(name, value, lo):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"Expected `{name}` to be an int >= {lo}. Received: {name}={value!r}")


def convert_index(
    index,
    out_path,
    *,
    size=320,
    channels=1,
    workers=None,
    resume=True,
    chunk=256,
    progress=True,
    compression="gzip",
    meta_columns=None,
    overwrite=False,
    start_method=None,
    check=None,
) -> ConversionResult:
    """Convert a dataset index into a bundle (see the module docstring).

    Args:
        index: DataFrame as described in the module docstring.
        out_path: the ``.h5`` bundle to write (its folder is created).
        size: output side in pixels (images become ``size`` x ``size``).
        channels: 1 (grey) or 3 (RGB).
        workers: worker processes (default ``os.cpu_count()``); ``1`` reads in this process.
        resume: continue an interrupted conversion of the same index and settings
            (``False``: discard any partial files and start over).
        chunk: rows per checkpoint.
        progress: show a tqdm bar and print the summary table at the end.
        compression: ``"gzip"``, ``"lzf"`` or ``None`` for images and masks.
        meta_columns: index columns to keep as ``meta/<name>`` (default: every column that
            is not an id, path, split, mask or label column).
        overwrite: replace an existing bundle at ``out_path`` (default: refuse).
        start_method: multiprocessing start method (default ``"fork"`` where available).
        check: optional ``check(image, path)`` run on each image as read (before resizing):
            a ``ValueError`` skips the image with its message as the reason. A module-level
            function (it runs in the worker processes).

    Returns:
        A :class:`ConversionResult`.

    Raises:
        ValueError / TypeError: a malformed index or argument (before any work starts).
        heartcv.data.splits.LeakageError: the index's split puts a patient in two splits.
        FileExistsError: ``out_path`` exists and ``overwrite`` is false.
        heartcv.files.OutputPathError: ``out_path`` is a folder, its folder is not
            writable, or a write failed (disk full); before any image is read for the
            first two.
        ImportError: the index has DICOM files and pydicom is not installed.
    """
    t0 = time.perf_counter()
    started = time.time()
    _check_int("size", size, 1)
    _check_int("chunk", chunk, 1)
    if channels not in (1, 3):
        raise ValueError(f"Expected `channels` to be 1 or 3. Received: channels={channels!r}")
    if workers is not None:
        _check_int("workers", workers, 1)
    _check_choice("compression", compression, COMPRESSIONS)
    workers = workers or os.cpu_count() or 1
    p = _prepare(index, meta_columns)
    n = len(p.image_id)
    if any(Path(x).suffix.lower() in DICOM_EXTENSIONS for x in p.path):
        try:
            import pydicom  # noqa: F401
        except ImportError:
            raise ImportError(
                f"The index lists DICOM files, which need pydicom: {DICOM_HINT}"
            ) from None

    out_path = check_output_file(out_path, overwrite=overwrite, what="Bundle")
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputPathError(out_path.parent, e.strerror or str(e), e.errno) from None
    partial = out_path.with_name(out_path.name + ".partial")
    state_path = out_path.with_name(out_path.name + ".partial.json")
    jsonl_path = out_path.with_name(out_path.name + ".partial.log.jsonl")
    log_csv = out_path.with_name(out_path.stem + ".log.csv")
    for f in sweep_orphans((out_path, state_path, jsonl_path, log_csv), older_than=started):
        logger.info("removed %s, left by an earlier run", f)

    params = {
        "size": size, "channels": channels, "chunk": chunk, "compression": compression,
        "task": p.task, "class_names": p.class_names, "source": p.source,
        "mask_names": p.mask_names, "schema": SCHEMA_VERSION, "state": _STATE_VERSION,
    }
    fingerprint = _fingerprint(p, index, params)
    state, entries = (None, [])
    if resume and partial.exists():
        state, entries = _load_state(state_path, jsonl_path, fingerprint)
    if state is None:
        for f in (partial, state_path, jsonl_path):
            f.unlink(missing_ok=True)
        state = {"version": _STATE_VERSION, "fingerprint": fingerprint, "chunks_done": 0,
                 "rows_written": 0}

    chunks = [(s, min(s + chunk, n)) for s in range(0, n, chunk)]
    pool = None
    if workers > 1 and state["chunks_done"] < len(chunks):
        pool = _start_pool(workers, start_method)
    writer = None
    try:
        writer, state, entries = _open_writer(out_path, partial, p, compression, n, state, entries)
        first = state["chunks_done"]
        resumed_rows = chunks[first - 1][1] if first else 0
        if first:
            logger.info("resuming %s after %d of %d chunks", out_path, first, len(chunks))
        # rewrite the log to the entries the state counts (drops lines of an unfinished chunk)
        _atomic_write_text(
            jsonl_path, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
        )
        _run_chunks(
            p, index, chunks, first, writer, state, entries, pool, size, channels,
            state_path, jsonl_path, progress, out_path, resumed_rows, check,
        )
        if pool is not None:
            pool.shutdown(wait=True)
            pool = None

        skipped = [tuple(s) for e in entries for s in e["skipped"]]
        notes = [tuple(x) for e in entries for x in e["notes"]]
        _write_log_csv(log_csv, skipped, notes)
        skipped_ids = {s[0] for s in skipped}
        written = np.asarray([i not in skipped_ids for i in p.image_id.tolist()])
        n_written = int(written.sum())
        if n_written == 0:
            writer.abort()
            for f in (partial, state_path, jsonl_path):
                f.unlink(missing_ok=True)
            raise ValueError(
                f"No image of the index could be converted ({len(skipped)} skipped); "
                f"see {log_csv}. First reason: {skipped[0][2]}"
            )
        if n_written != writer.n_written:  # only if the partial file was tampered with
            raise RuntimeError(
                f"{partial} holds {writer.n_written} rows, expected {n_written}; "
                "delete it and re-run"
            )
        boxes_written = boxes_dropped = 0
        if p.boxes is not None:
            src_hw = np.stack(
                [writer.read_column("meta/src_height"), writer.read_column("meta/src_width")],
                axis=1,
            )
            kept_ids = p.image_id[written].tolist()
            table, boxes_dropped = _scaled_boxes(p, p.boxes, kept_ids, src_hw, size)
            boxes_written = len(table)
            writer.set_boxes(table)
        writer.attrs["n_skipped"] = len(skipped)
        writer.close()
    except OSError as e:  # disk full, ...: the partial file may be unusable; free the space
        if writer is not None:
            writer.abort()
        for f in (partial, state_path, jsonl_path):
            f.unlink(missing_ok=True)
        if isinstance(e, OutputPathError):
            raise
        raise OutputPathError(out_path, e.strerror or str(e), e.errno) from e
    except BaseException:
        if writer is not None:
            writer.abort()  # keep_partial: the partial file stays for a later resume
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    for f in (state_path, jsonl_path):
        f.unlink(missing_ok=True)

    elapsed = time.perf_counter() - t0
    result = ConversionResult(
        out_path=out_path,
        log_path=log_csv,
        n_total=n,
        n_written=n_written,
        skipped=skipped,
        converted_notes=dict(sorted(Counter(x[2] for x in notes).items())),
        notes=notes,
        counts=_counts_table(p, written),
        elapsed_s=elapsed,
        images_per_s=(n - resumed_rows) / elapsed if elapsed > 0 else float("nan"),
        resumed_rows=resumed_rows,
        boxes_written=boxes_written,
        boxes_dropped=boxes_dropped,
    )
    if progress:
        print(result.summary())
    return result

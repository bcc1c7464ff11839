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
result into a :class:`heartcv.data.bundle.BundleWriter`. Boxes are scaled to the new size.

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

import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from heartcv.data.bundle import SCHEMA_VERSION, BundleWriter
from heartcv.data.bundle.checks import check_choice
from heartcv.data.bundle.schema import COMPRESSIONS
from heartcv.data.conversion_index import (
    REQUIRED_COLUMNS,
    index_fingerprint,
    prepare_index,
    scaled_boxes,
)
from heartcv.data.conversion_workers import NOTE_MASK_RES, load_item, start_pool
from heartcv.data.images import DICOM_EXTENSIONS, DICOM_HINT
from heartcv.files import OutputPathError, atomic_write_text, check_output_file, sweep_orphans
from heartcv.progress import progress_bar

__all__ = ["ConversionResult", "convert_index", "REQUIRED_COLUMNS", "NOTE_MASK_RES"]

logger = logging.getLogger(__name__)

_STATE_VERSION = 1
NOTE_SIZE = "size differs from index"
NOTE_NONSQUARE = "non-square (stretched)"


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
            pending[ci] = [pool.submit(load_item, it) for it in items(ci)]

    bar = progress_bar(total=len(p.image_id), initial=resumed_rows, unit="img",
                       disable=not progress, desc=f"convert {out_path.name}", dynamic_ncols=True)
    try:
        with open(jsonl_path, "a", encoding="utf-8") as log_fh:
            submit(first)
            for ci in range(first, len(chunks)):
                submit(ci + 1)  # keep the workers busy while this chunk is written
                if pool is None:
                    results = [load_item(it) for it in items(ci)]
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


def _check_arguments(size, chunk, channels, workers, compression):
    """Check the numbers and choices of ``convert_index``; returns the worker count to use."""
    _check_int("size", size, 1)
    _check_int("chunk", chunk, 1)
    if channels not in (1, 3):
        raise ValueError(f"Expected `channels` to be 1 or 3. Received: channels={channels!r}")
    if workers is not None:
        _check_int("workers", workers, 1)
    check_choice("compression", compression, COMPRESSIONS)
    return workers or os.cpu_count() or 1


def _start_workers(workers, start_method, state, chunks):
    """The worker pool, when there is more than one worker and work left (else ``None``)."""
    if workers > 1 and state["chunks_done"] < len(chunks):
        return start_pool(workers, start_method)
    return None


def _check_dicom_support(paths):
    """Refuse an index of DICOM files when pydicom is not installed (before any work)."""
    if any(Path(x).suffix.lower() in DICOM_EXTENSIONS for x in paths):
        try:
            import pydicom  # noqa: F401
        except ImportError:
            raise ImportError(
                f"The index lists DICOM files, which need pydicom: {DICOM_HINT}"
            ) from None


class _Paths(NamedTuple):
    """The bundle and the files beside it: the partial bundle, its state and log, the CSV log."""

    out: Path
    partial: Path
    state: Path
    jsonl: Path
    log_csv: Path

    @property
    def progress_files(self):
        return (self.partial, self.state, self.jsonl)


def _output_paths(out_path, overwrite, started):
    """Check ``out_path`` (creating its folder) and sweep what an earlier, killed run left."""
    out_path = check_output_file(out_path, overwrite=overwrite, what="Bundle")
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputPathError(out_path.parent, e.strerror or str(e), e.errno) from None
    paths = _Paths(
        out_path,
        out_path.with_name(out_path.name + ".partial"),
        out_path.with_name(out_path.name + ".partial.json"),
        out_path.with_name(out_path.name + ".partial.log.jsonl"),
        out_path.with_name(out_path.stem + ".log.csv"),
    )
    for f in sweep_orphans((out_path, paths.state, paths.jsonl, paths.log_csv),
                           older_than=started):
        logger.info("removed %s, left by an earlier run", f)
    return paths


def _remove(files):
    for f in files:
        f.unlink(missing_ok=True)


def _resume_state(resume, paths, fingerprint):
    """The recorded progress of an interrupted run of the same work, or a fresh state."""
    state, entries = (None, [])
    if resume and paths.partial.exists():
        state, entries = _load_state(paths.state, paths.jsonl, fingerprint)
    if state is None:
        _remove(paths.progress_files)
        state = {"version": _STATE_VERSION, "fingerprint": fingerprint, "chunks_done": 0,
                 "rows_written": 0}
    return state, entries


def _written_rows(p, writer, entries, paths):
    """``(skipped, notes, written)`` from the chunk entries; the CSV log is written first.

    Fails when no image could be converted (the partial files are removed) or when the
    partial bundle does not hold the rows the entries count."""
    skipped = [tuple(s) for e in entries for s in e["skipped"]]
    notes = [tuple(x) for e in entries for x in e["notes"]]
    _write_log_csv(paths.log_csv, skipped, notes)
    skipped_ids = {s[0] for s in skipped}
    written = np.asarray([i not in skipped_ids for i in p.image_id.tolist()])
    n_written = int(written.sum())
    if n_written == 0:
        writer.abort()
        _remove(paths.progress_files)
        raise ValueError(
            f"No image of the index could be converted ({len(skipped)} skipped); "
            f"see {paths.log_csv}. First reason: {skipped[0][2]}"
        )
    if n_written != writer.n_written:  # only if the partial file was tampered with
        raise RuntimeError(
            f"{paths.partial} holds {writer.n_written} rows, expected {n_written}; "
            "delete it and re-run"
        )
    return skipped, notes, written


def _attach_boxes(writer, p, written, size):
    """Scale the index's boxes to the bundle and hand them to ``writer``; (written, dropped)."""
    if p.boxes is None:
        return 0, 0
    src_hw = np.stack(
        [writer.read_column("meta/src_height"), writer.read_column("meta/src_width")],
        axis=1,
    )
    kept_ids = p.image_id[written].tolist()
    table, boxes_dropped = scaled_boxes(p, p.boxes, kept_ids, src_hw, size)
    writer.set_boxes(table)
    return len(table), boxes_dropped


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
    workers = _check_arguments(size, chunk, channels, workers, compression)
    p = prepare_index(index, meta_columns)
    n = len(p.image_id)
    _check_dicom_support(p.path)
    paths = _output_paths(out_path, overwrite, started)
    out_path = paths.out

    params = {
        "size": size, "channels": channels, "chunk": chunk, "compression": compression,
        "task": p.task, "class_names": p.class_names, "source": p.source,
        "mask_names": p.mask_names, "schema": SCHEMA_VERSION, "state": _STATE_VERSION,
    }
    state, entries = _resume_state(resume, paths, index_fingerprint(p, index, params))

    chunks = [(s, min(s + chunk, n)) for s in range(0, n, chunk)]
    pool = _start_workers(workers, start_method, state, chunks)
    writer = None
    try:
        writer, state, entries = _open_writer(out_path, paths.partial, p, compression, n, state,
                                              entries)
        first = state["chunks_done"]
        resumed_rows = chunks[first - 1][1] if first else 0
        if first:
            logger.info("resuming %s after %d of %d chunks", out_path, first, len(chunks))
        # rewrite the log to the entries the state counts (drops lines of an unfinished chunk)
        _atomic_write_text(
            paths.jsonl, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
        )
        _run_chunks(
            p, index, chunks, first, writer, state, entries, pool, size, channels,
            paths.state, paths.jsonl, progress, out_path, resumed_rows, check,
        )
        if pool is not None:
            pool.shutdown(wait=True)
            pool = None
        skipped, notes, written = _written_rows(p, writer, entries, paths)
        boxes_written, boxes_dropped = _attach_boxes(writer, p, written, size)
        writer.attrs["n_skipped"] = len(skipped)
        writer.close()
    except OSError as e:  # disk full, ...: the partial file may be unusable; free the space
        if writer is not None:
            writer.abort()
        _remove(paths.progress_files)
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
    _remove((paths.state, paths.jsonl))

    elapsed = time.perf_counter() - t0
    result = ConversionResult(
        out_path=out_path,
        log_path=paths.log_csv,
        n_total=n,
        n_written=int(written.sum()),
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

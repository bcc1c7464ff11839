"""What ``heartcv predict`` reads: files, folders, globs and a CSV of paths
(:func:`collect_inputs`), a CSV's ``view`` column, a bundle split, read ahead in threads."""

from __future__ import annotations

import csv
import glob
import re
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from heartcv.data.bundle import open_bundle
from heartcv.data.images import SUPPORTED_EXTENSIONS
from heartcv.predict.card import check_view


_GLOB_CHARS = "*?["
_OVERLAY_SUFFIX = ".overlay.png"  # heartcv's own outputs, never taken as inputs from a folder


def _is_image_name(path: Path) -> bool:
    return (path.suffix.lower() in SUPPORTED_EXTENSIONS and not path.name.startswith(".")
            and not path.name.endswith(_OVERLAY_SUFFIX))


def _folder_images(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(p for p in found if p.is_file() and _is_image_name(p))


def _csv_paths(csv_path) -> list[str]:
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"CSV file not found: {csv_path}")
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "path" not in reader.fieldnames:
            raise ValueError(f"Expected a `path` column in {csv_path}. "
                             f"Received: columns={reader.fieldnames or []}")
        rows = [(row.get("path") or "").strip() for row in reader]
    return [str(p if p.is_absolute() else csv_path.parent / p)
            for p in (Path(r) for r in rows if r)]


DUPLICATE = "duplicate"
CSV_FOLDER = "a folder, not an image file (a --csv row names one image)"


def collect_inputs(paths=(), *, recursive=False, csv=None):
    """The image files named by ``paths`` and ``csv``, in order, and each input not taken.

    Each of ``paths`` is a file (taken whatever its extension: reading it decides), a folder
    (its PNG/JPG/BMP/TIFF/DICOM files, sorted; with ``recursive`` its sub-folders too; hidden
    files and heartcv's own ``*.overlay.png`` are left out) or a glob pattern the shell did
    not expand (``**`` needs ``recursive``). ``csv`` is a CSV file with a ``path`` column,
    one image per row (a row naming a folder is not expanded); relative paths are relative
    to the CSV's folder.

    Every input is accounted for once: each file found is in ``files`` or, with a reason,
    in ``missing``: ``"file not found"``, ``"no file matches this pattern"``, ``"a folder
    with no image files"``, :data:`CSV_FOLDER` (a CSV row naming a folder), or
    :data:`DUPLICATE` (a file already taken, named again by the same or another path,
    folder or pattern: it is predicted once, at its first place, and each repeat is listed
    as skipped, not predicted again).

    Returns:
        ``(files, missing)``: the files (``Path``) and ``(path, reason)`` pairs.

    Raises:
        FileNotFoundError: ``csv`` does not exist.
        ValueError: ``csv`` has no ``path`` column.
    """
    files, missing, seen = [], [], set()

    def add(path: Path):
        key = Path(path).resolve()
        if key in seen:
            missing.append((str(path), DUPLICATE))
        else:
            seen.add(key)
            files.append(Path(path))

    named = [*((str(p), False) for p in paths),
             *((row, True) for row in (_csv_paths(csv) if csv is not None else []))]
    for arg, from_csv in named:
        path = Path(arg)
        if path.is_dir():
            if from_csv:
                missing.append((arg, CSV_FOLDER))
                continue
            found = _folder_images(path, recursive)
            if not found:
                missing.append((arg, "a folder with no image files" + (
                    "" if recursive else " (--recursive: sub-folders too)")))
            for f in found:
                add(f)
        elif path.exists():
            add(path)
        elif any(c in arg for c in _GLOB_CHARS):
            matches = sorted(glob.glob(arg, recursive=recursive))
            if not matches:
                missing.append((arg, "no file matches this pattern"))
            for m in map(Path, matches):
                for f in (_folder_images(m, recursive) if m.is_dir() else [m]):
                    if f.is_file() and (m.is_dir() or not f.name.startswith(".")):
                        add(f)
        else:
            missing.append((arg, "file not found"))
    return files, missing


def csv_views(csv_path) -> dict:
    """``{path as collect_inputs gives it: view}`` from a ``view`` column of ``csv_path``.

    Empty when the CSV has no ``view`` column. Raises ValueError on a value other than
    PA/AP/empty, naming the row.
    """
    csv_path = Path(csv_path)
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "view" not in reader.fieldnames:
            return {}
        out = {}
        for line, row in enumerate(reader, start=2):
            path = (row.get("path") or "").strip()
            if not path:
                continue
            try:
                view = check_view(row.get("view"))
            except ValueError:
                raise ValueError(f"{csv_path}: line {line}: view {row.get('view')!r} is not "
                                 f"PA, AP or empty") from None
            p = Path(path)
            out[str(p if p.is_absolute() else csv_path.parent / p)] = view
    return out


def bundle_items(data, split):
    """``(names, reader)`` of a bundle split: image ids and ``reader(i)`` → grey image."""
    bundle = open_bundle(data)
    splits = np.asarray(bundle.split).astype(str)
    index = np.flatnonzero(splits == split) if split != "all" else np.arange(len(splits))
    if len(index) == 0:
        have = sorted(set(splits.tolist()))
        bundle.close()
        raise ValueError(f"{data} has no images in split {split!r} (splits: {have}, or 'all'). "
                         f"Received: split={split!r}")
    if bundle.images.shape[-1] not in (1, 3):
        bundle.close()
        raise ValueError(f"{data} holds {bundle.images.shape[-1]}-channel images, not "
                         "radiographs; evaluate it with `heartcv evaluate` instead.")
    ids = np.asarray(bundle.image_id).astype(str)

    lock = threading.Lock()

    def read(i):
        with lock:  # h5py reads one at a time anyway
            img = np.asarray(bundle.images[int(i)])
        return img[..., 0] if img.shape[-1] == 1 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)

    return bundle, [(str(ids[i]), i) for i in index], read


def read_ahead(items, load, jobs, window):
    """``(item, image, error)`` for each item in order, ``jobs`` threads reading ahead."""
    def safe(item):
        try:
            return item, load(item), None
        except (ValueError, OSError, ImportError) as err:  # what read_image and the checks raise
            return item, None, err

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        pending = deque()
        for item in items:
            pending.append(pool.submit(safe, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def skip_reason(err) -> str:
    """One line: an :class:`~heartcv.data.images.ImageReadError`'s reason, else the message."""
    if getattr(err, "reason", None):
        return err.reason
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def overlay_name(name: str, used: set) -> str:
    stem = re.sub(r"[^\w.\-]+", "_", Path(name).stem) or "image"
    candidate, n = stem, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}-{n}"
    used.add(candidate)
    return f"{candidate}{_OVERLAY_SUFFIX}"

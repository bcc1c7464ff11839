"""The heartcv HDF5 bundle: one file per prepared dataset, validated on read.

A *bundle* holds every image of a dataset resized to one size, with its labels and/or masks,
patient ids and split assignment, so that training never touches the raw layout again.
This docstring is the reference for the schema (``SCHEMA_VERSION = 1``).

Datasets (``N`` samples; every per-sample dataset has length ``N``):

=================  ===========================  ==============================================
name               shape / dtype                meaning
=================  ===========================  ==============================================
``images``         (N, H, W, C) uint8           C in ``IMAGE_CHANNELS``: 1 (grey), 3 (RGB) or 13
                                                (the lead crops of an ECG sheet, one per
                                                channel); chunked one image per
                                                chunk, gzip (level 1) or lzf compressed
``labels``         (N, K) float32               one column per ``class_names`` entry; 0/1,
                                                NaN = unknown. multiclass: one-hot rows (or an
                                                all-NaN row when unknown)
``masks``          (N, H, W) or (N, H, W, M)    0/1 uint8; with M structures the dataset attr
                   uint8                        ``mask_names`` (JSON list) names them
``patient_id``     (N,) UTF-8 str               never empty
``image_id``       (N,) UTF-8 str               unique within the bundle
``split``          (N,) UTF-8 str               ``"train"``, ``"val"``, ``"test"`` or ``""``
                                                (unassigned)
``fold``           (N,) int8, optional          k-fold assignment, ``-1`` = unassigned
``boxes/``         group of 1-D columns,        ``image_index`` (int64), ``label`` (str),
                   optional                     ``x``, ``y``, ``w``, ``h`` (float32) in the
                                                bundle's pixel coordinates (H x W)
``meta/<name>``    (N,) numeric or str,         extra per-image columns (e.g. ``ctr``, ``view``,
                   optional                     ``src_width``)
=================  ===========================  ==============================================

A bundle needs ``images``, ``patient_id``, ``image_id``, ``split`` and, by ``task``:
``labels`` for ``"binary"``, ``"multiclass"`` and ``"multilabel"``; ``masks`` for
``"segmentation"`` (labels optional there).

File attributes: ``schema_version`` (int), ``class_names`` (JSON list of str, one per label
column), ``task`` (one of ``TASKS``), ``source`` (free text: dataset name, origin),
``heartcv_version``, ``created`` (ISO-8601 UTC), ``image_size`` ([H, W]); any extra scalar
attributes given by the writer.

Writing is atomic: data go to ``<path>.tmp-<pid>`` in the same folder, the finished file is
re-opened and validated, then ``os.replace``-d onto ``path``; on any error the temporary
file is removed and nothing appears under ``path``. A failed write (read-only folder, disk
full, ``path`` a folder) raises :class:`heartcv.files.OutputPathError` naming ``path``;
:func:`write_bundle` checks ``path`` before it writes anything and removes temporary files
of ``path`` left by an earlier, killed run (:func:`heartcv.files.sweep_orphans`).

A full disk is an error, not a crash: the writer checks the free space before each piece of
at most 8 MB (uncompressed) it writes, and when the disk fills anyway (HDF5's ``OSError`` or
``RuntimeError`` with errno 28) the half-written file is truncated, closed and deleted
(:func:`heartcv.files.discard_hdf5`) before HDF5 can flush into the full disk again, and
never read again. Either way the error names ``path``, about how much space the bundle needs
and how much is free; an existing bundle under ``path`` is left as it was.

Example:
    >>> write_bundle("toy.h5", images, labels=y, patient_id=pids, split=split,
    ...              class_names=["Cardiomegaly"], task="binary", source="toy")
    >>> with open_bundle("toy.h5") as b:
    ...     x_train = b.images[b.indices("train")]
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import importlib.metadata
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np
import pandas as pd

__all__ = [
    "SCHEMA_VERSION",
    "TASKS",
    "SPLITS",
    "IMAGE_CHANNELS",
    "IMAGES",
    "LABELS",
    "MASKS",
    "PATIENT_ID",
    "IMAGE_ID",
    "SPLIT",
    "FOLD",
    "BOXES",
    "META",
    "BOX_COLUMNS",
    "BundleError",
    "Box",
    "Bundle",
    "BundleData",
    "BundleWriter",
    "write_bundle",
    "open_bundle",
    "read_bundle",
]

SCHEMA_VERSION = 1
TASKS = ("binary", "multiclass", "multilabel", "segmentation")
SPLITS = ("train", "val", "test", "")
COMPRESSIONS = ("gzip", "lzf", None)
IMAGE_CHANNELS = (1, 3, 13)  # grey, RGB, the 13 lead crops of a 12-lead ECG sheet
GZIP_LEVEL = 1  # radiographs compress to ~0.68 at levels 1-6 alike; 1 is ~2.5x faster than 4

IMAGES = "images"
LABELS = "labels"
MASKS = "masks"
PATIENT_ID = "patient_id"
IMAGE_ID = "image_id"
SPLIT = "split"
FOLD = "fold"
BOXES = "boxes"
META = "meta"
BOX_COLUMNS = ("image_index", "label", "x", "y", "w", "h")

_RESERVED_ATTRS = (
    "schema_version",
    "class_names",
    "task",
    "source",
    "heartcv_version",
    "created",
    "image_size",
)
_STR = h5py.string_dtype("utf-8")
_ROW_CHUNK = 1024


class BundleError(ValueError):
    """A file is not a valid heartcv bundle; the message names the file and the problem."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"Invalid heartcv bundle {self.path}: {problem}")


class Box(NamedTuple):
    """One bounding box in the bundle's pixel coordinates."""

    label: str
    x: float
    y: float
    w: float
    h: float


# --------------------------------------------------------------------------------------------
# helpers


def _heartcv_version():
    try:
        return importlib.metadata.version("heartcv")
    except importlib.metadata.PackageNotFoundError:
        return str(getattr(sys.modules.get("heartcv"), "__version__", "unknown"))


from heartcv.files import (  # noqa: E402
    SPACE_MARGIN,
    OutputPathError,
    check_output_file,
    discard_hdf5,
    free_bytes,
    space_detail,
    storage_errno,
    sweep_orphans,
)
from heartcv.registry import did_you_mean as _did_you_mean  # noqa: E402


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"Expected `{name}` to be one of {list(choices)}.{_did_you_mean(value, choices)} "
            f"Received: {name}={value!r}"
        )


def _as_str_array(values, name, n=None, *, allow_empty=True):
    if isinstance(values, (str, bytes)):
        raise TypeError(f"Expected `{name}` to be a sequence of strings. Received: "
                        f"{name}={values!r}")
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"Expected `{name}` to be 1-D. Received: {name}.shape={arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(
            f"Expected `{name}` to have one entry per image ({n}). Received: len({name})={len(arr)}"
        )
    out = np.empty(len(arr), dtype=object)
    for i, v in enumerate(arr):
        if isinstance(v, bytes):
            v = v.decode("utf-8")
        if v is None or (isinstance(v, float) and np.isnan(v)):
            v = ""
        out[i] = str(v)
    if not allow_empty:
        empty = np.flatnonzero(out == "")
        if len(empty):
            raise ValueError(
                f"Expected every `{name}` to be a non-empty string; {len(empty)} are empty or "
                f"missing (first at position {int(empty[0])}). Received: {name}[{int(empty[0])}]=''"
            )
    return out


def _check_splits(split, name="split"):
    bad = sorted(set(split.tolist()) - set(SPLITS))
    if bad:
        raise ValueError(
            f"Expected `{name}` values in {list(SPLITS)} ('' = "
            f"unassigned).{_did_you_mean(bad[0], SPLITS[:3])} "
            f"Received: {name} containing {bad[:5]}"
        )


def check_labels(labels, task, class_names, *, name="labels"):
    """Validate a label matrix for ``task``; returns it as float32 (N, K).

    Args:
        labels: array-like (N, K) (a 1-D array is taken as K = 1).
        task: one of ``TASKS``.
        class_names: one name per column.
        name: argument name used in error messages.

    Raises:
        ValueError: wrong shape, or values other than 0/1/NaN (binary, multilabel,
            segmentation), or multiclass rows that are neither one-hot nor all-NaN.
    """
    arr = np.asarray(labels)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"Expected `{name}` to be numeric. Received: {name}.dtype={arr.dtype}")
    arr = arr.astype(np.float32)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"Expected `{name}` of shape (N, K). Received: {name}.shape={arr.shape}")
    if arr.shape[1] != len(class_names):
        raise ValueError(
            f"Expected `{name}` to have one column per class name ({len(class_names)}: "
            f"{list(class_names)}). Received: {name}.shape={arr.shape}"
        )
    known = arr[~np.isnan(arr)]
    if known.size and not np.isin(known, (0.0, 1.0)).all():
        bad = known[~np.isin(known, (0.0, 1.0))][0]
        raise ValueError(
            f"Expected `{name}` values 0, 1 or NaN (unknown). Received: a value {bad!r}"
        )
    if task == "multiclass" and len(arr):
        nan_rows = np.isnan(arr)
        partial = nan_rows.any(1) & ~nan_rows.all(1)
        sums = np.nansum(arr, axis=1)
        bad = partial | (~nan_rows.all(1) & (sums != 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"Expected multiclass `{name}` rows to be one-hot (or all NaN when unknown). "
                f"Received: {name}[{i}]={arr[i].tolist()}"
            )
    return arr


def _check_class_names(class_names, task):
    if isinstance(class_names, str):
        raise TypeError(
            f"Expected `class_names` to be a list of strings. Received: class_names={class_names!r}"
        )
    names = [str(c) for c in class_names]
    if len(set(names)) != len(names) or any(not c for c in names):
        raise ValueError(
            f"Expected `class_names` to be unique non-empty strings. Received: class_names={names}"
        )
    if task in ("binary", "multilabel") and not names:
        raise ValueError(f"Expected at least one class name for task={task!r}. Received: "
                         "class_names=[]")
    if task == "multiclass" and len(names) < 2:
        raise ValueError(
            "Expected at least two class names for task='multiclass'. Received: "
            f"class_names={names}"
        )
    return names


def _check_mask_names(mask_names):
    if mask_names is None:
        return None
    if isinstance(mask_names, str):
        raise TypeError("Expected `mask_names` to be a list of strings. Received: "
                        f"mask_names={mask_names!r}")
    names = [str(m) for m in mask_names]
    if len(set(names)) != len(names) or any(not m for m in names):
        raise ValueError("Expected `mask_names` to be unique non-empty strings. Received: "
                         f"mask_names={names}")
    return names


def _check_attrs(attrs):
    out = {}
    for key, value in dict(attrs or {}).items():
        if key in _RESERVED_ATTRS:
            raise ValueError(
                f"Attribute {key!r} is set by the writer and cannot be given in `attrs`. "
                f"Received: attrs[{key!r}]={value!r}"
            )
        if isinstance(value, (np.generic,)):
            value = value.item()
        if not isinstance(value, (str, int, float, bool)):
            raise TypeError(
                f"Expected `attrs` values to be str, int, float or bool (JSON-encode others). "
                f"Received: attrs[{key!r}]={value!r}"
            )
        out[str(key)] = value
    return out


def _meta_array(name, values, n):
    arr = np.asarray(values)
    if arr.ndim != 1 or (n is not None and len(arr) != n):
        raise ValueError(
            f"Expected meta column {name!r} to be 1-D with one entry per image ({n}). "
            f"Received: meta[{name!r}].shape={arr.shape}"
        )
    if arr.dtype == bool:
        return arr.astype(np.int8)
    if np.issubdtype(arr.dtype, np.number):
        return arr
    return _as_str_array(arr, f"meta[{name!r}]", n)


def _meta_key(name):
    name = str(name)
    if not name or name in (".",):
        raise ValueError(f"Expected a non-empty meta column name. Received: {name!r}")
    return name.replace("/", "_")


def _read_str(ds):
    return np.asarray(ds.asstr()[()], dtype=str) if len(ds) else np.zeros(0, dtype=str)


# --------------------------------------------------------------------------------------------
# writing


class BundleWriter:
    """Streams samples into a bundle; the file appears under ``path`` only when complete.

    Datasets are created from the first :meth:`append` (which fixes the image size, the label
    width, mask layout and the set of meta columns); later batches must match. On leaving the
    ``with`` block normally the file is finalised (attributes written, validated, renamed);
    on an exception the temporary file is deleted, or kept for a later resume when
    ``keep_partial=True``.

    Args:
        path: final file name.
        task: one of ``TASKS``.
        class_names: one name per label column.
        source: free text naming the dataset and its origin.
        n: expected number of samples; when given, :meth:`close` fails unless exactly ``n``
            were appended. ``None`` (default): any number (datasets grow per batch).
        mask_names: names of the mask structures (required when masks have 4 dims).
        compression: ``"gzip"`` (level 1), ``"lzf"`` or ``None``.
        attrs: extra scalar file attributes.
        temp_path: where to write before the rename (default ``<path>.tmp-<pid>``).
        resume: re-open an existing ``temp_path`` and continue appending after its rows.
        keep_partial: keep ``temp_path`` on error (for resumable conversions).

    Example:
        >>> with BundleWriter("x.h5", task="binary", class_names=["Cardiomegaly"],
        ...                   source="demo") as w:
        ...     w.append(images, labels=y, patient_id=pids, image_id=ids, split=split)
    """

    def __init__(
        self,
        path,
        *,
        task,
        class_names=(),
        source="",
        n=None,
        mask_names=None,
        compression="gzip",
        attrs=None,
        temp_path=None,
        resume=False,
        keep_partial=False,
    ):
        _check_choice("task", task, TASKS)
        _check_choice("compression", compression, COMPRESSIONS)
        if n is not None and (not isinstance(n, (int, np.integer)) or n < 1):
            raise ValueError(f"Expected `n` to be a positive int or None. Received: n={n!r}")
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(
                f"Folder for the bundle does not exist: {self.path.parent}. Received: "
                f"path={str(path)!r}"
            )
        self.task = task
        self.class_names = _check_class_names(class_names, task)
        self.mask_names = _check_mask_names(mask_names)
        self.source = str(source)
        self.n = None if n is None else int(n)
        self.compression = compression
        self.attrs = _check_attrs(attrs)
        self.keep_partial = bool(keep_partial)
        self.temp_path = (
            Path(temp_path)
            if temp_path is not None
            else self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        )
        self._boxes = None
        self._image_ids = set()
        self._closed = False
        self._layout = None  # set of per-sample dataset names, fixed by the first append
        self._row_bytes = None  # uncompressed bytes per sample, from the first append
        if resume and self.temp_path.exists():
            self._file = h5py.File(self.temp_path, "r+")
            self._load_layout()
        else:
            try:
                self.temp_path.unlink(missing_ok=True)
                self._file = h5py.File(self.temp_path, "w")
            except OSError as e:
                raise _write_error(self.path, e) from e
        self._rows_ok = self.n_written  # samples known to be written whole
        with self._guarded():
            self._file.attrs["schema_version"] = SCHEMA_VERSION
            self._file.attrs["task"] = self.task
            self._file.attrs["class_names"] = json.dumps(self.class_names)
            self._file.attrs["source"] = self.source

    # -- a full disk ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _guarded(self, rows_pending=0):
        """Run HDF5 writes; a storage failure (disk full, quota, read-only) gives the file up
        (:meth:`_give_up`) and raises :class:`OutputPathError` naming ``path``."""
        try:
            yield
        except Exception as err:
            code = storage_errno(err)
            if code is None or self._closed:
                raise
            failure = self._give_up(code, rows_pending)
            raise failure from None

    def _give_up(self, code, rows_pending=0) -> OutputPathError:
        """Discard the temporary file (truncated first, so HDF5's closing flush cannot crash
        in the full disk) and return the error to raise: ``path``, about how much space the
        bundle needs (the bytes per sample written so far, compressed, times the samples
        expected) and how much is free once the temporary file is gone."""
        rows = self._rows_ok
        try:
            size = self.temp_path.stat().st_size
        except OSError:
            size = 0
        per_row = size / rows if rows and size else (self._row_bytes or 0)
        total = self.n if self.n is not None else rows + rows_pending
        self._closed = True
        discard_hdf5(self.temp_path, self._file)
        detail = None
        if code != errno.EROFS and per_row and total:
            bound = "about" if rows or self.compression is None else "up to"
            detail = space_detail(per_row * total + SPACE_MARGIN, free_bytes(self.path),
                                  bound=bound)
        return OutputPathError(self.path, "no space left", code, detail=detail)

    def _check_space(self, piece_bytes, rows_pending):
        """Refuse the next piece before HDF5 sees it when the disk cannot take it whole."""
        free = free_bytes(self.temp_path)
        if free is not None and free < piece_bytes + SPACE_MARGIN:
            raise self._give_up(errno.ENOSPC, rows_pending) from None

    # -- layout ------------------------------------------------------------------------------

    def _load_layout(self):
        f = self._file
        if IMAGES not in f:
            return
        self._layout = {
            "labels": LABELS in f,
            "masks": MASKS in f,
            "fold": FOLD in f,
            "meta": sorted(f[META].keys()) if META in f else [],
            "image_shape": f[IMAGES].shape[1:],
            "mask_shape": f[MASKS].shape[1:] if MASKS in f else None,
            "n_labels": f[LABELS].shape[1] if LABELS in f else None,
        }
        self.truncate(min(len(ds) for ds in self._row_datasets()))

    def _row_datasets(self):
        f = self._file
        names = [IMAGES, PATIENT_ID, IMAGE_ID, SPLIT, LABELS, MASKS, FOLD]
        out = [f[n] for n in names if n in f]
        if META in f:
            out += [f[META][k] for k in f[META]]
        return out

    @property
    def n_written(self):
        """Number of samples appended so far (including those from a resumed file)."""
        return 0 if IMAGES not in self._file else len(self._file[IMAGES])

    def read_column(self, name):
        """Read back a written per-sample dataset (e.g. ``"meta/src_width"``) as an array."""
        if name not in self._file:
            raise KeyError(f"No dataset {name!r} in {self.temp_path}. Received: name={name!r}")
        ds = self._file[name]
        return _read_str(ds) if h5py.check_string_dtype(ds.dtype) else ds[()]

    def truncate(self, n_rows):
        """Drop samples beyond ``n_rows`` (used when resuming after an interruption)."""
        if n_rows > self.n_written:
            raise ValueError(
                f"Cannot truncate {self.temp_path} to {n_rows} rows: it holds {self.n_written}. "
                f"Received: n_rows={n_rows}"
            )
        for ds in self._row_datasets():
            ds.resize(n_rows, axis=0)
        self._rows_ok = n_rows
        if IMAGE_ID in self._file:
            self._image_ids = set(_read_str(self._file[IMAGE_ID]).tolist())

    def _create(self, images, labels, masks, fold, meta):
        f = self._file
        comp = {"compression": self.compression}
        if self.compression == "gzip":
            comp["compression_opts"] = GZIP_LEVEL
        _, h, w, c = images.shape
        f.create_dataset(
            IMAGES, shape=(0, h, w, c), maxshape=(None, h, w, c), dtype=np.uint8,
            chunks=(1, h, w, c), **comp,
        )
        for name in (PATIENT_ID, IMAGE_ID, SPLIT):
            f.create_dataset(name, shape=(0,), maxshape=(None,), dtype=_STR, chunks=(_ROW_CHUNK,))
        if labels is not None:
            k = labels.shape[1]
            f.create_dataset(
                LABELS, shape=(0, k), maxshape=(None, k), dtype=np.float32,
                chunks=(_ROW_CHUNK, k),
            )
        if masks is not None:
            mshape = masks.shape[1:]
            ds = f.create_dataset(
                MASKS, shape=(0, *mshape), maxshape=(None, *mshape), dtype=np.uint8,
                chunks=(1, *mshape), **comp,
            )
            if self.mask_names is not None:
                ds.attrs["mask_names"] = json.dumps(self.mask_names)
        if fold is not None:
            f.create_dataset(
                FOLD, shape=(0,), maxshape=(None,), dtype=np.int8, chunks=(_ROW_CHUNK,)
            )
        if meta:
            g = f.create_group(META)
            for key, arr in meta.items():
                dtype = _STR if arr.dtype == object else arr.dtype
                g.create_dataset(
                    key, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(_ROW_CHUNK,)
                )
        self._layout = {
            "labels": labels is not None,
            "masks": masks is not None,
            "fold": fold is not None,
            "meta": sorted(meta),
            "image_shape": images.shape[1:],
            "mask_shape": None if masks is None else masks.shape[1:],
            "n_labels": None if labels is None else labels.shape[1],
        }

    # -- appending ---------------------------------------------------------------------------

    def append(self, images, *, patient_id, labels=None, masks=None, image_id=None, split=None,
               fold=None, meta=None):
        """Append a batch of samples.

        Args:
            images: (n, H, W, C) uint8 (or (n, H, W), taken as C = 1).
            patient_id: n non-empty strings.
            labels: (n, K) 0/1/NaN, K = len(class_names).
            masks: (n, H, W) or (n, H, W, M) of 0/1 (uint8 or bool).
            image_id: n unique strings (default: the running sample number).
            split: n of ``"train"``, ``"val"``, ``"test"``, ``""`` (default all ``""``).
            fold: n ints (-1 = unassigned).
            meta: mapping name -> n values (numeric or str).

        Returns:
            The number of samples written so far.
        """
        if self._closed:
            raise ValueError(f"BundleWriter for {self.path} is closed.")
        images = self._check_images(images)
        n = len(images)
        start = self.n_written
        pid = _as_str_array(patient_id, "patient_id", n, allow_empty=False)
        iid = (
            np.asarray([str(start + i) for i in range(n)], dtype=object)
            if image_id is None
            else _as_str_array(image_id, "image_id", n, allow_empty=False)
        )
        dup = set(iid.tolist()) & self._image_ids
        if dup or len(set(iid.tolist())) != n:
            ids = pd.Series(iid)
            first = sorted(dup)[0] if dup else ids[ids.duplicated()].iloc[0]
            raise ValueError("Expected unique `image_id` values. Received: duplicate "
                             f"image_id={first!r}")
        spl = np.full(n, "", dtype=object) if split is None else _as_str_array(split, "split", n)
        _check_splits(spl)
        lab = None if labels is None else check_labels(labels, self.task, self.class_names)
        if lab is not None and len(lab) != n:
            raise ValueError(f"Expected `labels` to have {n} rows. Received: "
                             f"labels.shape={lab.shape}")
        msk = None if masks is None else self._check_masks(masks, images)
        fld = None
        if fold is not None:
            fld = np.asarray(fold)
            if (fld.shape != (n,) or not np.issubdtype(fld.dtype, np.integer)
                    or (fld < -1).any() or (fld > 127).any()):
                raise ValueError(
                    f"Expected `fold` to be {n} ints in [-1, 127]. Received: "
                    f"fold={np.asarray(fold)!r}"
                )
            fld = fld.astype(np.int8)
        met = {}
        for key, values in dict(meta or {}).items():
            met[_meta_key(key)] = _meta_array(key, values, n)

        if self._layout is None:
            if self.task == "segmentation" and msk is None:
                raise ValueError("Expected `masks` for task='segmentation'. Received: masks=None")
            if self.task != "segmentation" and lab is None:
                raise ValueError(f"Expected `labels` for task={self.task!r}. Received: labels=None")
            if msk is not None and msk.ndim == 4 and (
                self.mask_names is None or len(self.mask_names) != msk.shape[3]
            ):
                raise ValueError(
                    f"Expected `mask_names` with one name per mask channel ({msk.shape[3]}). "
                    f"Received: mask_names={self.mask_names}"
                )
            self._create(images, lab, msk, fld, met)
        else:
            lay = self._layout
            got = {"labels": lab is not None, "masks": msk is not None, "fold": fld is not None,
                   "meta": sorted(met)}
            for key, value in got.items():
                if value != lay[key]:
                    raise ValueError(
                        f"Every batch must carry the same fields as the first. Expected {key}="
                        f"{lay[key]}. Received: {key}={value}"
                    )
            if images.shape[1:] != tuple(lay["image_shape"]):
                raise ValueError(
                    f"Expected images of shape (n, {', '.join(map(str, lay['image_shape']))}). "
                    f"Received: images.shape={images.shape}"
                )
            if msk is not None and msk.shape[1:] != tuple(lay["mask_shape"]):
                raise ValueError(
                    f"Expected masks of shape (n, {lay['mask_shape']}). Received: {msk.shape}"
                )
            if lab is not None and lab.shape[1] != lay["n_labels"]:
                raise ValueError(f"Expected {lay['n_labels']} label columns. Received: {lab.shape}")
            for key in met:
                ds = self._file[META][key]
                if (ds.dtype.kind == "O") != (met[key].dtype == object):
                    raise TypeError(
                        f"Meta column {key!r} changed type between batches. Received: "
                        f"{met[key].dtype}"
                    )

        end = start + n
        f = self._file
        writes = [(f[IMAGES], images), (f[PATIENT_ID], pid), (f[IMAGE_ID], iid), (f[SPLIT], spl)]
        if lab is not None:
            writes.append((f[LABELS], lab))
        if msk is not None:
            writes.append((f[MASKS], msk))
        if fld is not None:
            writes.append((f[FOLD], fld))
        writes += [(f[META][k], v) for k, v in met.items()]
        # in pieces of at most _WRITE_PIECE bytes that fit the free space (uncompressed)
        self._row_bytes = max(sum(np.asarray(d).nbytes for _, d in writes) / n, 1.0)
        if self.compression is None and self.n is not None:  # the whole size is known
            self._check_space((self.n - start) * self._row_bytes, self.n - start)
        s = 0
        while s < n:
            free = free_bytes(self.temp_path)
            room = _WRITE_PIECE if free is None else min(_WRITE_PIECE, free - SPACE_MARGIN)
            if room < self._row_bytes:  # not even one more sample
                raise self._give_up(errno.ENOSPC, n - s) from None
            e = min(s + max(1, int(room // self._row_bytes)), n)
            with self._guarded(n - s):
                for ds, data in writes:
                    ds.resize(start + e, axis=0)
                    ds[start + s:start + e] = data[s:e]
            self._rows_ok = start + e
            s = e
        self._image_ids.update(iid.tolist())
        return end

    @staticmethod
    def _check_images(images):
        arr = np.asarray(images)
        if arr.dtype != np.uint8:
            raise TypeError(f"Expected `images` of dtype uint8. Received: images.dtype={arr.dtype}")
        if arr.ndim == 3:
            arr = arr[..., None]
        if arr.ndim != 4 or arr.shape[3] not in IMAGE_CHANNELS or 0 in arr.shape[1:]:
            raise ValueError(
                f"Expected `images` of shape (N, H, W, C) with C in {IMAGE_CHANNELS}. Received: "
                f"images.shape={arr.shape}"
            )
        return arr

    @staticmethod
    def _check_masks(masks, images):
        arr = np.asarray(masks)
        if arr.dtype == bool:
            arr = arr.astype(np.uint8)
        if arr.dtype != np.uint8:
            raise TypeError("Expected `masks` of dtype uint8 (0/1) or bool. Received: "
                            f"masks.dtype={arr.dtype}")
        if arr.ndim not in (3, 4) or arr.shape[:3] != images.shape[:3]:
            raise ValueError(
                f"Expected `masks` of shape (N, H, W) or (N, H, W, M) matching images "
                f"{images.shape[:3]}. Received: masks.shape={arr.shape}"
            )
        if arr.size and arr.max() > 1:
            raise ValueError(
                f"Expected `masks` values 0/1. Received: max value {int(arr.max())} "
                "(binarise 0/255 masks first, e.g. with heartcv.data.images.binarize_mask)"
            )
        return arr

    def set_boxes(self, boxes):
        """Attach a box table (written at :meth:`close`).

        Args:
            boxes: DataFrame (or mapping of columns) with ``label``, ``x``, ``y``, ``w``, ``h``
                in the bundle's pixel coordinates and either ``image_index`` (row in the
                bundle) or ``image_id``.
        """
        df = pd.DataFrame(boxes).reset_index(drop=True)
        if "image_index" not in df.columns and "image_id" not in df.columns:
            raise ValueError(
                f"Expected box columns {list(BOX_COLUMNS)} (or image_id instead of image_index). "
                f"Received: columns={list(df.columns)}"
            )
        missing = [c for c in BOX_COLUMNS[1:] if c not in df.columns]
        if missing:
            raise ValueError(
                f"Expected box columns {list(BOX_COLUMNS)}. Missing: {missing}. Received: "
                f"columns={list(df.columns)}"
            )
        self._boxes = df

    def _write_boxes(self):
        df = self._boxes
        n = self.n_written
        if "image_index" in df.columns:
            idx = df["image_index"].to_numpy()
        else:
            pos = {v: i for i, v in enumerate(_read_str(self._file[IMAGE_ID]).tolist())}
            unknown = sorted(set(df["image_id"].astype(str)) - set(pos))
            if unknown:
                raise ValueError(
                    "Boxes refer to image_id values not in the bundle. Received: "
                    f"image_id={unknown[:5]}"
                )
            idx = df["image_id"].astype(str).map(pos).to_numpy()
        idx = idx.astype(np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(
                f"Expected box image_index in [0, {n}). "
                f"Received: range [{idx.min()}, {idx.max()}]"
            )
        if BOXES in self._file:
            del self._file[BOXES]
        g = self._file.create_group(BOXES)
        g.create_dataset("image_index", data=idx)
        g.create_dataset("label", data=_as_str_array(df["label"], "boxes.label"), dtype=_STR)
        for c in "xywh":
            g.create_dataset(c, data=df[c].to_numpy(np.float32))

    # -- finishing ---------------------------------------------------------------------------

    def flush(self):
        """Flush written data to disk (so a later ``resume`` finds it)."""
        with self._guarded():
            self._file.flush()

    def close(self):
        """Finalise: write attributes, validate, and rename onto ``path``. Returns ``path``."""
        if self._closed:
            return self.path
        try:
            n = self.n_written
            if n == 0:
                raise ValueError(
                    f"No samples were appended to {self.path}; a bundle needs at least one."
                )
            if self.n is not None and n != self.n:
                raise ValueError(
                    f"Expected {self.n} samples in {self.path}. Received: {n} appended"
                )
            with self._guarded():
                if self._boxes is not None:
                    self._write_boxes()
                a = self._file.attrs
                a["heartcv_version"] = _heartcv_version()
                a["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
                a["image_size"] = np.asarray(self._file[IMAGES].shape[1:3], dtype=np.int64)
                for key, value in self.attrs.items():
                    a[key] = value
                self._file.flush()  # a failure here is recoverable; one in close() is not
                self._file.close()
            with open_bundle(self.temp_path):  # never publish a file our reader rejects
                pass
            os.replace(self.temp_path, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def abort(self):
        """Close and delete the temporary file (kept when ``keep_partial``).

        A file to delete is truncated before it is closed, and one to keep is flushed first
        and given up when the flush fails (a full disk): closing a file HDF5 cannot flush
        can crash the process.
        """
        self._closed = True
        if not self._file.id.valid:
            if not self.keep_partial:
                self.temp_path.unlink(missing_ok=True)
            return
        if not self.keep_partial:
            discard_hdf5(self.temp_path, self._file)
            return
        try:
            self._file.flush()
        except Exception:  # noqa: BLE001 - HDF5 raises OSError or RuntimeError
            discard_hdf5(self.temp_path, self._file)
            return
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
            return False
        self.close()
        return False


def write_bundle(
    path,
    images,
    *,
    labels=None,
    masks=None,
    patient_id,
    image_id=None,
    split=None,
    fold=None,
    class_names=(),
    task,
    source,
    boxes=None,
    meta=None,
    mask_names=None,
    attrs=None,
    compression="gzip",
    batch_size=256,
) -> Path:
    """Write arrays as a bundle (atomically; see the module docstring for the schema).

    ``images`` (and ``masks``) may be any array-like with ``shape``, ``dtype`` and slicing
    (NumPy arrays, memmaps, h5py datasets); they are written ``batch_size`` samples at a time.

    Args:
        path: output ``.h5`` path.
        images: (N, H, W, C) or (N, H, W) uint8.
        labels: (N, K) 0/1/NaN, K = len(class_names).
        masks: (N, H, W) or (N, H, W, M) 0/1.
        patient_id: N non-empty strings.
        image_id: N unique strings (default ``"0"``, ``"1"``...).
        split: N of ``"train"``/``"val"``/``"test"``/``""``.
        fold: N ints, -1 = unassigned.
        class_names: label column names.
        task: one of ``TASKS``.
        source: dataset name / origin.
        boxes: box table, see :meth:`BundleWriter.set_boxes`.
        meta: mapping name -> N values.
        mask_names: names of the M mask structures.
        attrs: extra scalar file attributes.
        compression: ``"gzip"``, ``"lzf"`` or ``None``.
        batch_size: samples per write.

    Returns:
        The final path.
    """
    shape = tuple(getattr(images, "shape", np.shape(images)))
    if len(shape) not in (3, 4) or shape[0] == 0:
        raise ValueError("Expected `images` of shape (N, H, W, C) with N > 0. Received: "
                         f"images.shape={shape}")
    n = shape[0]
    dtype = getattr(images, "dtype", None)
    if dtype is not None and np.dtype(dtype) != np.uint8:
        raise TypeError(f"Expected `images` of dtype uint8. Received: images.dtype={dtype}")
    # validate everything cheap before a file is created
    pid = _as_str_array(patient_id, "patient_id", n, allow_empty=False)
    iid = None if image_id is None else _as_str_array(image_id, "image_id", n, allow_empty=False)
    spl = None if split is None else _as_str_array(split, "split", n)
    if spl is not None:
        _check_splits(spl)
    _check_choice("task", task, TASKS)
    names = _check_class_names(class_names, task)
    lab = None if labels is None else check_labels(labels, task, names)
    if lab is not None and len(lab) != n:
        raise ValueError(f"Expected `labels` to have one row per image ({n}). Received: "
                         f"labels.shape={lab.shape}")
    if masks is not None:
        mshape = tuple(getattr(masks, "shape", np.shape(masks)))
        if mshape[:3] != shape[:3]:
            raise ValueError(
                f"Expected `masks` of shape (N, H, W[, M]) matching images {shape[:3]}. Received: "
                f"masks.shape={mshape}"
            )
    fld = None if fold is None else np.asarray(fold)
    if fld is not None and fld.shape != (n,):
        raise ValueError(f"Expected `fold` of shape ({n},). Received: fold.shape={fld.shape}")
    met = {}
    for key, values in dict(meta or {}).items():
        met[key] = _meta_array(key, values, n)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError("Expected `batch_size` to be a positive int. Received: "
                         f"batch_size={batch_size!r}")

    path = check_output_file(path)
    sweep_orphans(path)
    try:
        _write_batches(path, images, masks, n, pid, lab, iid, spl, fld, met, names, task,
                       source, mask_names, compression, attrs, boxes, batch_size)
    except FileNotFoundError:  # the bundle's folder does not exist (BundleWriter says so)
        raise
    except OSError as e:
        raise _write_error(path, e) from e
    return Path(path)


#: uncompressed bytes a writer hands HDF5 between two free-space checks
_WRITE_PIECE = 8 << 20


def _write_error(path, err):
    """An ``OSError`` of a bundle write as :class:`OutputPathError` naming ``path``."""
    if isinstance(err, OutputPathError):
        return err
    problem = err.strerror or " ".join(str(err).split()) or type(err).__name__
    return OutputPathError(path, problem, err.errno)


def _write_batches(path, images, masks, n, pid, lab, iid, spl, fld, met, names, task, source,
                   mask_names, compression, attrs, boxes, batch_size):
    with BundleWriter(
        path, task=task, class_names=names, source=source, n=n, mask_names=mask_names,
        compression=compression, attrs=attrs,
    ) as w:
        for s in range(0, n, batch_size):
            e = min(s + batch_size, n)
            w.append(
                np.asarray(images[s:e]),
                patient_id=pid[s:e],
                labels=None if lab is None else lab[s:e],
                masks=None if masks is None else np.asarray(masks[s:e]),
                image_id=None if iid is None else iid[s:e],
                split=None if spl is None else spl[s:e],
                fold=None if fld is None else fld[s:e],
                meta={k: v[s:e] for k, v in met.items()},
            )
        if boxes is not None:
            w.set_boxes(boxes)


# --------------------------------------------------------------------------------------------
# reading


def _validate(f, path):
    """Check a bundle's structure; returns the parsed header. Raises BundleError."""

    def fail(problem):
        raise BundleError(path, problem)

    version = f.attrs.get("schema_version")
    if version is None:
        fail("no `schema_version` attribute (not a heartcv bundle)")
    if int(version) != SCHEMA_VERSION:
        fail(f"schema_version {int(version)} is not supported (this heartcv reads version "
             f"{SCHEMA_VERSION})")
    task = f.attrs.get("task")
    if task not in TASKS:
        fail(f"attribute `task`={task!r} is not one of {list(TASKS)}")
    try:
        class_names = json.loads(f.attrs.get("class_names", "[]"))
        assert isinstance(class_names, list)
    except (ValueError, AssertionError, TypeError):
        fail(f"attribute `class_names` is not a JSON list: {f.attrs.get('class_names')!r}")
    for name in (IMAGES, PATIENT_ID, IMAGE_ID, SPLIT):
        if name not in f or not isinstance(f[name], h5py.Dataset):
            fail(f"required dataset `{name}` is missing")
    images = f[IMAGES]
    if images.ndim != 4 or images.dtype != np.uint8 or images.shape[3] not in IMAGE_CHANNELS:
        fail(
            f"`images` must be (N, H, W, C) uint8 with C in {IMAGE_CHANNELS}; "
            f"found {images.shape} {images.dtype}"
        )
    n = images.shape[0]
    if n == 0:
        fail("`images` is empty")

    def check_len(name, ds):
        if len(ds) != n:
            fail(f"`{name}` has {len(ds)} entries but `images` has {n}")

    for name in (PATIENT_ID, IMAGE_ID, SPLIT):
        ds = f[name]
        if ds.ndim != 1 or h5py.check_string_dtype(ds.dtype) is None:
            fail(f"`{name}` must be a 1-D string dataset; found {ds.shape} {ds.dtype}")
        check_len(name, ds)
    if LABELS in f:
        ds = f[LABELS]
        if ds.ndim != 2 or ds.dtype != np.float32:
            fail(f"`labels` must be (N, K) float32; found {ds.shape} {ds.dtype}")
        check_len(LABELS, ds)
        if ds.shape[1] != len(class_names):
            fail(f"`labels` has {ds.shape[1]} columns but class_names lists {len(class_names)}")
    elif task != "segmentation":
        fail(f"task {task!r} needs a `labels` dataset, which is missing")
    mask_names = None
    if MASKS in f:
        ds = f[MASKS]
        if ds.ndim not in (3, 4) or ds.dtype != np.uint8 or ds.shape[1:3] != images.shape[1:3]:
            fail(f"`masks` must be (N, H, W[, M]) uint8 matching images {images.shape[1:3]}; found "
                 f"{ds.shape} {ds.dtype}")
        check_len(MASKS, ds)
        if "mask_names" in ds.attrs:
            mask_names = json.loads(ds.attrs["mask_names"])
            if ds.ndim == 4 and len(mask_names) != ds.shape[3]:
                fail(f"`masks` has {ds.shape[3]} channels but mask_names lists {len(mask_names)}")
        elif ds.ndim == 4:
            fail("4-D `masks` need a `mask_names` attribute")
    elif task == "segmentation":
        fail("task 'segmentation' needs a `masks` dataset, which is missing")
    if FOLD in f:
        ds = f[FOLD]
        if ds.ndim != 1 or not np.issubdtype(ds.dtype, np.integer):
            fail(f"`fold` must be 1-D integers; found {ds.shape} {ds.dtype}")
        check_len(FOLD, ds)
    if META in f:
        for key, ds in f[META].items():
            if not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
                fail(f"`meta/{key}` must be a 1-D dataset")
            check_len(f"meta/{key}", ds)
    if BOXES in f:
        g = f[BOXES]
        missing = [c for c in BOX_COLUMNS if c not in g]
        if missing:
            fail(f"`boxes` lacks columns {missing}")
        lens = {len(g[c]) for c in BOX_COLUMNS}
        if len(lens) != 1:
            fail("`boxes` columns differ in length")
        idx = g["image_index"][()]
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            fail(f"`boxes/image_index` out of range [0, {n})")
    return {
        "n": n, "task": task, "class_names": [str(c) for c in class_names],
        "mask_names": mask_names,
    }


def _open_h5(path):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Bundle not found: {path}")
    if path.is_dir():
        raise BundleError(path, "is a directory, not an HDF5 file")
    if path.stat().st_size == 0:
        raise BundleError(path, "empty file (0 bytes)")
    try:
        is_h5 = h5py.is_hdf5(path)
    except OSError as e:
        raise BundleError(path, f"cannot be read ({e})") from None
    if not is_h5:
        raise BundleError(path, "not an HDF5 file (no HDF5 signature)")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        msg = " ".join(str(e).split())
        kind = "truncated or corrupt HDF5 file" if "truncat" in msg.lower() else "cannot be opened"
        raise BundleError(path, f"{kind} ({msg})") from None


def _decode_attrs(f):
    out = {}
    for key, value in f.attrs.items():
        if isinstance(value, np.ndarray):
            value = tuple(value.tolist())
        elif isinstance(value, np.generic):
            value = value.item()
        if key == "class_names":
            value = json.loads(value)
        out[key] = value
    return out


class _BundleAccess:
    """Lookups shared by :class:`Bundle` (lazy) and :class:`BundleData` (in memory)."""

    def __len__(self):
        return len(self.patient_id)

    def _check_split_name(self, split):
        known = list(dict.fromkeys([*SPLITS, *np.unique(self.split).tolist()]))
        if split not in known:
            raise ValueError(
                f"Unknown split name.{_did_you_mean(split, known)} Expected one of "
                f"{[k for k in known if k]} (or '' for unassigned). Received: split={split!r}"
            )

    def indices(self, split=None):
        """Sorted sample indices of ``split`` (all samples when ``None``)."""
        if split is None:
            return np.arange(len(self))
        self._check_split_name(split)
        return np.flatnonzero(self.split == split)

    def patient_ids(self, split=None):
        """Sorted unique patient ids of ``split`` (all when ``None``)."""
        return np.unique(self.patient_id[self.indices(split)])

    def boxes_for(self, index):
        """Boxes of sample ``index`` as a list of :class:`Box` (empty when none)."""
        n = len(self)
        if not -n <= int(index) < n:
            raise IndexError(f"Sample index out of range [0, {n}). Received: index={index}")
        index = int(index) % n
        b = self.boxes
        if b is None:
            return []
        rows = b[b["image_index"].to_numpy() == index]
        return [
            Box(str(r.label), float(r.x), float(r.y), float(r.w), float(r.h))
            for r in rows.itertuples()
        ]

    def meta(self, name):
        """The per-image meta column ``name`` as a NumPy array."""
        names = self.meta_names
        if name not in names:
            raise KeyError(
                f"No meta column {name!r} in this bundle.{_did_you_mean(name, names)} "
                f"Available: {names}. Received: name={name!r}"
            )
        return self._meta_column(name)


def _check_values(b):
    """Checks on the loaded id/split columns (cheap: strings are already in memory)."""
    bad = sorted(set(np.unique(b.split).tolist()) - set(SPLITS))
    if bad:
        raise BundleError(
            b.path, f"`split` holds unknown names {bad[:5]} (allowed: {list(SPLITS)})"
        )
    if (b.patient_id == "").any():
        first = int(np.flatnonzero(b.patient_id == "")[0])
        raise BundleError(b.path, f"`patient_id` is empty at index {first}")
    if len(np.unique(b.image_id)) != len(b.image_id):
        ids = pd.Series(b.image_id)
        first = ids[ids.duplicated()].iloc[0]
        raise BundleError(b.path, f"`image_id` has duplicates, e.g. {first!r}")


class Bundle(_BundleAccess):
    """An open bundle: ``images`` and ``masks`` stay on disk (h5py datasets), the rest is loaded.

    Use :func:`open_bundle`. Attributes: ``path``, ``images``, ``masks`` (or ``None``),
    ``labels`` (float32 array or ``None``), ``patient_id``, ``image_id``, ``split`` (str
    arrays), ``fold`` (int array or ``None``), ``class_names``, ``mask_names``, ``task``,
    ``attrs`` (all file attributes, decoded), ``boxes`` (DataFrame or ``None``),
    ``meta_names``.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._file = _open_h5(self.path)
        try:
            header = _validate(self._file, self.path)
            f = self._file
            self.task = header["task"]
            self.class_names = header["class_names"]
            self.mask_names = header["mask_names"]
            self.attrs = _decode_attrs(f)
            self.images = f[IMAGES]
            self.masks = f[MASKS] if MASKS in f else None
            self.labels = f[LABELS][()] if LABELS in f else None
            self.patient_id = _read_str(f[PATIENT_ID])
            self.image_id = _read_str(f[IMAGE_ID])
            self.split = _read_str(f[SPLIT])
            _check_values(self)
            self.fold = f[FOLD][()].astype(np.int64) if FOLD in f else None
            self.boxes = _read_boxes(f)
            self.meta_names = sorted(f[META].keys()) if META in f else []
        except BundleError:
            self._file.close()
            raise
        except (OSError, KeyError, ValueError, TypeError) as e:
            self._file.close()
            raise BundleError(self.path, f"cannot be read ({type(e).__name__}: "
                                         f"{' '.join(str(e).split())})") from None

    def _meta_column(self, name):
        ds = self._file[META][name]
        return _read_str(ds) if h5py.check_string_dtype(ds.dtype) else ds[()]

    def close(self):
        if self._file.id.valid:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return (
            f"Bundle({str(self.path)!r}, n={len(self)}, task={self.task!r}, "
            f"image_shape={self.images.shape[1:]}, classes={self.class_names})"
        )


def _read_boxes(f):
    if BOXES not in f:
        return None
    g = f[BOXES]
    return pd.DataFrame({
        "image_index": g["image_index"][()].astype(np.int64),
        "label": _read_str(g["label"]),
        **{c: g[c][()].astype(np.float32) for c in "xywh"},
    })


@dataclass
class BundleData(_BundleAccess):
    """A bundle loaded fully into memory (see :func:`read_bundle`)."""

    path: Path
    images: np.ndarray
    labels: np.ndarray | None
    masks: np.ndarray | None
    patient_id: np.ndarray
    image_id: np.ndarray
    split: np.ndarray
    fold: np.ndarray | None
    class_names: list
    mask_names: list | None
    task: str
    attrs: dict
    boxes: pd.DataFrame | None = None
    meta_columns: dict = field(default_factory=dict)

    @property
    def meta_names(self):
        return sorted(self.meta_columns)

    def _meta_column(self, name):
        return self.meta_columns[name]


def open_bundle(path) -> Bundle:
    """Open and validate a bundle; use as a context manager.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        BundleError: not HDF5, truncated/corrupt, or not matching the schema (the message
            names the file and the problem).
    """
    return Bundle(path)


def read_bundle(path) -> BundleData:
    """Load a whole bundle into memory (for small bundles and tests)."""
    with open_bundle(path) as b:
        try:
            images = b.images[()]
            masks = None if b.masks is None else b.masks[()]
            meta = {k: b._meta_column(k) for k in b.meta_names}
        except (OSError, ValueError) as e:
            raise BundleError(b.path, f"data cannot be read ({' '.join(str(e).split())})") from None
        return BundleData(
            path=b.path, images=images, labels=b.labels, masks=masks, patient_id=b.patient_id,
            image_id=b.image_id, split=b.split, fold=b.fold, class_names=b.class_names,
            mask_names=b.mask_names, task=b.task, attrs=b.attrs, boxes=b.boxes, meta_columns=meta,
        )

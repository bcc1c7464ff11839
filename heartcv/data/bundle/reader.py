"""Reading bundles: :func:`open_bundle` (images and masks stay on disk), :func:`read_bundle`.

Both validate the file first (:mod:`heartcv.data.bundle.validate`); a file that is missing is a
``FileNotFoundError``, one that is not a valid bundle a :class:`BundleError` naming the file and
the problem.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from heartcv.data.bundle.schema import (ATTR_CLASS_NAMES, BOXES, FOLD, IMAGE_ID, IMAGES, LABELS,
                                        MASKS, META, PATIENT_ID, SPLIT, SPLITS, Box, BundleError)
from heartcv.data.bundle.validate import check_values, validate
from heartcv.registry import did_you_mean

__all__ = ["Bundle", "BundleData", "open_bundle", "read_bundle", "read_str"]


def read_str(ds):
    """A 1-D string dataset as a NumPy ``str`` array."""
    return np.asarray(ds.asstr()[()], dtype=str) if len(ds) else np.zeros(0, dtype=str)


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
        if key == ATTR_CLASS_NAMES:
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
                f"Unknown split name.{did_you_mean(split, known)} Expected one of "
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
                f"No meta column {name!r} in this bundle.{did_you_mean(name, names)} "
                f"Available: {names}. Received: name={name!r}"
            )
        return self._meta_column(name)


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
            header = validate(self._file, self.path)
            f = self._file
            self.task = header["task"]
            self.class_names = header["class_names"]
            self.mask_names = header["mask_names"]
            self.attrs = _decode_attrs(f)
            self.images = f[IMAGES]
            self.masks = f[MASKS] if MASKS in f else None
            self.labels = f[LABELS][()] if LABELS in f else None
            self.patient_id = read_str(f[PATIENT_ID])
            self.image_id = read_str(f[IMAGE_ID])
            self.split = read_str(f[SPLIT])
            check_values(self)
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
        return read_str(ds) if h5py.check_string_dtype(ds.dtype) else ds[()]

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
        "label": read_str(g["label"]),
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

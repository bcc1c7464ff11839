"""The one row source of the batch builder: in-memory arrays, bundle rows, the resized cache.

:class:`Rows` holds what a batch is made from: an image reader (:class:`ArrayRows` over an
in-memory array or the resized uint8 cache, :class:`BundleRows` over a bundle's rows, one
h5py handle per process) and, per row, the targets or masks, extra model inputs (e.g. the
MIT-BIH RR features) and sample weights. :meth:`Rows.load` is the one load function: both
the ``tf.data`` and the ``PyDataset`` path read their batches through it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np

from heartcv.data.bundle import open_bundle
from heartcv.data.splits import assert_disjoint

TARGETS = ("auto", "labels", "masks")
CHUNK = 256


def _read_rows(dataset, rows):
    """``dataset[rows]`` for sorted unique ``rows``, reading contiguous runs as slices."""
    out = np.empty((len(rows),) + tuple(dataset.shape[1:]), dtype=dataset.dtype)
    if not len(rows):
        return out
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(rows)]])
    for s, e in zip(starts, stops):
        out[s:e] = dataset[int(rows[s]) : int(rows[e - 1]) + 1]
    return out


def read_any(dataset, rows):
    """``dataset[rows]`` for any order of ``rows`` (h5py needs sorted unique indices)."""
    uniq, inverse = np.unique(np.asarray(rows, dtype=np.int64), return_inverse=True)
    data = _read_rows(dataset, uniq)
    if len(uniq) == len(rows) and np.array_equal(uniq, rows):
        return data
    return data[inverse.reshape(-1)]


class ArrayRows:
    """Rows of an in-memory uint8 array ``(N, H, W, C)``."""

    def __init__(self, array):
        self.array = array
        self.shape = array.shape[1:]

    def read(self, idx):
        return self.array[idx]


class BundleRows:
    """Rows ``rows`` of a bundle's ``images`` or ``masks``; one h5py handle per process."""

    def __init__(self, path, field, rows, shape):
        self.path = Path(path)
        self.field = field
        self.rows = np.asarray(rows, dtype=np.int64)
        self.shape = tuple(shape)
        self._pid = None
        self._bundle = None
        self._lock = threading.Lock()

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(_pid=None, _bundle=None, _lock=None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _dataset(self):
        with self._lock:
            if self._pid != os.getpid():
                self._bundle = open_bundle(self.path)
                self._pid = os.getpid()
        return getattr(self._bundle, self.field)

    def read(self, idx):
        data = read_any(self._dataset(), self.rows[idx])
        return data if data.ndim == 4 else data[..., None]


class Rows:
    """What batches are made from: images and, per row, targets or masks, extra inputs, weights.

    Args:
        images: a row reader (``.read(idx)`` → uint8 ``(B, H, W, C)``, ``.shape``).
        n: number of rows.
        targets: ``(N, ...)`` labels (float32; integer class ids keep their dtype) or None.
        masks: a mask row reader (uint8 ``(B, H, W, M)``) or None.
        extras: ``{name: (N, ...) array}`` further model inputs; the batch's inputs are then
            the dict ``{image_key: images, **extras}``.
        sample_weights: ``(N,)`` float32 or None; batches are then ``(inputs, y, weights)``.
        partial: the masks hold :data:`heartcv.losses.MISSING_MASK` channels.
    """

    def __init__(self, images, n, *, targets=None, masks=None, extras=None, sample_weights=None,
                 image_key="image", partial=False):
        self.images, self.n, self.masks = images, int(n), masks
        if targets is not None:
            targets = np.asarray(targets)
            if not np.issubdtype(targets.dtype, np.integer):
                targets = targets.astype(np.float32, copy=False)
        self.targets = targets
        self.extras = dict(extras or {})
        self.sample_weights = sample_weights
        self.image_key = image_key
        self.partial = bool(partial)

    def fields(self) -> list[str]:
        """The names :meth:`load` returns, in order."""
        names = ["images"]
        if self.masks is not None:
            names.append("masks")
        elif self.targets is not None:
            names.append("targets")
        names += [f"extra:{k}" for k in self.extras]
        if self.sample_weights is not None:
            names.append("weights")
        return names

    def specs(self) -> list[tuple]:
        """``(dtype, per-row shape)`` of each field of :meth:`fields`."""
        out = [(np.uint8, tuple(self.images.shape))]
        if self.masks is not None:
            out.append((np.uint8, tuple(self.masks.shape)))
        elif self.targets is not None:
            out.append((self.targets.dtype, self.targets.shape[1:]))
        out += [(v.dtype, v.shape[1:]) for v in self.extras.values()]
        if self.sample_weights is not None:
            out.append((np.float32, ()))
        return out

    def load(self, idx) -> list:
        """The one load function: the rows ``idx`` of every field of :meth:`fields`."""
        idx = np.asarray(idx)
        out = [self.images.read(idx)]
        if self.masks is not None:
            out.append(self.masks.read(idx))
        elif self.targets is not None:
            out.append(self.targets[idx])
        out += [v[idx] for v in self.extras.values()]
        if self.sample_weights is not None:
            out.append(self.sample_weights[idx])
        return out

    def nbytes(self, size=None) -> int:
        """Bytes the images (and masks) take at ``size`` (default: as stored)."""
        h, w = size or self.images.shape[:2]
        per = self.images.shape[-1] + (self.masks.shape[-1] if self.masks is not None else 0)
        return self.n * h * w * per

    def cached(self, images, masks=None) -> "Rows":
        """These rows with images (and masks) replaced by resized in-memory copies."""
        out = Rows(ArrayRows(images), self.n, targets=self.targets,
                   masks=None if masks is None else ArrayRows(masks), extras=self.extras,
                   sample_weights=self.sample_weights, image_key=self.image_key,
                   partial=self.partial)
        return out


# ------------------------------------------------------------------------------- bundles


class Selection(NamedTuple):
    rows: np.ndarray
    targets: np.ndarray | None
    use_masks: bool
    image_shape: tuple
    mask_shape: tuple | None


def _target(bundle, target):
    if target not in TARGETS:
        raise ValueError(f"Expected `target` in {TARGETS}. Received: target={target!r}")
    if target == "auto":
        target = "masks" if bundle.task == "segmentation" else "labels"
    if target == "masks" and bundle.masks is None:
        raise ValueError(f"Bundle {bundle.path} has no masks. Received: target='masks'")
    if target == "labels" and bundle.labels is None:
        raise ValueError(f"Bundle {bundle.path} has no labels. Received: target='labels'")
    return target


def _rows(bundle, split, indices):
    if indices is None:
        if split is None:
            raise ValueError(
                "Expected a `split` name or `indices`. Received: split=None, indices=None"
            )
        return bundle.indices(split)
    rows = np.asarray(indices, dtype=np.int64).reshape(-1)
    n = len(bundle)
    if len(rows) and (rows.min() < 0 or rows.max() >= n):
        raise ValueError(
            f"Expected `indices` in [0, {n}) for {bundle.path}. "
            f"Received: indices with min {rows.min()}, max {rows.max()}"
        )
    if split is not None:
        outside = rows[bundle.split[rows] != split]
        if len(outside):
            raise ValueError(
                f"Expected `indices` inside split {split!r}. Received: index {int(outside[0])} "
                f"of split {bundle.split[outside[0]]!r}"
            )
    return rows


def select(bundle, split, indices, target):
    """Check leakage and pick the rows and targets of one split of an open bundle."""
    assert_disjoint(bundle.patient_id, bundle.split)
    target = _target(bundle, target)
    rows = _rows(bundle, split, indices)
    if not len(rows):
        raise ValueError(
            f"No samples in split {split!r} of {bundle.path}. Received: split={split!r}"
        )
    targets = bundle.labels[rows] if target == "labels" else None
    use_masks = target == "masks"
    mask_shape = None
    if use_masks:
        ms = bundle.masks.shape
        mask_shape = (ms[1], ms[2], ms[3] if len(ms) == 4 else 1)
    return Selection(rows, targets, use_masks, tuple(bundle.images.shape[1:]), mask_shape)


def bundle_rows(path, split, indices, target, size, cache, memory_limit) -> Rows:
    """The :class:`Rows` of one split of a bundle.

    A resized cache that fits in ``memory_limit`` is built later chunk by chunk from the file
    (never holding the split at full size): its rows stay in the file here; otherwise a split
    that fits is read once into memory; else its rows stream from the file.
    """
    with open_bundle(path) as b:
        sel = select(b, split, indices, target)
        rows = Rows(BundleRows(path, "images", sel.rows, sel.image_shape), len(sel.rows),
                    targets=sel.targets,
                    masks=(BundleRows(path, "masks", sel.rows, sel.mask_shape)
                           if sel.use_masks else None))
        will_cache = bool(cache and size is not None and size != sel.image_shape[:2]
                          and rows.nbytes(size) <= memory_limit)
        if not will_cache and rows.nbytes() <= memory_limit:
            images = read_any(b.images, sel.rows)
            masks = None
            if sel.use_masks:
                masks = read_any(b.masks, sel.rows)
                masks = masks if masks.ndim == 4 else masks[..., None]
            rows = rows.cached(images, masks)
    return rows

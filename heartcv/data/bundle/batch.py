"""One batch of :meth:`heartcv.data.bundle.BundleWriter.append`, checked before it is written.

The first batch fixes the layout of a bundle (which optional fields it carries, the image and
mask shapes, the label width, the meta columns); :func:`check_same_layout` holds every later
batch to it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from heartcv.data.bundle.checks import (as_str_array, check_fold, check_image_ids, check_images,
                                        check_labels, check_masks, check_splits, meta_array,
                                        meta_key)
from heartcv.data.bundle.schema import (FOLD, IMAGE_ID, IMAGES, LABELS, MASKS, META, PATIENT_ID,
                                        SPLIT)

__all__ = ["Batch", "check_batch", "check_first_batch", "check_same_layout", "layout_of",
           "layout_of_file"]


class Batch(NamedTuple):
    """One checked batch, as arrays ready to write."""

    images: np.ndarray
    patient_id: np.ndarray
    image_id: np.ndarray
    split: np.ndarray
    labels: np.ndarray | None
    masks: np.ndarray | None
    fold: np.ndarray | None
    meta: dict

    def fields(self):
        """Which optional fields the batch carries (the first batch fixes them)."""
        return {"labels": self.labels is not None, "masks": self.masks is not None,
                "fold": self.fold is not None, "meta": sorted(self.meta)}

    def writes(self, f):
        """``(dataset, data)`` pairs of ``f`` to write, in the order they are written."""
        out = [(f[IMAGES], self.images), (f[PATIENT_ID], self.patient_id),
               (f[IMAGE_ID], self.image_id), (f[SPLIT], self.split)]
        for name, data in ((LABELS, self.labels), (MASKS, self.masks), (FOLD, self.fold)):
            if data is not None:
                out.append((f[name], data))
        return out + [(f[META][k], v) for k, v in self.meta.items()]


def check_batch(images, *, patient_id, labels, masks, image_id, split, fold, meta, start, task,
                class_names, seen):
    """The arguments of ``append``, checked, as a :class:`Batch`.

    ``start`` is the number of samples already written (the default image ids count on from
    it); ``seen`` the image ids already written.
    """
    images = check_images(images)
    n = len(images)
    pid = as_str_array(patient_id, "patient_id", n, allow_empty=False)
    iid = (
        np.asarray([str(start + i) for i in range(n)], dtype=object)
        if image_id is None
        else as_str_array(image_id, "image_id", n, allow_empty=False)
    )
    check_image_ids(iid, seen)
    spl = np.full(n, "", dtype=object) if split is None else as_str_array(split, "split", n)
    check_splits(spl)
    lab = None if labels is None else check_labels(labels, task, class_names)
    if lab is not None and len(lab) != n:
        raise ValueError(f"Expected `labels` to have {n} rows. Received: "
                         f"labels.shape={lab.shape}")
    msk = None if masks is None else check_masks(masks, images)
    fld = check_fold(fold, n)
    met = {}
    for key, values in dict(meta or {}).items():
        met[meta_key(key)] = meta_array(key, values, n)
    return Batch(images, pid, iid, spl, lab, msk, fld, met)


def check_first_batch(batch, task, mask_names):
    """The first batch fixes the layout: it must carry what ``task`` needs."""
    msk = batch.masks
    if task == "segmentation" and msk is None:
        raise ValueError("Expected `masks` for task='segmentation'. Received: masks=None")
    if task != "segmentation" and batch.labels is None:
        raise ValueError(f"Expected `labels` for task={task!r}. Received: labels=None")
    if msk is not None and msk.ndim == 4 and (
        mask_names is None or len(mask_names) != msk.shape[3]
    ):
        raise ValueError(
            f"Expected `mask_names` with one name per mask channel ({msk.shape[3]}). "
            f"Received: mask_names={mask_names}"
        )


def check_same_layout(batch, lay, f):
    """A later batch carries the same fields, shapes and meta types as the first (``lay``,
    see :func:`layout_of`; ``f`` the file being written)."""
    images, msk, lab = batch.images, batch.masks, batch.labels
    for key, value in batch.fields().items():
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
    for key, values in batch.meta.items():
        ds = f[META][key]
        if (ds.dtype.kind == "O") != (values.dtype == object):
            raise TypeError(
                f"Meta column {key!r} changed type between batches. Received: "
                f"{values.dtype}"
            )


def layout_of(batch):
    """The layout the first ``batch`` fixes."""
    return {
        **batch.fields(),
        "image_shape": batch.images.shape[1:],
        "mask_shape": None if batch.masks is None else batch.masks.shape[1:],
        "n_labels": None if batch.labels is None else batch.labels.shape[1],
    }


def layout_of_file(f):
    """The layout of a partly written file ``f`` (one that holds ``images``)."""
    return {
        "labels": LABELS in f,
        "masks": MASKS in f,
        "fold": FOLD in f,
        "meta": sorted(f[META].keys()) if META in f else [],
        "image_shape": f[IMAGES].shape[1:],
        "mask_shape": f[MASKS].shape[1:] if MASKS in f else None,
        "n_labels": f[LABELS].shape[1] if LABELS in f else None,
    }

"""Checks of the arguments a bundle writer takes; each names what was expected and received.

Shared by :mod:`heartcv.data.bundle.writer` and the dataset converters
(:mod:`heartcv.data.convert`), which check their inputs before any file is written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from heartcv.data.bundle.schema import BOX_COLUMNS, IMAGE_CHANNELS, RESERVED_ATTRS, SPLITS, TASKS
from heartcv.registry import did_you_mean

__all__ = [
    "as_str_array", "box_image_index", "check_attrs", "check_box_table", "check_columns",
    "check_image_array", "check_choice", "check_class_names", "check_fold",
    "check_image_ids", "check_images", "check_labels", "check_mask_names", "check_masks",
    "check_splits", "meta_array", "meta_key",
]


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"Expected `{name}` to be one of {list(choices)}.{did_you_mean(value, choices)} "
            f"Received: {name}={value!r}"
        )


def as_str_array(values, name, n=None, *, allow_empty=True):
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


def check_splits(split, name="split"):
    bad = sorted(set(split.tolist()) - set(SPLITS))
    if bad:
        raise ValueError(
            f"Expected `{name}` values in {list(SPLITS)} ('' = "
            f"unassigned).{did_you_mean(bad[0], SPLITS[:3])} "
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


def check_class_names(class_names, task):
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


def check_mask_names(mask_names):
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


def check_attrs(attrs):
    out = {}
    for key, value in dict(attrs or {}).items():
        if key in RESERVED_ATTRS:
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


def meta_array(name, values, n):
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
    return as_str_array(arr, f"meta[{name!r}]", n)


def meta_key(name):
    name = str(name)
    if not name or name in (".",):
        raise ValueError(f"Expected a non-empty meta column name. Received: {name!r}")
    return name.replace("/", "_")


def check_images(images):
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

def check_masks(masks, images):
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


def check_fold(fold, n):
    """``fold`` as n int8 values in [-1, 127] (``None`` stays ``None``)."""
    if fold is None:
        return None
    fld = np.asarray(fold)
    if (fld.shape != (n,) or not np.issubdtype(fld.dtype, np.integer)
            or (fld < -1).any() or (fld > 127).any()):
        raise ValueError(
            f"Expected `fold` to be {n} ints in [-1, 127]. Received: "
            f"fold={np.asarray(fold)!r}"
        )
    return fld.astype(np.int8)


def check_image_ids(iid, seen):
    """Refuse ``image_id`` values repeated within ``iid`` or already in ``seen``."""
    dup = set(iid.tolist()) & seen
    if dup or len(set(iid.tolist())) != len(iid):
        ids = pd.Series(iid)
        first = sorted(dup)[0] if dup else ids[ids.duplicated()].iloc[0]
        raise ValueError("Expected unique `image_id` values. Received: duplicate "
                         f"image_id={first!r}")


def check_box_table(boxes):
    """A box table (DataFrame or mapping of columns) as a DataFrame with the box columns and
    either ``image_index`` or ``image_id``."""
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
    return df


def box_image_index(df, image_ids, n):
    """The bundle row (int64) of every box of ``df``, checked to lie in [0, n).

    ``image_ids`` is a function returning the bundle's image ids, called only when the boxes
    name their images by ``image_id``.
    """
    if "image_index" in df.columns:
        idx = df["image_index"].to_numpy()
    else:
        pos = {v: i for i, v in enumerate(image_ids().tolist())}
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
    return idx


def check_image_array(images):
    """The shape of ``images`` (any array-like), refused unless (N, H, W[, C]) uint8, N > 0."""
    shape = tuple(getattr(images, "shape", np.shape(images)))
    if len(shape) not in (3, 4) or shape[0] == 0:
        raise ValueError("Expected `images` of shape (N, H, W, C) with N > 0. Received: "
                         f"images.shape={shape}")
    dtype = getattr(images, "dtype", None)
    if dtype is not None and np.dtype(dtype) != np.uint8:
        raise TypeError(f"Expected `images` of dtype uint8. Received: images.dtype={dtype}")
    return shape


def check_columns(shape, *, patient_id, image_id, split, task, class_names, labels, masks,
                  fold, meta):
    """The per-sample arguments of ``write_bundle``, checked against the image count."""
    n = shape[0]
    pid = as_str_array(patient_id, "patient_id", n, allow_empty=False)
    iid = None if image_id is None else as_str_array(image_id, "image_id", n, allow_empty=False)
    spl = None if split is None else as_str_array(split, "split", n)
    if spl is not None:
        check_splits(spl)
    check_choice("task", task, TASKS)
    names = check_class_names(class_names, task)
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
        met[key] = meta_array(key, values, n)
    return {"pid": pid, "iid": iid, "spl": spl, "names": names, "lab": lab, "fld": fld,
            "met": met}

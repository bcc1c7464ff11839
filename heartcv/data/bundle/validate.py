"""The bundle validator: a list of small rules, each with its own message.

Every rule takes the open ``h5py.File`` and the header parsed so far (a dict the rules fill:
``task``, ``class_names``, ``n``, ``mask_names``) and returns the problem as text, or ``None``
when the file passes. :func:`validate` runs :data:`RULES` in order and raises
:class:`BundleError` (the file and the first problem) at the first that fails, so a rule may
rely on every rule before it. :data:`VALUE_RULES` check the id and split columns once the
reader has loaded them (strings already in memory, so cheap).
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd

from heartcv.data.bundle.schema import (
    ATTR_CLASS_NAMES,
    ATTR_MASK_NAMES,
    ATTR_SCHEMA_VERSION,
    ATTR_TASK,
    BOX_COLUMNS,
    BOXES,
    FOLD,
    ID_COLUMNS,
    IMAGE_CHANNELS,
    IMAGES,
    LABELS,
    MASKS,
    META,
    REQUIRED_DATASETS,
    SCHEMA_VERSION,
    SPLITS,
    TASKS,
    BundleError,
)

__all__ = ["RULES", "VALUE_RULES", "validate", "check_values"]


def _length(name, ds, header):
    n = header["n"]
    return None if len(ds) == n else f"`{name}` has {len(ds)} entries but `images` has {n}"


# -- attributes -------------------------------------------------------------------------------


def schema_version_present(f, header):
    if f.attrs.get(ATTR_SCHEMA_VERSION) is None:
        return "no `schema_version` attribute (not a heartcv bundle)"
    return None


def schema_version_supported(f, header):
    version = int(f.attrs[ATTR_SCHEMA_VERSION])
    if version != SCHEMA_VERSION:
        return (f"schema_version {version} is not supported (this heartcv reads version "
                f"{SCHEMA_VERSION})")
    return None


def task_known(f, header):
    task = f.attrs.get(ATTR_TASK)
    if task not in TASKS:
        return f"attribute `task`={task!r} is not one of {list(TASKS)}"
    header["task"] = task
    return None


def class_names_json_list(f, header):
    raw = f.attrs.get(ATTR_CLASS_NAMES, "[]")
    try:
        class_names = json.loads(raw)
    except (ValueError, TypeError):
        class_names = None
    if not isinstance(class_names, list):
        return f"attribute `class_names` is not a JSON list: {f.attrs.get(ATTR_CLASS_NAMES)!r}"
    header["class_names"] = class_names
    return None


# -- required datasets ------------------------------------------------------------------------


def required_datasets_present(f, header):
    for name in REQUIRED_DATASETS:
        if name not in f or not isinstance(f[name], h5py.Dataset):
            return f"required dataset `{name}` is missing"
    return None


def images_layout(f, header):
    images = f[IMAGES]
    if images.ndim != 4 or images.dtype != np.uint8 or images.shape[3] not in IMAGE_CHANNELS:
        return (f"`images` must be (N, H, W, C) uint8 with C in {IMAGE_CHANNELS}; "
                f"found {images.shape} {images.dtype}")
    return None


def images_not_empty(f, header):
    header["n"] = f[IMAGES].shape[0]
    return "`images` is empty" if header["n"] == 0 else None


def id_columns_are_strings(f, header):
    for name in ID_COLUMNS:
        ds = f[name]
        if ds.ndim != 1 or h5py.check_string_dtype(ds.dtype) is None:
            return f"`{name}` must be a 1-D string dataset; found {ds.shape} {ds.dtype}"
        problem = _length(name, ds, header)
        if problem:
            return problem
    return None


# -- labels -----------------------------------------------------------------------------------


def labels_layout(f, header):
    if LABELS not in f:
        return None
    ds = f[LABELS]
    if ds.ndim != 2 or ds.dtype != np.float32:
        return f"`labels` must be (N, K) float32; found {ds.shape} {ds.dtype}"
    return _length(LABELS, ds, header)


def labels_match_class_names(f, header):
    if LABELS not in f:
        return None
    k, names = f[LABELS].shape[1], header["class_names"]
    if k != len(names):
        return f"`labels` has {k} columns but class_names lists {len(names)}"
    return None


def labels_present_for_task(f, header):
    task = header["task"]
    if LABELS not in f and task != "segmentation":
        return f"task {task!r} needs a `labels` dataset, which is missing"
    return None


# -- masks ------------------------------------------------------------------------------------


def masks_layout(f, header):
    if MASKS not in f:
        return None
    ds, size = f[MASKS], f[IMAGES].shape[1:3]
    if ds.ndim not in (3, 4) or ds.dtype != np.uint8 or ds.shape[1:3] != size:
        return (f"`masks` must be (N, H, W[, M]) uint8 matching images {size}; found "
                f"{ds.shape} {ds.dtype}")
    return _length(MASKS, ds, header)


def mask_names_match_channels(f, header):
    header["mask_names"] = None
    if MASKS not in f:
        return None
    ds = f[MASKS]
    if ATTR_MASK_NAMES in ds.attrs:
        mask_names = json.loads(ds.attrs[ATTR_MASK_NAMES])
        header["mask_names"] = mask_names
        if ds.ndim == 4 and len(mask_names) != ds.shape[3]:
            return f"`masks` has {ds.shape[3]} channels but mask_names lists {len(mask_names)}"
    elif ds.ndim == 4:
        return "4-D `masks` need a `mask_names` attribute"
    return None


def masks_present_for_segmentation(f, header):
    if MASKS not in f and header["task"] == "segmentation":
        return "task 'segmentation' needs a `masks` dataset, which is missing"
    return None


# -- optional columns -------------------------------------------------------------------------


def fold_layout(f, header):
    if FOLD not in f:
        return None
    ds = f[FOLD]
    if ds.ndim != 1 or not np.issubdtype(ds.dtype, np.integer):
        return f"`fold` must be 1-D integers; found {ds.shape} {ds.dtype}"
    return _length(FOLD, ds, header)


def meta_columns_layout(f, header):
    for key, ds in (f[META].items() if META in f else ()):
        if not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
            return f"`meta/{key}` must be a 1-D dataset"
        problem = _length(f"meta/{key}", ds, header)
        if problem:
            return problem
    return None


def boxes_columns_present(f, header):
    missing = [c for c in BOX_COLUMNS if c not in f[BOXES]] if BOXES in f else []
    return f"`boxes` lacks columns {missing}" if missing else None


def boxes_columns_same_length(f, header):
    if BOXES in f and len({len(f[BOXES][c]) for c in BOX_COLUMNS}) != 1:
        return "`boxes` columns differ in length"
    return None


def boxes_index_in_range(f, header):
    if BOXES not in f:
        return None
    idx, n = f[BOXES]["image_index"][()], header["n"]
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        return f"`boxes/image_index` out of range [0, {n})"
    return None


RULES = (
    schema_version_present,
    schema_version_supported,
    task_known,
    class_names_json_list,
    required_datasets_present,
    images_layout,
    images_not_empty,
    id_columns_are_strings,
    labels_layout,
    labels_match_class_names,
    labels_present_for_task,
    masks_layout,
    mask_names_match_channels,
    masks_present_for_segmentation,
    fold_layout,
    meta_columns_layout,
    boxes_columns_present,
    boxes_columns_same_length,
    boxes_index_in_range,
)


def validate(f, path):
    """Check a bundle's structure; returns the parsed header. Raises :class:`BundleError`."""
    header = {}
    for rule in RULES:
        problem = rule(f, header)
        if problem is not None:
            raise BundleError(path, problem)
    return {
        "n": header["n"], "task": header["task"],
        "class_names": [str(c) for c in header["class_names"]],
        "mask_names": header["mask_names"],
    }


# -- values of the loaded id and split columns ------------------------------------------------


def split_names_known(b):
    bad = sorted(set(np.unique(b.split).tolist()) - set(SPLITS))
    if bad:
        return f"`split` holds unknown names {bad[:5]} (allowed: {list(SPLITS)})"
    return None


def patient_ids_not_empty(b):
    if (b.patient_id == "").any():
        return f"`patient_id` is empty at index {int(np.flatnonzero(b.patient_id == '')[0])}"
    return None


def image_ids_unique(b):
    if len(np.unique(b.image_id)) != len(b.image_id):
        ids = pd.Series(b.image_id)
        return f"`image_id` has duplicates, e.g. {ids[ids.duplicated()].iloc[0]!r}"
    return None


VALUE_RULES = (split_names_known, patient_ids_not_empty, image_ids_unique)


def check_values(b):
    """Run :data:`VALUE_RULES` on a loaded bundle ``b``; raises :class:`BundleError`."""
    for rule in VALUE_RULES:
        problem = rule(b)
        if problem is not None:
            raise BundleError(b.path, problem)

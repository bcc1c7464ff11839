"""A dataset index checked and prepared for :func:`heartcv.data.convert.convert_index`.

The index contract (columns, ``index.attrs``) is described in :mod:`heartcv.data.convert`;
:func:`prepare_index` checks it step by step, before any image is read, and returns the
columns as arrays (:class:`PreparedIndex`). :func:`index_fingerprint` identifies an index and
its settings, so that an interrupted conversion resumes only the same work.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from heartcv.data.bundle import TASKS
from heartcv.data.bundle.checks import as_str_array, check_choice, check_labels, check_splits
from heartcv.data.splits import assert_disjoint
from heartcv.registry import did_you_mean

__all__ = ["PreparedIndex", "REQUIRED_COLUMNS", "index_fingerprint", "prepare_index",
           "scaled_boxes"]

REQUIRED_COLUMNS = ("image_id", "path", "patient_id")
RESERVED_COLUMNS = {"image_id", "path", "patient_id", "split", "mask_path"}
BOX_INDEX_COLUMNS = ["image_id", "label", "x", "y", "w", "h"]


@dataclass
class PreparedIndex:
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


def prepare_index(index, meta_columns):
    """Check ``index`` (see :mod:`heartcv.data.convert`) and return it as a
    :class:`PreparedIndex`; ``meta_columns`` as in ``convert_index``."""
    cols, attrs = _check_frame(index)
    task = attrs["task"]
    check_choice("index.attrs['task']", task, TASKS)
    class_names = [str(c) for c in attrs["class_names"]]
    image_id, patient_id, path, split = _id_columns(index, cols)
    labels = _labels(index, cols, task, class_names)
    mask_cols, mask_names, named = _mask_columns(cols, task)
    orig_wh = _orig_sizes(index, cols)
    used = RESERVED_COLUMNS | set(class_names) | set(named)
    meta = _meta(index, cols, meta_columns, used)
    return PreparedIndex(
        image_id, path, patient_id, split, labels, class_names, task, str(attrs["source"]),
        mask_cols, mask_names, orig_wh, meta, _boxes(attrs),
        attrs.get("negative_class") if task == "binary" else None,
    )


def _check_frame(index):
    """A non-empty DataFrame with the required columns and attrs; returns (columns, attrs)."""
    if not isinstance(index, pd.DataFrame):
        raise TypeError("Expected `index` to be a pandas DataFrame. Received: "
                        f"{type(index).__name__}")
    if len(index) == 0:
        raise ValueError("Expected a non-empty `index`. Received: 0 rows")
    cols = list(index.columns)
    for c in REQUIRED_COLUMNS:
        if c not in cols:
            raise ValueError(
                f"The index lacks the required column {c!r}.{did_you_mean(c, cols)} Received: "
                f"columns={cols}"
            )
    attrs = index.attrs
    for key in ("class_names", "task", "source"):
        if key not in attrs:
            raise ValueError(
                f"Expected index.attrs[{key!r}] (set by the dataset reader). Received: attrs "
                f"keys={sorted(attrs)}"
            )
    return cols, attrs


def _id_columns(index, cols):
    """``image_id`` (unique), ``patient_id``, ``path`` and ``split`` (patient-disjoint)."""
    n = len(index)
    image_id = as_str_array(index["image_id"], "image_id", n, allow_empty=False)
    dup = pd.Series(image_id).duplicated()
    if dup.any():
        raise ValueError(
            f"Expected unique image_id values in the index; {int(dup.sum())} duplicates. "
            f"Received: image_id={image_id[dup.to_numpy()][0]!r}"
        )
    patient_id = as_str_array(index["patient_id"], "patient_id", n, allow_empty=False)
    path = as_str_array(index["path"], "path", n)
    split = as_str_array(index["split"], "split", n) if "split" in cols else np.full(n, "", object)
    check_splits(split)
    assert_disjoint(patient_id, split)
    return image_id, patient_id, path, split


def _labels(index, cols, task, class_names):
    """The label matrix of the ``class_names`` columns (``None`` when there is none)."""
    missing = [c for c in class_names if c not in cols]
    if task != "segmentation" and missing:
        raise ValueError(
            f"The index lacks label columns {missing} named in attrs['class_names']."
            f"{did_you_mean(missing[0], cols)} Received: columns={cols}"
        )
    if not class_names or missing:
        return None
    try:
        return check_labels(index[class_names].to_numpy(dtype=np.float32), task, class_names)
    except (TypeError, ValueError) as e:
        raise ValueError(f"Invalid labels in the index: {e}") from None


def _mask_columns(cols, task):
    """``(mask_cols, mask_names, named)``: one ``mask_path`` or several ``mask_path:<name>``."""
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
    return mask_cols, mask_names, named


def _orig_sizes(index, cols):
    """(N, 2) ``orig_w``, ``orig_h`` as floats (NaN unknown), or ``None``."""
    if "orig_w" in cols and "orig_h" in cols:
        orig = index[["orig_w", "orig_h"]].apply(pd.to_numeric, errors="coerce")
        return orig.to_numpy(np.float64)
    return None


def _meta(index, cols, meta_columns, used):
    """The meta columns (``meta_columns``, or every column not ``used``) as arrays."""
    n = len(index)
    if meta_columns is None:
        meta_names = [c for c in cols if c not in used]
    else:
        meta_names = list(meta_columns)
        for c in meta_names:
            if c not in cols:
                raise ValueError(f"Unknown meta column {c!r}.{did_you_mean(c, cols)} Received: "
                                 f"meta_columns={meta_names}")
    meta = {}
    for c in meta_names:
        s = index[c]
        if pd.api.types.is_bool_dtype(s):
            meta[str(c)] = s.to_numpy(np.int8)
        elif pd.api.types.is_numeric_dtype(s):
            meta[str(c)] = s.to_numpy()
        else:
            meta[str(c)] = as_str_array(s.to_numpy(object), f"index[{c!r}]", n)
    return meta


def _boxes(attrs):
    """``index.attrs['boxes']`` as a DataFrame with the box columns, or ``None``."""
    boxes = attrs.get("boxes")
    if boxes is None:
        return None
    boxes = pd.DataFrame(boxes)
    lack = [c for c in BOX_INDEX_COLUMNS if c not in boxes.columns]
    if lack:
        raise ValueError(
            f"index.attrs['boxes'] lacks columns {lack}. Received: "
            f"columns={list(boxes.columns)}"
        )
    return boxes


def index_fingerprint(p, index, params):
    """A hash of the prepared index ``p`` (with its mask paths from ``index``) and ``params``."""
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


def scaled_boxes(p, boxes, kept_ids, src_hw, size):
    """The index's ``boxes`` of the images kept (``kept_ids``, bundle rows in order) scaled
    from their frame (``orig_w`` x ``orig_h`` where known, else the stored ``src_hw``) to
    ``size`` x ``size``; returns ``(table, number dropped)``."""
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

"""Shared argument checks, JSON-safe conversion and atomic writes for evaluation and reports."""

import math
from pathlib import Path

from heartcv.files import atomic_path

import numpy as np

TASKS = ("binary", "multiclass", "multilabel")


from heartcv.registry import did_you_mean  # noqa: E402,F401  (the one helper, re-exported)


def check_task(task):
    if task not in TASKS:
        raise ValueError(
            f"Expected `task` to be one of {TASKS}.{did_you_mean(task, TASKS)} "
            f"Received: task={task!r}"
        )
    return task


def check_unit_interval(value, name, *, open_low=False, open_high=False):
    """Check that ``value`` (scalar or array) lies in [0, 1] (ends optionally open)."""
    arr = np.asarray(value, dtype=float)
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if open_low:
        bad |= arr <= 0
    if open_high:
        bad |= arr >= 1
    if np.any(bad):
        low = "(0" if open_low else "[0"
        high = "1)" if open_high else "1]"
        raise ValueError(f"Expected `{name}` in {low}, {high}. Received: {name}={value!r}")
    return arr


def check_ci(ci):
    check_unit_interval(ci, "ci", open_low=True, open_high=True)
    return float(ci)


def check_n_boot(n_boot):
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"Expected `n_boot` to be an int >= 0. Received: n_boot={n_boot!r}")
    return int(n_boot)


def as_float_array(x, name):
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"Expected `{name}` to be numeric array-like. Received: {name}={x!r}"
        ) from err
    return arr


def resolve_class_names(class_names, num_classes, task):
    """Return ``class_names`` as a list of ``num_classes`` unique strings (defaults if None)."""
    if class_names is None:
        if task == "binary":
            return ["negative", "positive"]
        return [f"class_{i}" for i in range(num_classes)]
    names = [str(n) for n in class_names]
    if len(names) != num_classes:
        raise ValueError(
            f"Expected {num_classes} `class_names` for task={task!r} with these arrays. "
            f"Received: class_names={list(class_names)!r}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"Expected unique `class_names`. Received: class_names={names!r}")
    return names


def prepare(y_true, y_score, task):
    """Validate and normalise ``(y_true, y_score)`` for ``task``.

    Returns:
        ``(y, s)``: binary: ``y`` (N,) int in {0, 1}, ``s`` (N,) positive-class score;
        multiclass: ``y`` (N,) int in [0, K), ``s`` (N, K); multilabel: ``y`` (N, K) float in
        {0, 1, NaN}, ``s`` (N, K).
    """
    check_task(task)
    yt = as_float_array(y_true, "y_true")
    ys = as_float_array(y_score, "y_score")
    if yt.ndim == 0 or yt.shape[0] == 0:
        raise ValueError(f"Expected a non-empty `y_true`. Received: y_true.shape={yt.shape}")
    if ys.shape[:1] != yt.shape[:1]:
        raise ValueError(
            "Expected `y_true` and `y_score` to have the same number of samples. "
            f"Received: y_true.shape={yt.shape}, y_score.shape={ys.shape}"
        )
    if not np.all(np.isfinite(ys)):
        raise ValueError(
            "Expected finite `y_score` (no NaN/inf). Received: y_score with non-finite values"
        )
    if task != "multilabel" and np.isnan(yt).any():
        raise ValueError(
            f"NaN labels are only allowed for task='multilabel'. Received: task={task!r}, "
            f"y_true with {int(np.isnan(yt).sum())} NaN entries"
        )
    return _PREPARE[task](yt, ys, y_true, y_score)


def _prepare_binary(yt, ys, y_true, y_score):
    if yt.ndim == 2 and yt.shape[1] == 2:
        yt = np.argmax(yt, axis=1).astype(float)
    elif yt.ndim == 2 and yt.shape[1] == 1:
        yt = yt[:, 0]
    if ys.ndim == 2 and ys.shape[1] in (1, 2):
        ys = ys[:, -1]
    if yt.ndim != 1 or ys.ndim != 1:
        raise ValueError(
            "Expected binary `y_true` of shape (N,), (N, 1) or one-hot (N, 2) and `y_score` of "
            f"shape (N,), (N, 1) or (N, 2). Received: y_true.shape={np.shape(y_true)}, "
            f"y_score.shape={np.shape(y_score)}"
        )
    if not np.all(np.isin(yt, (0.0, 1.0))):
        raise ValueError(
            f"Expected binary `y_true` in {{0, 1}}. Received: values {np.unique(yt)[:10]}"
        )
    return yt.astype(int), ys


def _prepare_multiclass(yt, ys, y_true, y_score):
    if ys.ndim != 2 or ys.shape[1] < 2:
        raise ValueError(
            "Expected multiclass `y_score` of shape (N, K) with K >= 2. "
            f"Received: y_score.shape={ys.shape}"
        )
    k = ys.shape[1]
    if yt.ndim == 2:
        if yt.shape[1] != k or not np.all(np.isin(yt, (0.0, 1.0))) or np.any(yt.sum(1) != 1):
            raise ValueError(
                f"Expected one-hot `y_true` of shape (N, {k}). "
                f"Received: y_true.shape={yt.shape}"
            )
        yt = np.argmax(yt, axis=1).astype(float)
    if yt.ndim != 1 or np.any(yt != np.round(yt)) or yt.min() < 0 or yt.max() >= k:
        raise ValueError(
            f"Expected integer `y_true` in [0, {k}) of shape (N,) or one-hot (N, {k}). "
            f"Received: y_true.shape={np.shape(y_true)}, values {np.unique(yt)[:10]}"
        )
    return yt.astype(int), ys


def _prepare_multilabel(yt, ys, y_true, y_score):
    if yt.ndim == 1:
        yt = yt[:, None]
    if ys.ndim == 1:
        ys = ys[:, None]
    if yt.ndim != 2 or ys.shape != yt.shape:
        raise ValueError(
            "Expected multilabel `y_true` and `y_score` of the same shape (N, K). "
            f"Received: y_true.shape={np.shape(y_true)}, y_score.shape={np.shape(y_score)}"
        )
    known = ~np.isnan(yt)
    if not np.all(np.isin(yt[known], (0.0, 1.0))):
        raise ValueError(
            "Expected multilabel `y_true` in {0, 1, NaN}. "
            f"Received: values {np.unique(yt[known])[:10]}"
        )
    return yt, ys


_PREPARE = {"binary": _prepare_binary, "multiclass": _prepare_multiclass,
            "multilabel": _prepare_multilabel}


def fnum(x):
    """Plain Python float (NaN kept) from a numpy/Python number."""
    return float(x) if x is not None else math.nan


def to_jsonable(obj):
    """Convert numpy scalars/arrays, tuples and Paths in ``obj`` to JSON-serialisable builtins.

    NaN stays ``float('nan')`` (Python's ``json`` writes it as ``NaN``).
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    if isinstance(obj, (str, type(None))):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Cannot convert to JSON: {type(obj).__name__}. Received: {obj!r}")


def atomic_save_figure(fig, path, *, dpi=120):
    """Save a matplotlib ``Figure`` as PNG to ``path`` via a temp file and ``os.replace``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return Path(path)

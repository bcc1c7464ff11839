"""Class weights and label frequencies, computed from the training split's labels."""

from __future__ import annotations

import numpy as np


def class_weights(labels, task):
    """``{class: weight}`` for ``Model.fit(class_weight=...)``, scikit-learn's "balanced" rule.

    ``weight_c = n / (n_classes * n_c)`` over the samples with a known label. Compute it from
    the training split only.

    Args:
        labels: binary: ``(N,)`` or ``(N, 1)`` 0/1; multiclass: one-hot ``(N, K)`` or
            integer ``(N,)``. Rows with NaN are ignored.
        task: ``"binary"`` or ``"multiclass"``.

    Returns:
        dict mapping class index to float weight.

    Raises:
        ValueError: a multilabel/segmentation task (Keras would argmax the targets; use
            :func:`label_frequencies` with a weighted loss), a class with no sample, or values
            other than 0/1 for binary.
    """
    if task not in ("binary", "multiclass"):
        raise ValueError(
            "Expected `task` 'binary' or 'multiclass' (Keras argmaxes `class_weight` for "
            "multi-label targets; use `label_frequencies` and a weighted loss). "
            f"Received: task={task!r}"
        )
    y = np.asarray(labels, dtype=np.float64)
    if task == "binary":
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(
                f"Expected binary `labels` of shape (N,) or (N, 1). "
                f"Received: labels.shape={y.shape}"
            )
        y = y[~np.isnan(y)]
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("Expected binary `labels` of 0, 1 or NaN. Received: other values")
        classes, n_classes = y.astype(np.int64), 2
    elif y.ndim == 2:
        y = y[~np.isnan(y).any(axis=1)]
        classes, n_classes = np.argmax(y, axis=1), y.shape[1]
    elif y.ndim == 1:
        y = y[~np.isnan(y)]
        if len(y) and (np.any(y < 0) or np.any(y != np.round(y))):
            raise ValueError("Expected integer class `labels` >= 0. Received: other values")
        classes = y.astype(np.int64)
        n_classes = int(classes.max()) + 1 if len(classes) else 0
    else:
        raise ValueError(
            f"Expected multiclass `labels` of shape (N,) or (N, K). "
            f"Received: labels.shape={y.shape}"
        )
    counts = np.bincount(classes, minlength=n_classes)
    if not len(classes) or (counts == 0).any():
        missing = np.flatnonzero(counts == 0).tolist() if len(classes) else list(range(n_classes))
        raise ValueError(
            f"Expected every class to have a labelled sample. "
            f"Received: no samples of class(es) {missing}"
        )
    n = len(classes)
    return {int(c): float(n / (n_classes * counts[c])) for c in range(n_classes)}


def label_frequencies(labels):
    """Positive and negative frequency of each label, NaN (unknown) ignored.

    For the weighted binary cross-entropy of multi-label chest X-ray classification
    (Rajpurkar et al. 2017, CheXNet): positives weighted by ``negative`` and negatives by
    ``positive``. Compute it from the training split only.

    Args:
        labels: ``(N, K)`` (or ``(N,)``) of 0, 1 or NaN.

    Returns:
        dict with float64 arrays ``"positive"`` and ``"negative"`` (``(K,)``, summing to 1
        per label) and int ``"count"`` (known values per label).

    Raises:
        ValueError: values other than 0/1/NaN, or a label with no known value.
    """
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise ValueError(f"Expected `labels` of shape (N, K). Received: labels.shape={y.shape}")
    known = ~np.isnan(y)
    if not np.isin(y[known], (0.0, 1.0)).all():
        raise ValueError("Expected `labels` of 0, 1 or NaN. Received: other values")
    count = known.sum(axis=0)
    if (count == 0).any():
        raise ValueError(
            f"Expected every label to have a known value. Received: none for label column(s) "
            f"{np.flatnonzero(count == 0).tolist()}"
        )
    positive = np.nansum(y, axis=0) / count
    return {"positive": positive, "negative": 1.0 - positive, "count": count}

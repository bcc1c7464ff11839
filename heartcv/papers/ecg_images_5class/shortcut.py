"""Does a model read the trace? A shortcut probe and background-shifted test sets.

The lead crops of the Khan et al. ECGs differ between classes in ways that are not cardiac:
in the ``leads28`` copy under ``../shared/data`` the MI crops sit on a grey background
(0.04 % of their pixels are 0; history of MI 12 %, COVID-19 15 %), while MI ECGs of the
same public set that are not in that copy have more than half of their pixels at 0. A
model can score well by learning the background. Two checks follow:

- :func:`shortcut_probe`: a classifier on *trace-free* statistics of every crop (mean,
  background level = median, share of zero pixels, standard deviation; 13 x 4 per ECG),
  logistic regression and gradient boosting fitted on the training split, the one with the
  better validation accuracy scored on the test split. A model is credited with reading
  the ECG only where it beats the probe (:func:`compare_to_probe`: the 95 % paired
  bootstrap interval of its accuracy minus the probe's, on the same test ECGs, lies above 0).
- :func:`background_shift`: the test crops with their background moved, ``"black"``
  (every crop's background level to 0, the MI ECGs elsewhere) or ``"grey"`` (0 raised to
  45, the grey MI crops here), the trace kept. A model that reads the trace keeps its
  accuracy; :class:`heartcv.layers.BackgroundNormalization` gives the same input for both
  up to rounding.
"""

from __future__ import annotations

import numpy as np
from heartcv.evaluation.roc import percentile_ci

#: Per-crop statistics the probe sees, in feature order (13 crops x these).
STATISTICS = ("mean", "background", "zero_share", "std")
SHIFTS = ("black", "grey")
GREY_LEVEL = 45  # the MI crops' median background in ../shared/data (grey levels)


def crop_statistics(x) -> np.ndarray:
    """``(N, 13 * 4)`` float: :data:`STATISTICS` of each lead crop of ``x`` (N, H, W, 13).

    ``background`` is the crop's median grey level (the level ``BackgroundNormalization``
    subtracts), ``zero_share`` the fraction of pixels equal to 0.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"Expected lead volumes (N, H, W, C). Received: shape={x.shape}")
    flat = x.reshape(len(x), -1, x.shape[-1]).astype(np.float64)
    feats = [flat.mean(1), np.median(flat, axis=1), (flat == 0).mean(1), flat.std(1)]
    return np.stack(feats, axis=-1).reshape(len(x), -1)


def _background(x) -> np.ndarray:
    """Per crop, the median grey level as ``BackgroundNormalization`` takes it, (N, 1, 1, C)."""
    flat = np.sort(x.reshape(len(x), -1, x.shape[-1]), axis=1)
    pick = int(round(0.5 * (flat.shape[1] - 1)))
    return flat[:, pick][:, None, None, :].astype(np.float64)


def background_shift(x, kind) -> np.ndarray:
    """``x`` (N, H, W, C, [0, 255]) with every crop's background moved, trace kept; uint8.

    ``"black"``: ``(x - b) * 255 / (255 - b)`` clipped at 0, ``b`` the crop's median (its
    background goes to 0, its brightest ink stays 255). ``"grey"``: ``45 + x * 210 / 255``
    (a black background becomes the grey 45 of the MI crops here). Both are non-decreasing
    maps of the grey levels, affine between background and ink.
    """
    if kind not in SHIFTS:
        raise ValueError(f"Expected `kind` in {SHIFTS}. Received: kind={kind!r}")
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"Expected lead volumes (N, H, W, C). Received: shape={x.shape}")
    xf = x.astype(np.float64)
    if kind == "black":
        b = _background(x)
        out = np.maximum(xf - b, 0.0) * 255.0 / np.maximum(255.0 - b, 1.0)
    else:
        out = GREY_LEVEL + xf * (255.0 - GREY_LEVEL) / 255.0
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def shortcut_probe(data, *, seed=0) -> dict:
    """Fit the trace-free probe on ``data``'s training split; score it on validation and test.

    Args:
        data: ``VolumeSplits`` with ``train``, ``val`` and ``test``.
        seed: random state of the gradient boosting.

    Returns:
        ``{"chosen": name, "candidates": {name: {"val_accuracy", "test_accuracy"}},
        "y_true": (n_test,) int, "y_pred": (n_test,) int, "y_score": (n_test, K),
        "features": list}``; the chosen probe has the best validation accuracy
        (logistic regression on ties, and where there is no validation split).
    """
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    for split in ("train", "test"):
        if split not in data.splits or not len(data.splits[split]):
            raise ValueError(f"Expected a {split!r} split for the shortcut probe. "
                             f"Received: splits={sorted(data.splits)}")
    k = len(data.class_names)
    have = [s for s in ("train", "val", "test") if s in data.splits and len(data.splits[s])]
    xs = {s: crop_statistics(data.splits[s].images) for s in have}
    ys = {s: np.argmax(data.splits[s].targets, axis=-1) for s in xs}
    probes = {
        "logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, C=1.0)),
        "gboost": GradientBoostingClassifier(n_estimators=150, max_depth=2, learning_rate=0.1,
                                             random_state=seed),
    }
    candidates, scores = {}, {}
    for name, clf in probes.items():
        clf.fit(xs["train"], ys["train"])
        score = np.zeros((len(ys["test"]), k))
        score[:, clf.classes_] = clf.predict_proba(xs["test"])
        candidates[name] = {"test_accuracy": float(np.mean(score.argmax(-1) == ys["test"]))}
        if "val" in xs:
            val_pred = clf.classes_[np.argmax(clf.predict_proba(xs["val"]), axis=-1)]
            candidates[name]["val_accuracy"] = float(np.mean(val_pred == ys["val"]))
        scores[name] = score
    chosen = max(candidates, key=lambda n: (candidates[n].get("val_accuracy", 0.0),
                                            n == "logreg"))
    names = [f"{lead}:{stat}" for lead in range(data.splits["test"].images.shape[-1])
             for stat in STATISTICS]
    return {"chosen": chosen, "candidates": candidates, "y_true": ys["test"],
            "y_pred": scores[chosen].argmax(-1), "y_score": scores[chosen], "features": names}


def _bootstrap_mean_ci(values, n_boot, ci, seed) -> list:
    """Percentile interval of the mean of ``values`` over ``n_boot`` seeded resamples."""
    rng = np.random.default_rng(seed)
    return percentile_ci(values[rng.integers(0, len(values), (n_boot, len(values)))].mean(1), ci)


def accuracy_ci(y_true, y_pred, *, n_boot=2000, ci=0.95, seed=0) -> dict:
    """Accuracy with a percentile bootstrap interval over test ECGs."""
    correct = (np.asarray(y_true) == np.asarray(y_pred)).astype(float)
    lo, hi = _bootstrap_mean_ci(correct, n_boot, ci, seed)
    return {"accuracy": float(correct.mean()), "ci_low": lo, "ci_high": hi}


def compare_to_probe(y_true, y_pred, probe_pred, *, n_boot=2000, ci=0.95, seed=0) -> dict:
    """Paired bootstrap of ``accuracy(model) - accuracy(probe)`` on the same test ECGs.

    Returns ``{"difference", "ci_low", "ci_high", "credited"}``; ``credited`` (1 or 0) is
    whether the interval's lower bound is above 0: the model beats the shortcut probe.
    """
    y_true = np.asarray(y_true)
    d = ((np.asarray(y_pred) == y_true).astype(float)
         - (np.asarray(probe_pred) == y_true).astype(float))
    lo, hi = _bootstrap_mean_ci(d, n_boot, ci, seed)
    return {"difference": float(d.mean()), "ci_low": lo, "ci_high": hi,
            "credited": int(lo > 0)}

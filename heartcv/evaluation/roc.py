"""ROC curves, AUROC and case-resampling bootstrap confidence intervals.

AUROC is the Mann-Whitney probability that a random positive scores above a random negative
(ties count one half), identical to ``sklearn.metrics.roc_auc_score``. Bootstrap replicates
are computed exactly and vectorised: each resample is a vector of case multiplicities, and the
AUROC of a weighted sample is evaluated over tied-score groups in one pass, so 1,000
replicates on 25,000 cases take about a second.

Reference:
    Efron B, Tibshirani RJ. *An Introduction to the Bootstrap*. Chapman & Hall, 1993
    (percentile intervals, ch. 13). Hanley JA, McNeil BJ. The meaning and use of the area
    under a receiver operating characteristic (ROC) curve. *Radiology* 1982;143:29-36.
"""

import numpy as np
from sklearn.metrics import roc_curve as _sk_roc_curve

from heartcv.evaluation._common import (
    check_ci,
    check_n_boot,
    fnum,
    prepare,
    resolve_class_names,
)

# Upper bound on resamples x cases held in memory at once (float64 temporaries ~5x this).
_CHUNK_ELEMENTS = 2_000_000


def weighted_auc(y, score, weights):
    """AUROC of a weighted sample, one value per column of ``weights``.

    Cases are sorted by score once; tied scores are pooled into groups, and each positive
    group earns the negative weight strictly below it plus half the tied negative weight.

    Args:
        y: (n,) bool, positive cases.
        score: (n,) scores, higher means more likely positive.
        weights: (n, B) non-negative case weights (bootstrap multiplicities), or (n,).

    Returns:
        (B,) float AUROC; NaN where a column has zero positive or zero negative weight.
    """
    y = np.asarray(y, dtype=bool)
    w = np.asarray(weights, dtype=float)
    w = w[:, None] if w.ndim == 1 else w
    order = np.argsort(score, kind="mergesort")
    s = np.asarray(score, dtype=float)[order]
    yy = y[order]
    w = w[order]  # row gather: (n, B) is C-contiguous along B
    wpos = w * yy[:, None]
    wneg = w - wpos
    new_group = np.r_[True, s[1:] != s[:-1]]
    if not new_group.all():  # pool tied scores (reduceat is skipped when there are no ties)
        starts = np.flatnonzero(new_group)
        wpos = np.add.reduceat(wpos, starts, axis=0)
        wneg = np.add.reduceat(wneg, starts, axis=0)
    below = np.cumsum(wneg, axis=0) - wneg  # negative weight strictly below each group
    num = np.einsum("gb,gb->b", wpos, below + 0.5 * wneg)
    den = wpos.sum(axis=0) * wneg.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def auroc(y_true, y_score):
    """AUROC of a binary problem; NaN (not an error) when ``y_true`` holds one class only."""
    y = np.asarray(y_true, dtype=bool).ravel()
    s = np.asarray(y_score, dtype=float).ravel()
    return float(weighted_auc(y, s, np.ones(y.size))[0])


def bootstrap_counts(n, n_boot, rng):
    """Yield (n, b) int arrays of case multiplicities (one column per resample), in chunks.

    Column j of a chunk counts how often each case is drawn in n draws with replacement.
    """
    chunk = max(1, min(n_boot, _CHUNK_ELEMENTS // max(n, 1)))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        idx = rng.integers(0, n, size=(b, n))
        flat = (idx * b + np.arange(b)[:, None]).ravel()
        yield np.bincount(flat, minlength=n * b).reshape(n, b)
        done += b


def percentile_ci(values, ci):
    """Percentile interval of the finite ``values``; ``[nan, nan]`` when there are none."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return [float("nan"), float("nan")]
    a = (1.0 - ci) / 2.0
    lo, hi = np.percentile(v, [100 * a, 100 * (1 - a)])
    return [float(lo), float(hi)]


def _columns(y, s, task):
    """Per-class binary problems: list of (known-mask, positives, scores)."""
    if task == "binary":
        return [(np.ones(y.size, bool), y == 1, s)]
    if task == "multiclass":
        return [(np.ones(y.size, bool), y == k, s[:, k]) for k in range(s.shape[1])]
    cols = []
    for k in range(y.shape[1]):
        known = ~np.isnan(y[:, k])
        cols.append((known, np.nan_to_num(y[:, k]) == 1, s[:, k]))
    return cols


def _bootstrap_aucs(n_cases, cols, defined, n_boot, seed):
    """(n_boot, columns) AUROCs of case resamples; NaN where a column is undefined."""
    boots = np.full((n_boot, len(cols)), np.nan)
    if not n_boot:
        return boots
    rng = np.random.default_rng(seed)
    row = 0
    for counts in bootstrap_counts(n_cases, n_boot, rng):
        b = counts.shape[1]
        for j, (m, pos, sc) in enumerate(cols):
            if defined[j]:
                w = counts if m.all() else counts[m]
                boots[row : row + b, j] = weighted_auc(pos[m], sc[m], w)
        row += b
    return boots


def _macro_auroc(point, boots, defined, col_names, ci, notes):
    """The unweighted mean AUROC over the defined columns, with its bootstrap CI."""
    macro_classes = [n for n, ok in zip(col_names, defined) if ok]
    if not macro_classes:
        notes.append("Macro AUROC is undefined: no class has both positive and negative cases.")
        return {"auroc": float("nan"), "ci": [float("nan")] * 2, "n_boot_used": 0, "classes": []}
    macro_boot = boots[:, defined]
    ok_rows = np.all(np.isfinite(macro_boot), axis=1)
    macro_vals = macro_boot[ok_rows].mean(axis=1) if ok_rows.any() else np.array([])
    return {
        "auroc": float(np.mean(point[defined])),
        "ci": percentile_ci(macro_vals, ci),
        "n_boot_used": int(ok_rows.sum()),
        "classes": macro_classes,
    }


def roc_analysis(
    y_true,
    y_score,
    *,
    task,
    class_names=None,
    n_boot=1000,
    ci=0.95,
    seed=0,
    curves=True,
):
    """ROC curves and AUROC with bootstrap percentile confidence intervals.

    Binary: one curve for the positive class. Multiclass: one-vs-rest per class. Multilabel:
    per label, ignoring NaN (unknown) entries of that label. The ``macro`` entry is the
    unweighted mean AUROC over classes whose AUROC is defined (for binary, the positive
    class's AUROC). Bootstrap resamples cases (rows) with replacement, jointly for all
    classes; a resample in which a class has only one label value is skipped for that class
    (and for the macro mean), and ``n_boot_used`` reports how many were kept.

    Args:
        y_true: see :func:`heartcv.evaluate.classification_report`.
        y_score: probabilities (or any scores where higher means more likely positive).
        task: "binary", "multiclass" or "multilabel".
        class_names: names of the classes (binary: [negative, positive]).
        n_boot: bootstrap resamples; 0 gives no interval (NaN bounds).
        ci: interval level, e.g. 0.95.
        seed: int or ``np.random.Generator`` for the resampling.
        curves: include ``fpr``/``tpr`` lists per class (for :func:`plot_roc`).

    Returns:
        JSON-serialisable dict: ``per_class`` {name: {auroc, ci, n_boot_used, n_pos, n_neg}},
        ``macro`` {auroc, ci, n_boot_used, classes}, ``curves`` {name: {fpr, tpr, auc}},
        ``n_boot``, ``ci_level``, ``method``, ``notes``.
    """
    y, s = prepare(y_true, y_score, task)
    n_boot = check_n_boot(n_boot)
    ci = check_ci(ci)
    k = 2 if task == "binary" else s.shape[1]
    names = resolve_class_names(class_names, k, task)
    cols = _columns(y, s, task)
    col_names = [names[1]] if task == "binary" else names
    notes = []

    point = np.array([auroc(pos[m], sc[m]) for m, pos, sc in cols])
    defined = np.isfinite(point)
    for name, ok, (m, pos, _) in zip(col_names, defined, cols):
        if not ok:
            notes.append(
                f"AUROC of {name!r} is undefined (NaN): its {int(m.sum())} known cases hold "
                f"{int(pos[m].sum())} positives; it is left out of the macro mean."
            )

    boots = _bootstrap_aucs(y.shape[0], cols, defined, n_boot, seed)

    per_class = {}
    for j, (name, (m, pos, _)) in enumerate(zip(col_names, cols)):
        used = int(np.isfinite(boots[:, j]).sum())
        per_class[name] = {
            "auroc": fnum(point[j]),
            "ci": percentile_ci(boots[:, j], ci),
            "n_boot_used": used,
            "n_pos": int(pos[m].sum()),
            "n_neg": int((~pos[m]).sum()),
        }
        if n_boot and defined[j] and used < n_boot:
            notes.append(
                f"AUROC CI of {name!r}: {n_boot - used} of {n_boot} resamples had one class "
                "only and were skipped."
            )

    macro = _macro_auroc(point, boots, defined, col_names, ci, notes)
    if n_boot == 0:
        notes.append("n_boot=0: no bootstrap confidence intervals (NaN bounds).")

    out = {
        "per_class": per_class,
        "macro": macro,
        "n_boot": n_boot,
        "ci_level": ci,
        "seed": _seed_record(seed),
        "method": "bootstrap percentile (cases resampled)",
        "notes": notes,
    }
    if curves:
        out["curves"] = _roc_curves(cols, col_names, point)
    return out


def _seed_record(seed):
    if seed is None:
        return None
    return int(seed) if isinstance(seed, (int, np.integer)) else "generator"


def _roc_curves(cols, col_names, point):
    curves = {}
    for name, auc, (m, pos, sc) in zip(col_names, point, cols):
        if np.isfinite(auc):
            fpr, tpr, _ = _sk_roc_curve(pos[m], sc[m])
            curves[name] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "auc": float(auc)}
        else:
            curves[name] = {"fpr": [], "tpr": [], "auc": float("nan")}
    return curves

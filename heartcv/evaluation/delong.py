"""Paired comparison of two models' AUROCs on the same cases.

:func:`delong_test` is DeLong's nonparametric test for correlated AUROCs, computed with the
O(n log n) midrank algorithm of Sun & Xu; :func:`paired_bootstrap_test` is the resampling
alternative (as ``pROC::roc.test(method="bootstrap")``).

References:
    DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more
    correlated receiver operating characteristic curves: a nonparametric approach.
    *Biometrics* 1988;44(3):837-845.
    Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas under
    correlated receiver operating characteristic curves. *IEEE Signal Processing Letters*
    2014;21(11):1389-1393.
    Robin X, et al. pROC: an open-source package for R and S+ to analyze and compare ROC
    curves. *BMC Bioinformatics* 2011;12:77.
"""

import math

import numpy as np
from scipy.stats import norm, rankdata

from heartcv.evaluation._common import check_ci, check_n_boot, fnum, prepare
from heartcv.evaluation.roc import bootstrap_counts, percentile_ci, weighted_auc


def _paired(y_true, score_a, score_b):
    y, sa = prepare(y_true, score_a, "binary")
    y2, sb = prepare(y_true, score_b, "binary")
    if sa.shape != sb.shape:
        raise ValueError(
            "Expected `score_a` and `score_b` to score the same cases. "
            f"Received: score_a.shape={np.shape(score_a)}, score_b.shape={np.shape(score_b)}"
        )
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        raise ValueError(
            "Expected `y_true` to hold both classes to compare AUROCs. "
            f"Received: y_true with {n_pos} positives out of {y.size}"
        )
    return y.astype(bool), sa, sb


def delong_covariance(y_true, scores):
    """AUROCs and their DeLong covariance matrix (fast midrank algorithm of Sun & Xu 2014).

    Args:
        y_true: (n,) binary labels with both classes present.
        scores: (k, n) scores of k models on the same cases.

    Returns:
        ``(aucs, cov)``: (k,) AUROCs and the (k, k) covariance matrix ``S10/m + S01/n``.
    """
    y = np.asarray(y_true, dtype=bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    x = scores[:, y]  # positives, (k, m)
    z = scores[:, ~y]  # negatives, (k, n)
    m, n = x.shape[1], z.shape[1]
    if m == 0 or n == 0:
        raise ValueError(
            f"Expected both classes in `y_true`. Received: {m} positives, {n} negatives"
        )
    tx = rankdata(x, axis=1)  # midranks within positives
    tz = rankdata(z, axis=1)  # midranks within negatives
    t = rankdata(np.concatenate([x, z], axis=1), axis=1)  # midranks in the pooled sample
    aucs = (t[:, :m].sum(axis=1) / m - (m + 1) / 2.0) / n
    v10 = (t[:, :m] - tx) / n  # placement of each positive among the negatives
    v01 = 1.0 - (t[:, m:] - tz) / m  # placement of each negative among the positives
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((len(scores), len(scores)))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((len(scores), len(scores)))
    return aucs, s10 / m + s01 / n


def delong_roc_variance(y_true, y_score):
    """AUROC of one model and its DeLong variance: ``(auc, var)``."""
    y, s = prepare(y_true, y_score, "binary")
    aucs, cov = delong_covariance(y.astype(bool), s[None, :])
    return float(aucs[0]), float(cov[0, 0])


def _z_p(diff, var):
    """z and two-sided p of ``diff`` with variance ``var`` (p = 1 when both are zero)."""
    if var > 0:
        z = diff / np.sqrt(var)
        return float(z), float(2.0 * norm.sf(abs(z))), None
    if diff == 0:
        return 0.0, 1.0, "AUROC difference is 0 with zero variance (same ranking): z=0, p=1."
    return math.nan, math.nan, "AUROC difference has zero variance but is not 0: z, p undefined."


def delong_test(y_true, score_a, score_b, *, ci=0.95, names=("a", "b")):
    """DeLong's test of H0: AUROC(a) = AUROC(b) for two models scored on the same cases.

    Args:
        y_true: (N,) binary labels (or (N, 1) / one-hot (N, 2)).
        score_a: (N,) scores of model a (or (N, 1) / (N, 2) probabilities).
        score_b: scores of model b on the same cases, in the same order.
        ci: level of the confidence interval for ``difference`` (normal approximation).
        names: labels of the two models, recorded in the result.

    Returns:
        Dict with ``auc_a``, ``auc_b``, ``difference`` (a - b), ``se``, ``ci`` [low, high],
        ``z``, ``p_value`` (two-sided), ``n_pos``, ``n_neg``, ``model_a``, ``model_b``,
        ``method``, ``notes``.
    """
    ci = check_ci(ci)
    y, sa, sb = _paired(y_true, score_a, score_b)
    aucs, cov = delong_covariance(y, np.stack([sa, sb]))
    diff = float(aucs[0] - aucs[1])
    var = float(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0))
    z, p, note = _z_p(diff, var)
    se = float(np.sqrt(var))
    q = float(norm.ppf(0.5 + ci / 2.0))
    return {
        "auc_a": float(aucs[0]),
        "auc_b": float(aucs[1]),
        "difference": diff,
        "se": se,
        "ci": [diff - q * se, diff + q * se],
        "ci_level": ci,
        "z": z,
        "p_value": p,
        "n_pos": int(y.sum()),
        "n_neg": int((~y).sum()),
        "model_a": str(names[0]),
        "model_b": str(names[1]),
        "method": "DeLong (DeLong et al. 1988; fast algorithm of Sun & Xu 2014)",
        "notes": [note] if note else [],
    }


def paired_bootstrap_test(
    y_true, score_a, score_b, *, n_boot=2000, ci=0.95, seed=0, names=("a", "b")
):
    """Paired bootstrap comparison of two AUROCs on the same cases.

    Cases are resampled with replacement (the same resample for both models); resamples with
    one class only are skipped. The interval is the percentile interval of the resampled
    differences; the p-value is two-sided from ``z = difference / sd(resampled differences)``
    as in pROC's bootstrap test (Robin et al. 2011).

    Returns:
        Dict with ``auc_a``, ``auc_b``, ``difference`` (a - b), ``se``, ``ci``, ``z``,
        ``p_value``, ``n_boot``, ``n_boot_used``, ``model_a``, ``model_b``, ``method``, ``notes``.
    """
    ci = check_ci(ci)
    n_boot = check_n_boot(n_boot)
    if n_boot < 2:
        raise ValueError(f"Expected `n_boot` >= 2 for a bootstrap test. Received: n_boot={n_boot}")
    y, sa, sb = _paired(y_true, score_a, score_b)
    auc_a = float(weighted_auc(y, sa, np.ones(y.size))[0])
    auc_b = float(weighted_auc(y, sb, np.ones(y.size))[0])
    diffs = []
    rng = np.random.default_rng(seed)
    for counts in bootstrap_counts(y.size, n_boot, rng):
        diffs.append(weighted_auc(y, sa, counts) - weighted_auc(y, sb, counts))
    diffs = np.concatenate(diffs)
    diffs = diffs[np.isfinite(diffs)]
    notes = []
    if diffs.size < n_boot:
        skipped = n_boot - diffs.size
        notes.append(f"{skipped} of {n_boot} resamples had one class only and were skipped.")
    diff = auc_a - auc_b
    se = float(np.std(diffs, ddof=1)) if diffs.size > 1 else float("nan")
    if diffs.size > 1:
        z, p, note = _z_p(diff, se**2)
        if note:
            notes.append(note)
    else:
        z, p = float("nan"), float("nan")
        notes.append("Fewer than 2 usable resamples: z and p are undefined.")
    return {
        "auc_a": auc_a,
        "auc_b": auc_b,
        "difference": fnum(diff),
        "se": se,
        "ci": percentile_ci(diffs, ci),
        "ci_level": ci,
        "z": z,
        "p_value": p,
        "n_boot": n_boot,
        "n_boot_used": int(diffs.size),
        "n_pos": int(y.sum()),
        "n_neg": int((~y).sum()),
        "model_a": str(names[0]),
        "model_b": str(names[1]),
        "method": "paired bootstrap (cases resampled; pROC-style z test)",
        "notes": notes,
    }

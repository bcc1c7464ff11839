"""Decision thresholds chosen on validation data, and predictive values at a stated prevalence.

A threshold is always chosen on the validation split and then passed unchanged to
:func:`heartcv.evaluate.classification_report` for the test split (with
``threshold_source``), so the test set never tunes the operating point.

References:
    Youden WJ. Index for rating diagnostic tests. *Cancer* 1950;3(1):32-35.
    Altman DG, Bland JM. Diagnostic tests 2: predictive values. *BMJ* 1994;309:102.
"""

import numpy as np

from heartcv.evaluation._common import as_float_array, check_unit_interval, did_you_mean

METHODS = ("youden", "f1", "fixed")


def _best_threshold(y, s, method):
    """Best cut of one binary problem; the rule is ``score >= threshold``."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    y_sorted = y[order]
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True]  # last case of each tied-score group
    tp = np.cumsum(y_sorted)[last]
    fp = np.cumsum(1 - y_sorted)[last]
    thresholds = s_sorted[last]
    pos, neg = y.sum(), y.size - y.sum()
    if method == "youden":
        crit = (tp * neg - fp * pos).astype(float)  # J * pos * neg, exact in integers
    else:
        crit = 2 * tp / (2 * tp + fp + (pos - tp))
    # First maximum in descending-threshold order: ties go to the highest threshold.
    best = np.flatnonzero(crit >= crit.max() - 1e-12 * max(1.0, abs(crit.max())))[0]
    return float(thresholds[best])


def choose_threshold(y_true_val, y_score_val, method="youden", *, value=0.5):
    """Choose a decision threshold on VALIDATION data (never on the test split).

    The prediction rule is ``score >= threshold`` (as in ``sklearn.metrics.roc_curve``);
    candidates are the observed validation scores.

    Args:
        y_true_val: (N,) binary labels, or (N, K) multilabel labels with NaN for unknown.
        y_score_val: scores of the same shape; (N, K) gives one threshold per label.
        method: "youden" maximises sensitivity + specificity - 1 (Youden's J); "f1" maximises
            the F1 score of the positive class; "fixed" returns ``value`` unchanged (so
            configs can name the rule uniformly). Ties go to the highest threshold.
        value: the threshold returned by ``method="fixed"``.

    Returns:
        A float, or a list of K floats for (N, K) inputs (NaN for a label whose known
        validation cases hold one class only).
    """
    if method not in METHODS:
        raise ValueError(
            f"Expected `method` in {METHODS}.{did_you_mean(method, METHODS)} "
            f"Received: method={method!r}"
        )
    y = as_float_array(y_true_val, "y_true_val")
    s = as_float_array(y_score_val, "y_score_val")
    if y.ndim == 2 and y.shape[1] == 1:
        y, s = y[:, 0], s.reshape(-1)
    if y.shape != s.shape or y.ndim not in (1, 2) or y.shape[0] == 0:
        raise ValueError(
            "Expected `y_true_val` and `y_score_val` of the same shape (N,) or (N, K). "
            f"Received: y_true_val.shape={y.shape}, y_score_val.shape={s.shape}"
        )
    if method == "fixed":
        check_unit_interval(value, "value")
        return float(value) if y.ndim == 1 else [float(value)] * y.shape[1]
    if y.ndim == 1:
        if np.isnan(y).any():
            raise ValueError("Expected no NaN in 1-D `y_true_val`. Received: NaN labels")
        y_int = y.astype(int)
        if not np.all(np.isin(y, (0, 1))) or y_int.min() == y_int.max():
            raise ValueError(
                "Expected binary `y_true_val` holding both classes to choose a threshold. "
                f"Received: values {np.unique(y)[:10]}"
            )
        return _best_threshold(y_int, s, method)
    out = []
    for k in range(y.shape[1]):
        known = ~np.isnan(y[:, k])
        yk = y[known, k].astype(int)
        ok = 0 < yk.sum() < yk.size
        out.append(_best_threshold(yk, s[known, k], method) if ok else float("nan"))
    return out


def ppv_npv_at_prevalence(sensitivity, specificity, prevalence):
    """Positive and negative predictive values at a stated prevalence (Bayes' rule).

    ``PPV = sens*p / (sens*p + (1-spec)*(1-p))`` and
    ``NPV = spec*(1-p) / (spec*(1-p) + (1-sens)*p)``. The chd-xray-vgg-unet paper makes this
    argument for screening: with sensitivity = specificity = 0.8 and a congenital heart
    disease prevalence of 0.0074, a positive test means disease with probability
    ``0.0074*0.8 / (0.0074*0.8 + 0.9926*0.2) = 0.02896`` (the paper prints 0.02874903, which
    corresponds to a prevalence of about 0.00735; with its stated numbers the value is 2.90%).

    Args:
        sensitivity: scalar or array in [0, 1].
        specificity: scalar or array in [0, 1].
        prevalence: scalar or array in [0, 1].

    Returns:
        ``(ppv, npv)`` as floats (arrays if any input is an array); NaN where undefined
        (0/0, e.g. PPV when prevalence is 0 and specificity is 1).
    """
    se = check_unit_interval(sensitivity, "sensitivity")
    sp = check_unit_interval(specificity, "specificity")
    p = check_unit_interval(prevalence, "prevalence")
    tp, fp = se * p, (1 - sp) * (1 - p)
    tn, fn = sp * (1 - p), (1 - se) * p
    with np.errstate(invalid="ignore", divide="ignore"):
        ppv = np.where(tp + fp > 0, tp / np.where(tp + fp > 0, tp + fp, 1), np.nan)
        npv = np.where(tn + fn > 0, tn / np.where(tn + fn > 0, tn + fn, 1), np.nan)
    if ppv.ndim == 0:
        return float(ppv), float(npv)
    return ppv, npv

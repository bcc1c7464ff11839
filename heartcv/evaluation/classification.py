"""Classification reports for binary, multiclass and multilabel problems.

Per class (one-vs-rest for multiclass, per label for multilabel):
``precision = TP/(TP+FP)``, ``recall`` (sensitivity) ``= TP/(TP+FN)``,
``f1 = 2TP/(2TP+FP+FN)``, ``specificity = TN/(TN+FP)``, ``npv = TN/(TN+FN)``,
``accuracy = (TP+TN)/n`` and ``support`` = number of true members of the class (multilabel:
known positives). Macro average = unweighted mean over classes; weighted average = mean
weighted by support (the "Avg/total" row of scikit-learn's report, used by the
cardio-xattentionnet-amm paper's Table 4). Undefined ratios (0/0) are NaN by default and are
left out of the averages (scikit-learn's ``zero_division=np.nan``), with a note.

Reference:
    Sokolova M, Lapalme G. A systematic analysis of performance measures for classification
    tasks. *Information Processing & Management* 2009;45(4):427-437.
"""

import numpy as np

from heartcv.evaluation._common import (
    check_ci,
    check_n_boot,
    check_unit_interval,
    fnum,
    prepare,
    resolve_class_names,
)
from heartcv.evaluation.roc import roc_analysis
from heartcv.evaluation.thresholds import ppv_npv_at_prevalence

METRICS = ("precision", "recall", "f1", "specificity", "npv", "accuracy")
AVERAGED = ("precision", "recall", "f1", "specificity", "accuracy")


def _ratio(num, den, fill):
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), fill)


def _per_class_metrics(tp, fp, fn, tn, fill):
    return {
        "precision": _ratio(tp, tp + fp, fill),
        "recall": _ratio(tp, tp + fn, fill),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn, fill),
        "specificity": _ratio(tn, tn + fp, fill),
        "npv": _ratio(tn, tn + fn, fill),
        "accuracy": _ratio(tp + tn, tp + fp + fn + tn, fill),
    }


def _averages(values, support):
    """Macro and support-weighted averages, ignoring NaN entries."""
    macro, weighted = {}, {}
    for name in AVERAGED:
        v = values[name]
        ok = np.isfinite(v)
        macro[name] = float(np.mean(v[ok])) if ok.any() else float("nan")
        w = support[ok].astype(float)
        weighted[name] = float(np.sum(v[ok] * w) / w.sum()) if w.sum() > 0 else float("nan")
    total = int(np.sum(support))
    macro["support"] = total
    weighted["support"] = total
    return macro, weighted


def multilabel_accuracy(y_true, y_score, *, threshold=0.5):
    """Multilabel accuracy as defined by the cxr14-transfer-learning paper.

    ``accuracy = (sum of correctly predicted labels) / (# labels x # images)``: each
    (image, label) decision counts once, pooled over all labels (not a mean of per-image
    accuracies). Unknown entries (NaN in ``y_true``) are left out of both numerator and
    denominator.

    Args:
        y_true: (N, K) in {0, 1, NaN}.
        y_score: (N, K) scores; pass 0/1 predictions to use them as they are.
        threshold: scalar or (K,) thresholds; a label is predicted when ``score >= threshold``.

    Returns:
        Float accuracy (NaN when no entry is known).
    """
    y, s = prepare(y_true, y_score, "multilabel")
    t = _thresholds(threshold, y.shape[1])
    known = ~np.isnan(y)
    correct = ((s >= t) == (np.nan_to_num(y) == 1)) & known
    return float(correct.sum() / known.sum()) if known.any() else float("nan")


def _thresholds(threshold, k):
    t = np.asarray(0.5 if threshold is None else threshold, dtype=float)
    if t.ndim == 0:
        t = np.full(k, float(t))
    if t.shape != (k,) or not np.all(np.isfinite(t)):
        raise ValueError(
            f"Expected `threshold` to be a finite scalar or an array of {k} values. "
            f"Received: threshold={threshold!r}"
        )
    return t


def _counts(y, s, task, threshold):
    """TP, FP, FN, TN per class (arrays of length K), confusion matrix, predictions."""
    if task in ("binary", "multiclass"):
        if task == "binary":
            t = float(_thresholds(threshold, 1)[0])
            pred = (s >= t).astype(int)
            k = 2
        else:
            pred = np.argmax(s, axis=1)
            k = s.shape[1]
        cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
        tp = np.diag(cm)
        fp = cm.sum(axis=0) - tp
        fn = cm.sum(axis=1) - tp
        tn = cm.sum() - tp - fp - fn
        return tp, fp, fn, tn, cm
    k = y.shape[1]
    pred = s >= _thresholds(threshold, k)
    known = ~np.isnan(y)
    pos = np.nan_to_num(y) == 1
    tp = np.sum(pred & pos & known, axis=0)
    fp = np.sum(pred & ~pos & known, axis=0)
    fn = np.sum(~pred & pos & known, axis=0)
    tn = np.sum(~pred & ~pos & known, axis=0)
    cm = np.stack([np.stack([tn, fp], -1), np.stack([fn, tp], -1)], 1)  # (K, 2, 2)
    return tp, fp, fn, tn, cm


def _zero_division_fill(zero_division):
    if zero_division == "nan":
        return float("nan")
    if zero_division in (0, 1) and not isinstance(zero_division, bool):
        return float(zero_division)
    raise ValueError(
        "Expected `zero_division` in ('nan', 0.0, 1.0). "
        f"Received: zero_division={zero_division!r}"
    )


def _check_threshold_prevalence(task, threshold, prevalence):
    if task == "multiclass" and threshold is not None:
        raise ValueError(
            "Multiclass predictions are the argmax of `y_score`; `threshold` must be None. "
            f"Received: threshold={threshold!r}"
        )
    if prevalence is not None:
        if task != "binary":
            raise ValueError(f"`prevalence` applies to task='binary' only. Received: task={task!r}")
        check_unit_interval(prevalence, "prevalence")


def _accuracy_confusion(y, s, task, threshold, cm, names, notes):
    """(accuracy, confusion matrix as JSON) of the task; notes the unknown multilabel labels."""
    if task != "multilabel":
        return float(np.trace(cm) / cm.sum()), cm.tolist()
    n_unknown = int(np.isnan(y).sum())
    if n_unknown:
        notes.append(f"{n_unknown} unknown (NaN) label entries were ignored.")
    return (multilabel_accuracy(y, s, threshold=threshold),
            {name: cm[i].tolist() for i, name in enumerate(names)})


def _threshold_record(task, threshold, threshold_source):
    if threshold is None and task != "multiclass":
        return {"value": 0.5, "source": threshold_source or "default"}
    if task == "multiclass":
        return {"value": None, "source": "argmax"}
    t = np.asarray(threshold, dtype=float)
    value = float(t) if t.ndim == 0 else t.tolist()
    return {"value": value, "source": threshold_source or "caller"}


def _prevalence_record(positive, prevalence, sample_prevalence, notes):
    """PPV and NPV at ``prevalence`` from the positive class's row of ``per_class``."""
    sens, spec = positive["recall"], positive["specificity"]
    if np.isfinite(sens) and np.isfinite(spec):
        ppv, npv = ppv_npv_at_prevalence(sens, spec, prevalence)
    else:
        ppv = npv = float("nan")
        notes.append("PPV/NPV at prevalence undefined: sensitivity or specificity undefined.")
    return {
        "prevalence": float(prevalence),
        "ppv": ppv,
        "npv": npv,
        "sample_prevalence": float(sample_prevalence),
        "sample_ppv": positive["precision"],
        "sample_npv": positive["npv"],
    }


def classification_report(
    y_true,
    y_score,
    *,
    task,
    class_names=None,
    threshold=None,
    threshold_source=None,
    prevalence=None,
    auroc=True,
    n_boot=1000,
    ci=0.95,
    seed=0,
    curves=False,
    zero_division="nan",
):
    """Per-class and averaged metrics, confusion matrix and AUROC with bootstrap CI.

    Args:
        y_true: binary: (N,) in {0, 1} (or (N, 1), or one-hot (N, 2)); multiclass: (N,) ints
            in [0, K) or one-hot (N, K); multilabel: (N, K) in {0, 1, NaN}, NaN = unknown
            (ignored for that label).
        y_score: binary: (N,) / (N, 1) probability of the positive class (or (N, 2) softmax,
            column 1 used); multiclass: (N, K) probabilities, prediction = argmax; multilabel:
            (N, K) per-label probabilities.
        task: "binary", "multiclass" or "multilabel".
        class_names: class names; binary takes two, ``[negative, positive]``.
        threshold: binary: a float; multilabel: a float or K floats; multiclass: must be None.
            A case is predicted positive when ``score >= threshold``. Default 0.5. Pass the
            threshold chosen on validation data (:func:`choose_threshold`), never one tuned
            on the data being reported.
        threshold_source: where the threshold came from, recorded in the result, e.g.
            "validation:youden". Default "default" (threshold None) or "caller".
        prevalence: binary only: also report PPV and NPV at this population prevalence
            (:func:`ppv_npv_at_prevalence`) from the observed sensitivity and specificity.
        auroc: compute AUROC (per class for multiclass/multilabel) with bootstrap CIs.
        n_boot, ci, seed: bootstrap settings (see :func:`roc_analysis`).
        curves: also include ROC curve points under ``roc_curves``.
        zero_division: value of undefined ratios: "nan" (default; left out of averages),
            0.0 or 1.0 (scikit-learn's convention, included in averages).

    Returns:
        JSON-serialisable dict with ``task``, ``class_names``, ``n_samples``, ``threshold``
        {value, source}, ``per_class`` {name: {precision, recall, f1, specificity, npv,
        accuracy, support, tp, fp, fn, tn[, auroc, auroc_ci]}}, ``macro_avg``,
        ``weighted_avg``, ``accuracy`` (multilabel: :func:`multilabel_accuracy`),
        ``confusion_matrix`` (binary 2x2 / multiclass KxK with rows = true class, columns =
        predicted; multilabel {label: [[TN, FP], [FN, TP]]}), ``auroc`` {value, ci, ci_level,
        n_boot, n_boot_used, method} (binary: positive class; otherwise the macro mean),
        ``prevalence`` (binary, if given) and ``notes``.
    """
    y, s = prepare(y_true, y_score, task)
    fill = _zero_division_fill(zero_division)
    _check_threshold_prevalence(task, threshold, prevalence)
    check_n_boot(n_boot)
    check_ci(ci)
    k = 2 if task == "binary" else s.shape[1]
    names = resolve_class_names(class_names, k, task)
    notes = []

    tp, fp, fn, tn, cm = _counts(y, s, task, threshold)
    values = _per_class_metrics(tp, fp, fn, tn, fill)
    support = tp + fn
    raw = _per_class_metrics(tp, fp, fn, tn, np.nan)
    for name in METRICS:
        bad = [names[i] for i in np.flatnonzero(~np.isfinite(raw[name]))]
        if bad:
            how = "NaN, left out of averages" if np.isnan(fill) else f"set to {fill}"
            notes.append(f"{name} is undefined (0/0) for {bad}: {how}.")
    per_class = {}
    for i, name in enumerate(names):
        row = {m: fnum(values[m][i]) for m in METRICS}
        row["support"] = int(support[i])
        row.update(tp=int(tp[i]), fp=int(fp[i]), fn=int(fn[i]), tn=int(tn[i]))
        per_class[name] = row
    macro, weighted = _averages(values, support)

    accuracy, confusion = _accuracy_confusion(y, s, task, threshold, cm, names, notes)
    thr = _threshold_record(task, threshold, threshold_source)

    out = {
        "task": task,
        "class_names": names,
        "n_samples": int(y.shape[0]),
        "threshold": thr,
        "per_class": per_class,
        "macro_avg": macro,
        "weighted_avg": weighted,
        "accuracy": accuracy,
        "confusion_matrix": confusion,
    }
    if prevalence is not None:
        out["prevalence"] = _prevalence_record(per_class[names[1]], prevalence,
                                               support[1] / y.shape[0], notes)
    if auroc:
        roc = roc_analysis(
            y, s, task=task, class_names=names, n_boot=n_boot, ci=ci, seed=seed, curves=curves
        )
        notes.extend(roc["notes"])
        if task != "binary":
            for name, entry in roc["per_class"].items():
                per_class[name]["auroc"] = entry["auroc"]
                per_class[name]["auroc_ci"] = entry["ci"]
        head = roc["per_class"][names[1]] if task == "binary" else roc["macro"]
        out["auroc"] = {
            "value": head["auroc"],
            "ci": head["ci"],
            "ci_level": roc["ci_level"],
            "n_boot": roc["n_boot"],
            "n_boot_used": head["n_boot_used"],
            "seed": roc["seed"],
            "average": "positive class" if task == "binary" else "macro (unweighted mean)",
            "method": roc["method"],
        }
        if curves:
            out["roc_curves"] = roc["curves"]
    out["notes"] = notes
    return out

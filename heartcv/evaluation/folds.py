"""Mean ± sd over folds (or seeds) of result dicts.

Public as :func:`heartcv.report.aggregate_folds`.
"""

import math

import numpy as np

_DROP = object()
_NOT_AGGREGATED = {"ci", "auroc_ci", "roc_curves", "curves"}  # per-fold intervals do not average


def _stat(values, ddof):
    v = np.asarray(values, dtype=float)
    ok = v[np.isfinite(v)]
    mean = float(ok.mean()) if ok.size else math.nan
    sd = float(ok.std(ddof=ddof)) if ok.size > ddof else math.nan
    values = [float(x) for x in v]
    return {"mean": mean, "sd": sd, "var": sd * sd, "values": values, "n": int(ok.size)}


def _is_number(x):
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _aggregate(objs, key, ddof):
    if key in _NOT_AGGREGATED:
        return _DROP
    if key == "confusion_matrix":
        if all(isinstance(o, dict) for o in objs):
            return {k: np.sum([o[k] for o in objs], axis=0).tolist() for k in objs[0]}
        return np.sum(objs, axis=0).tolist()
    if all(isinstance(o, dict) for o in objs):
        out = {}
        for k in objs[0]:
            if all(k in o for o in objs):
                v = _aggregate([o[k] for o in objs], k, ddof)
                if v is not _DROP:
                    out[k] = v
        return out
    if all(_is_number(o) for o in objs):
        return _stat(objs, ddof)
    if all(o == objs[0] for o in objs):
        return objs[0]
    return {"values": list(objs)}


def aggregate_folds(results_list, *, ddof=1):
    """Mean ± sd over folds (or seeds) of classification-report results.

    Every numeric leaf (per-class metrics, averages, accuracy, AUROC value, ...) becomes
    ``{"mean", "sd", "var", "values" (one per fold), "n" (finite folds)}``; NaN folds are left
    out of the mean and sd. ``sd`` uses ``ddof`` (1: the sample standard deviation; the
    chd-xray-vgg-unet paper reports the variance over its 10 folds, kept as ``var``).
    Confusion matrices are summed over folds (the pooled matrix); per-fold bootstrap
    intervals and ROC curves are dropped (the spread over folds replaces them); equal
    strings are kept, differing ones listed. Render with :func:`format_mean_sd`, e.g.
    ``0.912 ± 0.013``, or pass the result to :func:`write_report` (Support then shows the
    total over folds).

    Args:
        results_list: results of the same task and class names, one per fold.
        ddof: delta degrees of freedom of the standard deviation.

    Returns:
        A results-shaped dict plus ``aggregated`` {n_folds, ddof} and per-fold ``notes``.
    """
    results_list = list(results_list)
    if not results_list or not all(isinstance(r, dict) for r in results_list):
        types = sorted({type(r).__name__ for r in results_list})
        raise ValueError(
            "Expected a non-empty list of result dicts. "
            f"Received: {len(results_list)} items of types {types}"
        )
    for key in ("task", "class_names"):
        vals = [r.get(key) for r in results_list]
        if any(v != vals[0] for v in vals):
            raise ValueError(f"Expected every fold to have the same {key!r}. Received: {vals}")
    body = [{k: v for k, v in r.items() if k != "notes"} for r in results_list]
    out = _aggregate(body, None, ddof)
    out["aggregated"] = {"n_folds": len(results_list), "ddof": ddof}
    out["notes"] = [
        f"fold {i}: {n}" for i, r in enumerate(results_list) for n in r.get("notes", [])
    ]
    return out

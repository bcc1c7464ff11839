"""The MIT-BIH array path's report: de Chazal's per-class table, record-level intervals,
``report.md`` and the flat ``results.json`` mapping (:mod:`heartcv.papers.mitbih_ecg_beats.fast`
trains; this module tabulates).

Report (:func:`dechazal_table`): per class sensitivity (Se), positive predictivity (+P) and
false-positive rate (FPR), accuracy, balanced accuracy (mean Se over the classes present),
and beside them the all-N baseline (every beat called N). When a test set is a capped subset,
the confusion rows are re-weighted to the full test split's class counts, so Se is unchanged
and +P, FPR and accuracy are estimates at the natural mix ("at full mix").
"""

from __future__ import annotations

import numpy as np

from heartcv.data.synthetic.beats import BEAT_CLASSES
from heartcv.papers.mitbih_ecg_beats.experiment import confusion
from heartcv.results import flatten

PROTOCOL_NAMES = ("intra", "inter")
#: the model whose numbers are the headline ``intra/*`` and ``ds2/*`` keys, in order of
#: preference (declared before any result; the first one run is taken)
HEADLINE = ("beat_ctx", "beat_rr", "beat_cnn")


# ------------------------------------------------------------------------------ the report

def dechazal_table(cm, classes=BEAT_CLASSES, full_counts=None):
    """de Chazal's per-class table from a confusion matrix.

    Args:
        cm: (K, K) counts, rows true.
        classes: class names of the rows.
        full_counts: optional {class: n}: re-weight each row to this many beats (a capped test
            subset read at the full split's mix).

    Returns:
        ``{"accuracy", "balanced_accuracy", "n", <class>: {"sensitivity", "ppv", "fpr",
        "support"}}``; a metric with a zero denominator is NaN.
    """
    cm = np.asarray(cm, np.float64)
    support = cm.sum(axis=1)
    if full_counts is not None:
        want = np.array([full_counts.get(c, 0) for c in classes], np.float64)
        scale = np.divide(want, support, out=np.zeros_like(want), where=support > 0)
        cm = cm * scale[:, None]
        support = cm.sum(axis=1)
    total = cm.sum()
    tp = np.diag(cm)
    fp = cm.sum(axis=0) - tp
    fn = support - tp
    tn = total - tp - fp - fn

    def div(a, b):
        return float(a / b) if b > 0 else float("nan")

    out = {"n": float(total), "accuracy": div(tp.sum(), total)}
    se = []
    for k, c in enumerate(classes):
        out[c] = {"sensitivity": div(tp[k], tp[k] + fn[k]), "ppv": div(tp[k], tp[k] + fp[k]),
                  "fpr": div(fp[k], fp[k] + tn[k]), "support": float(support[k])}
        if support[k] > 0:
            se.append(out[c]["sensitivity"])
    out["balanced_accuracy"] = float(np.mean(se)) if se else float("nan")
    return out


def record_bootstrap(y_true, y_pred, records, *, n_boot=1000, seed=0, k=len(BEAT_CLASSES)):
    """95% intervals of accuracy and per-class Se / +P by resampling *records* (patients).

    Beats of one record are not independent, so the unit resampled is the record: each
    replicate draws as many records as there are, with replacement, and sums their confusion
    matrices. Returns ``{"accuracy": [lo, hi], "balanced_accuracy": [...], <class>:
    {"sensitivity": [lo, hi], "ppv": [lo, hi]}}`` (percentile intervals; NaN where a
    replicate has no beat of the class is left out of that metric).
    """
    records = np.asarray(records).astype(str)
    names = np.unique(records)
    per = np.stack([confusion(np.asarray(y_true)[records == r], np.asarray(y_pred)[records == r], k)
                    for r in names]).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = {"accuracy": [], "balanced_accuracy": []}
    per_class = {c: {"sensitivity": [], "ppv": []} for c in BEAT_CLASSES[:k]}
    for _ in range(n_boot):
        t = dechazal_table(per[rng.integers(0, len(names), len(names))].sum(0), BEAT_CLASSES[:k])
        draws["accuracy"].append(t["accuracy"])
        draws["balanced_accuracy"].append(t["balanced_accuracy"])
        for c in per_class:
            for m in per_class[c]:
                per_class[c][m].append(t[c][m])

    def ci(v):
        v = np.asarray(v, np.float64)
        v = v[np.isfinite(v)]
        return [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if v.size else None

    out = {m: ci(v) for m, v in draws.items()}
    for c, ms in per_class.items():
        out[c] = {m: ci(v) for m, v in ms.items()}
    return out


def all_n_baseline(y_true, classes=BEAT_CLASSES, full_counts=None):
    """:func:`dechazal_table` of calling every beat N."""
    k = len(classes)
    return dechazal_table(confusion(y_true, np.full(len(y_true), classes.index("N")), k),
                          classes, full_counts)


# ------------------------------------------------------------------------------ reporting

def _f(v, d=3):
    return "—" if v is None or not np.isfinite(v) else f"{v:.{d}f}"


def report_markdown(summaries, header=""):
    """``report.md``: per protocol a de Chazal table of every model, the all-N baseline."""
    lines = [header, ""] if header else []
    for protocol in PROTOCOL_NAMES:
        rows = [s for s in summaries if s["protocol"] == protocol]
        if not rows:
            continue
        test_n = sum(rows[0]["full_test"].values())
        lines += [f"## {protocol}: test beats {test_n:,}"
                  + (" (de Chazal DS2)" if protocol == "inter" else " (beat-level held-out)"), ""]
        head = ("| Model | Decision | Acc. | Bal. acc. | "
                + " | ".join(f"{c} Se / +P / FPR" for c in ("N", "S", "V", "F", "Q"))
                + " | Train s | Best epoch |")
        lines += [head, "|" + "---|" * (6 + 5)]

        def row(name, decision, t, s=None):
            cells = [name, decision, _f(t["accuracy"], 4), _f(t["balanced_accuracy"], 4)]
            cells += [f"{_f(t[c]['sensitivity'])} / {_f(t[c]['ppv'])} / {_f(t[c]['fpr'])}"
                      for c in ("N", "S", "V", "F", "Q")]
            cells += [str(s["train_seconds"]) if s else "", str(s["history"]["best_epoch"]) if s else ""]
            return "| " + " | ".join(cells) + " |"

        lines.append(row("all-N baseline", "every beat N", rows[0]["all_n_baseline"]))
        for s in rows:
            name = s["model"] + (" (test capped, at full mix)" if s["test_capped"] else "")
            lines.append(row(name, "argmax", s["argmax"], s))
            if "tuned" in s:
                lines.append(row(name, "validation-tuned", s["tuned"], s))
        lines.append("")
    return "\n".join(lines) + "\n"


def results_dict(summaries):
    """The flat ``results.json`` mapping.

    Per model: ``<intra|ds2>/<model>/<decision>/...``; headline keys: ``intra/accuracy``,
    ``intra/balanced_accuracy`` (argmax), ``ds2/<class>/sensitivity|ppv|fpr``,
    ``ds2/accuracy``, ``ds2/balanced_accuracy`` (validation-tuned): the headline model of a
    protocol is the first of :data:`HEADLINE` that was run (else the first model run), named
    by ``<intra|ds2>/headline_model_is_<model>`` = 1; ``<intra|ds2>/all_n_baseline/...``.
    """
    out = {}

    def table(t):
        return {"accuracy": t["accuracy"], "balanced_accuracy": t["balanced_accuracy"],
                **{c: {m: t[c][m] for m in ("sensitivity", "ppv", "fpr")} for c in BEAT_CLASSES}}

    for s in summaries:
        row = "intra" if s["protocol"] == "intra" else "ds2"
        out[f"{row}/{s['model']}/argmax"] = table(s["argmax"])
        if "tuned" in s:
            out[f"{row}/{s['model']}/tuned"] = table(s["tuned"])
        out[f"{row}/{s['model']}/train_seconds"] = s["train_seconds"]
        out[f"{row}/all_n_baseline"] = table(s["all_n_baseline"])
    intra = [s for s in summaries if s["protocol"] == "intra"]
    inter = [s for s in summaries if s["protocol"] == "inter"]
    if intra:
        head = _headline(intra)
        out["intra/headline_model_is_" + head["model"]] = 1
        out["intra/accuracy"] = head["argmax"]["accuracy"]
        out["intra/balanced_accuracy"] = head["argmax"]["balanced_accuracy"]
    if inter:
        head = _headline(inter)
        out["ds2/headline_model_is_" + head["model"]] = 1
        t = head["tuned"]
        out["ds2"] = table(t)
    return flatten(out)


def _headline(summaries):
    for key in HEADLINE:
        for s in summaries:
            if s["model"] == key:
                return s
    return summaries[0]

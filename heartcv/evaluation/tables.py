"""Table building blocks for :mod:`heartcv.report`: number formatting, the paper-style rows,
Markdown/CSV rendering of one result dict (classification or segmentation).

Import the public names from ``heartcv.report``.
"""

import csv
import io
import math
import re

COLUMNS = ("precision", "recall", "f1", "specificity", "support", "accuracy", "auroc")
HEADERS = {
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "specificity": "Specificity",
    "support": "Support",
    "accuracy": "Accuracy",
    "auroc": "AUROC",
    "dice": "Dice",
    "iou": "IoU",
}
METRIC_ALIASES = {
    "precision": "precision", "ppv": "precision",
    "recall": "recall", "sensitivity": "recall", "tpr": "recall",
    "f1": "f1", "f1score": "f1", "f1measure": "f1", "fmeasure": "f1", "fscore": "f1",
    "specificity": "specificity", "tnr": "specificity",
    "accuracy": "accuracy", "acc": "accuracy",
    "auroc": "auroc", "auc": "auroc", "aucroc": "auroc", "rocauc": "auroc",
    "support": "support",
    "dice": "dice", "iou": "iou", "jaccard": "iou",
}  # fmt: skip
ROW_ALIASES = {
    "weightedavg": "weighted_avg", "weightedaverage": "weighted_avg", "avgtotal": "weighted_avg",
    "weighted": "weighted_avg",
    "macroavg": "macro_avg", "macroaverage": "macro_avg", "macro": "macro_avg",
    "accuracy": "accuracy", "overall": "accuracy",
    "auroc": "auroc", "auc": "auroc", "aucroc": "auroc", "rocauc": "auroc",
}  # fmt: skip
_ROW_LABELS = {"weighted_avg": "Weighted avg", "macro_avg": "Macro avg", "accuracy": "Accuracy"}


def norm_label(text):
    return re.sub(r"[\s_\-/.]+", "", str(text).strip().lower())


def _is_agg(v):
    return isinstance(v, dict) and "mean" in v


def as_scalar(v):
    """Float of a plain number or of an aggregated ``{"mean": ...}`` cell; NaN for None."""
    if v is None:
        return math.nan
    return float(v["mean"]) if _is_agg(v) else float(v)


def format_number(x, *, digits=3, percent=False):
    """``0.912`` (or ``91.2%`` with ``percent``: same significant digits); ``NaN`` if undefined."""
    if x is None or not math.isfinite(float(x)):
        return "NaN"
    if percent:
        return f"{100 * float(x):.{max(digits - 2, 0)}f}%"
    return f"{float(x):.{digits}f}"


def format_mean_sd(mean, sd, *, digits=3, percent=False):
    """``0.912 ± 0.013``; just the mean when ``sd`` is NaN (one fold)."""
    m = format_number(mean, digits=digits, percent=percent)
    if sd is None or not math.isfinite(float(sd)):
        return m
    return f"{m} ± {format_number(sd, digits=digits, percent=percent)}"


def format_cell(v, *, metric=None, ci=None, digits=3, percent=False):
    """Format one table cell: number, aggregated mean ± sd, support count, optional CI."""
    if v is None:
        return ""
    if metric == "support":
        total = sum(v["values"]) if _is_agg(v) else v
        return str(int(round(total)))
    if _is_agg(v):
        return format_mean_sd(v["mean"], v["sd"], digits=digits, percent=percent)
    text = format_number(v, digits=digits, percent=percent)
    if ci is not None and all(math.isfinite(c) for c in ci):
        lo, hi = (format_number(c, digits=digits, percent=percent) for c in ci)
        text += f" [{lo}, {hi}]"
    return text


def ci_header(results):
    auroc = results.get("auroc") or {}
    level = auroc.get("ci_level")
    if results.get("aggregated") or not isinstance(level, (int, float)):
        return "AUROC"  # mean ± sd over folds: no per-fold bootstrap interval
    return f"AUROC [{100 * level:g}% CI]"


def report_rows(results):
    """Rows of the paper-style table: list of dicts with ``row``, ``key`` and metric cells.

    ``key`` is the class name, or ``weighted avg``, ``macro avg``, ``accuracy``, ``auroc``.
    Cell values are floats, ints or aggregated ``{"mean", "sd", ...}`` dicts; ``auroc_ci`` is
    ``[low, high]`` or None; missing cells are None.
    """
    for key in ("task", "class_names", "per_class", "macro_avg", "weighted_avg", "accuracy"):
        if key not in results:
            raise ValueError(
                f"Expected a classification_report result with key {key!r}. "
                f"Received keys: {sorted(results)}"
            )
    multi = results["task"] != "binary"
    blank = {m: None for m in COLUMNS}
    rows = []
    for name in results["class_names"]:
        pc = results["per_class"][name]
        row = {**blank, "row": name, "key": name, "auroc_ci": pc.get("auroc_ci")}
        for m in COLUMNS:
            if m not in ("accuracy", "auroc") or multi:
                row[m] = pc.get(m)
        rows.append(row)
    for key in ("weighted_avg", "macro_avg"):
        row = {**blank, "row": _ROW_LABELS[key], "key": key.replace("_", " "), "auroc_ci": None}
        row.update({m: results[key].get(m) for m in COLUMNS[:5]})
        rows.append(row)
    n = results.get("n_samples")
    rows.append({**blank, "row": "Accuracy", "key": "accuracy", "auroc_ci": None,
                 "accuracy": results["accuracy"], "support": n})  # fmt: skip
    if results.get("auroc"):
        a = results["auroc"]
        rows.append({**blank, "row": ci_header(results), "key": "auroc", "auroc": a["value"],
                     "auroc_ci": a.get("ci"), "support": n})  # fmt: skip
    return rows


def _md_escape(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(header, rows, *, align=None):
    """A GitHub Markdown table (no trailing newline) from a header and rows of cell strings."""
    align = align or [":---"] + ["---:"] * (len(header) - 1)
    lines = [
        "| " + " | ".join(_md_escape(h) for h in header) + " |",
        "|" + "|".join(align) + "|",
    ]
    for r in rows:
        if len(r) != len(header):
            raise ValueError(f"Expected {len(header)} cells per row. Received: {len(r)} in {r!r}")
        lines.append("| " + " | ".join(_md_escape(c) for c in r) + " |")
    return "\n".join(lines)


def results_markdown(results, *, digits=3, percent=False):
    """The paper-style Markdown table of one result dict (see the module docstring)."""
    header = ["Row"] + [HEADERS[m] for m in COLUMNS[:-1]] + [ci_header(results)]
    body = []
    for r in report_rows(results):
        cells = [r["row"]]
        for m in COLUMNS:
            ci = r["auroc_ci"] if m == "auroc" else None
            cells.append(format_cell(r[m], metric=m, ci=ci, digits=digits, percent=percent))
        body.append(cells)
    return markdown_table(header, body)




def metrics_csv(results):
    agg = bool(results.get("aggregated"))
    cols = ["row", *COLUMNS, "auroc_ci_low", "auroc_ci_high"]
    if agg:
        cols += [f"{m}_sd" for m in COLUMNS if m != "support"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n", restval="")
    w.writeheader()
    for r in report_rows(results):
        rec = {"row": r["key"]}
        for m in COLUMNS:
            v = r[m]
            if v is None:
                continue
            if m == "support":
                rec[m] = int(round(sum(v["values"]) if _is_agg(v) else v))
                continue
            rec[m] = repr(as_scalar(v))
            if agg and _is_agg(v):
                rec[f"{m}_sd"] = repr(float(v["sd"]))
        if r["auroc_ci"]:
            rec["auroc_ci_low"], rec["auroc_ci_high"] = (repr(float(c)) for c in r["auroc_ci"])
        w.writerow(rec)
    return buf.getvalue()


def _fmt_threshold(value):
    if _is_agg(value):
        return format_mean_sd(value["mean"], value["sd"])
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, list):
        return "[" + ", ".join(format_number(v) for v in value) + "]"
    return str(value)


def caption(results, table):
    parts = [f"**{table}**", f"task {results['task']}"]
    n = results.get("n_samples")
    if _is_agg(n):
        parts.append(f"N = {int(round(sum(n['values'])))} over {len(n['values'])} folds")
    elif n is not None:
        parts.append(f"N = {n}")
    thr = results.get("threshold") or {}
    if thr.get("value") is not None:
        parts.append(f"threshold {_fmt_threshold(thr['value'])} ({thr.get('source')})")
    if results.get("aggregated"):
        parts.append(f"mean ± sd over {results['aggregated']['n_folds']} folds")
    return ", ".join(parts)


def prevalence_line(results):
    prev = results.get("prevalence")
    if not prev:
        return []
    p, ppv, npv = (as_scalar(prev[k]) for k in ("prevalence", "ppv", "npv"))
    return [
        f"At a prevalence of {p:g}, from this sensitivity and specificity (Bayes' rule): "
        f"PPV {format_number(ppv)}, NPV {format_number(npv)} (test set: PPV "
        f"{format_number(as_scalar(prev['sample_ppv']))}, NPV "
        f"{format_number(as_scalar(prev['sample_npv']))} at prevalence "
        f"{format_number(as_scalar(prev['sample_prevalence']))})."
    ]


SEGMENTATION_METRICS = ("dice", "iou")


def segmentation_markdown(results, *, digits=3, percent=False):
    """``| Metric | Mean ± sd | N |`` for segmentation results (``dice``/``iou`` mean and sd).

    For a single run the sd is over test images; for :func:`aggregate_folds` output the row
    shows the mean over folds of the per-fold means, ± their sd over folds.
    """
    fmt = {"digits": digits, "percent": percent}
    body = []
    for m in SEGMENTATION_METRICS:
        if m not in results:
            continue
        v = results[m]
        if _is_agg(v["mean"]):  # aggregated over folds: mean of means ± sd over folds
            cell = format_cell(v["mean"], **fmt)
        else:
            cell = format_mean_sd(v["mean"], v.get("sd"), **fmt)
        n = format_cell(results.get("n_samples"), metric="support")
        body.append([HEADERS[m], cell, n])
    if not body:
        raise ValueError(
            "Expected segmentation results with 'dice' and/or 'iou' {mean, sd}. "
            f"Received keys: {sorted(results)}"
        )
    return markdown_table(["Metric", "Mean ± sd", "N"], body)


def segmentation_csv(results):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["metric", "mean", "sd", "sd_over"])
    for m in SEGMENTATION_METRICS:
        if m in results:
            v = results[m]
            if _is_agg(v["mean"]):
                w.writerow([m, repr(v["mean"]["mean"]), repr(v["mean"]["sd"]), "folds"])
            else:
                sd = float(v.get("sd", math.nan))
                w.writerow([m, repr(float(v["mean"])), repr(sd), "images"])
    return buf.getvalue()

"""``expected.csv`` (the paper's numbers) and the Paper | heartcv | Δ comparison.

The file format is documented in :mod:`heartcv.report`.
"""

import csv
import io
import math
from pathlib import Path

from heartcv.evaluation._common import did_you_mean
from heartcv.evaluation.tables import (
    HEADERS,
    METRIC_ALIASES,
    ROW_ALIASES,
    SEGMENTATION_METRICS,
    as_scalar,
    format_cell,
    format_number,
    markdown_table,
    norm_label,
)



def read_expected(path):
    """Read an ``expected.csv`` (format in the module docstring).

    Returns:
        ``[{"table", "row", "metric", "paper"}]``, ``metric`` canonical, ``paper`` a fraction.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected an expected.csv file. Received: expected_csv={str(path)!r} (not found)"
        )
    lines = path.read_text(encoding="utf-8").splitlines(True)
    numbered = [(i, ln) for i, ln in enumerate(lines, start=1) if not ln.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("".join(ln for _, ln in numbered)))
    missing = {"table", "row", "metric", "paper"} - set(reader.fieldnames or [])
    if missing:
        raise ValueError(
            f"Expected columns table,row,metric,paper in {path}. "
            f"Received: columns={reader.fieldnames}, missing {sorted(missing)}"
        )
    metrics = sorted(set(METRIC_ALIASES.values()))
    out = []
    for rec in reader:
        where = f"{path}, line {numbered[reader.line_num - 1][0]}"
        metric = METRIC_ALIASES.get(norm_label(rec["metric"]))
        if metric is None:
            raise ValueError(
                f"{where}: unknown metric.{did_you_mean(rec['metric'], metrics)} "
                f"Received: metric={rec['metric']!r}"
            )
        raw = (rec["paper"] or "").strip()
        try:
            paper = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
        except ValueError as err:
            raise ValueError(f"{where}: `paper` is not a number. Received: paper={raw!r}") from err
        row = {"table": rec["table"].strip(), "row": rec["row"].strip()}
        out.append({**row, "metric": metric, "paper": paper})
    return out


def select_table(expected, table, source):
    rows = [e for e in expected if e["table"] == table]
    if not rows:
        tables = sorted({e["table"] for e in expected})
        raise ValueError(
            f"No rows for table {table!r} in {source}.{did_you_mean(table, tables)} "
            f"Available tables: {tables}. Received: table={table!r}"
        )
    return rows


def lookup_metric(results, row, metric):
    """``(value, ci)`` of ``metric`` in ``row`` of one result dict (value plain or aggregated)."""
    if results.get("task") == "segmentation":
        if metric not in SEGMENTATION_METRICS:
            raise ValueError(
                f"Segmentation results hold {SEGMENTATION_METRICS}; row {row!r} asks for "
                f"{metric!r}. Received: metric={metric!r}"
            )
        return results[metric]["mean"], None
    names = {norm_label(n): n for n in results["class_names"]}
    key = norm_label(row)
    kind = "class" if key in names else ROW_ALIASES.get(key)
    if metric == "auroc" or kind == "auroc":
        a = results.get("auroc")
        if not a:
            raise ValueError(f"Row {row!r} asks for AUROC but the results hold none (auroc=False).")
        pc = results["per_class"][names[key]] if kind == "class" else {}
        if "auroc" in pc:  # multiclass / multilabel per-class AUROC
            return pc["auroc"], pc.get("auroc_ci")
        return a["value"], a.get("ci")  # binary classes, averages: the report's AUROC
    if kind == "class":
        src = results["per_class"][names[key]]
    elif kind in ("weighted_avg", "macro_avg"):
        src = results[kind]
    elif kind == "accuracy":
        return results["accuracy"], None
    else:
        choices = list(results["class_names"]) + ["weighted avg", "macro avg", "accuracy", "auroc"]
        raise ValueError(
            f"Unknown row in expected.csv.{did_you_mean(row, choices)} Choices: {choices}. "
            f"Received: row={row!r}"
        )
    if metric not in src:
        raise ValueError(f"Row {row!r} has no {metric!r}. Received: metric={metric!r}")
    return src[metric], None


def paper_comparison(expected_rows, lookup):
    """``[{row, metric, paper, heartcv, delta, value, ci}]`` with ``delta = heartcv - paper``.

    ``lookup(row, metric)`` returns ``(value, ci)``; ``value`` may be aggregated (its mean is
    compared).
    """
    out = []
    for e in expected_rows:
        value, ci = lookup(e["row"], e["metric"])
        ours = as_scalar(value)
        out.append({**e, "heartcv": ours, "delta": ours - e["paper"], "value": value, "ci": ci})
    return out


def _signed(x, *, digits=3, percent=False):
    if not math.isfinite(x):
        return "NaN"
    return ("+" if x >= 0 else "-") + format_number(abs(x), digits=digits, percent=percent)


def comparison_markdown(comparison, *, digits=3, percent=False):
    """``| Row | Metric | Paper | heartcv | Δ |`` from :func:`paper_comparison` output."""
    fmt = {"digits": digits, "percent": percent}
    body = [
        [
            c["row"],
            HEADERS.get(c["metric"], c["metric"]),
            format_number(c["paper"], **fmt),
            format_cell(c["value"], metric=c["metric"], ci=c["ci"], **fmt),
            _signed(c["delta"], **fmt),
        ]
        for c in comparison
    ]
    align = [":---", ":---", "---:", "---:", "---:"]
    return markdown_table(["Row", "Metric", "Paper", "heartcv", "Δ"], body, align=align)


def comparison_csv(comparison):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["row", "metric", "paper", "heartcv", "delta"])
    for c in comparison:
        w.writerow([c["row"], c["metric"], repr(c["paper"]), repr(c["heartcv"]), repr(c["delta"])])
    return buf.getvalue()


def paper_section(comparison, expected_csv, digits, percent):
    return [
        f"Paper vs heartcv ({Path(expected_csv).name}; Δ = heartcv - paper):",
        "",
        comparison_markdown(comparison, digits=digits, percent=percent),
    ]

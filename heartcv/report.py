"""Result reports: metrics.json, metrics.csv and Markdown tables laid out like the papers'.

:func:`write_report` takes one result dict from :func:`heartcv.evaluate.classification_report`
(or the mean ± sd dict from :func:`aggregate_folds`) and writes, into ``out_dir``:

- ``metrics.json``: the results as they are (NaN written as ``NaN``);
- ``metrics.csv``: one row per class, then ``weighted avg``, ``macro avg``, ``accuracy`` and
  ``auroc``, with full-precision numbers (aggregated results add ``<metric>_sd`` columns);
- ``report.md``: a GitHub Markdown table, columns
  ``Row | Precision | Recall | F1 | Specificity | Support | Accuracy | AUROC [95% CI]`` (per-class
  accuracy and AUROC are filled for multiclass/multilabel, where they are one-vs-rest/per-label
  numbers; for binary the Accuracy and AUROC rows carry them), then, when ``expected_csv``
  holds the paper's numbers for this ``table``, a second table
  ``Row | Metric | Paper | heartcv | Δ`` with ``Δ = heartcv - paper``;
- ``paper_comparison.csv`` (with ``expected_csv``), ``figures/roc.png`` (results holding
  ``roc_curves``) and ``figures/confusion_matrix.png`` (binary/multiclass).

Segmentation results (``task="segmentation"`` with ``dice``/``iou`` {mean, sd}) get a
``Metric | Mean ± sd | N`` table instead; their expected.csv rows use metric ``dice`` or
``iou`` (any row label). :func:`rewrite_run_report` rewrites a run directory's files from its
``metrics.json`` (which records the table key as ``report_table``).

:func:`write_comparison` puts several runs/models in one table (e.g. AMM vs GAP rows with
AUROC CI and DeLong p); :func:`aggregate_folds` turns k per-fold results into mean ± sd.

``expected.csv`` format (one file per paper, ``experiments/<paper>/expected.csv``)::

    # lines starting with '#' are comments; extra columns (e.g. source) are ignored
    table,row,metric,paper,source
    table4_dense121,Non-Cardio,precision,0.93,Table 4
    table4_dense121,Cardio,recall,0.73,Table 4
    table4_dense121,Avg/total,f1,0.86,Table 4
    table4_dense121,accuracy,accuracy,85%,Table 4
    table5,CXA_Dense121,auroc,0.89,Table 5

- ``table``: a free key; ``write_report(..., table=...)`` uses the rows whose key matches
  exactly. One key per reproduced table (or table × model, as above).
- ``row``: a class name from ``results["class_names"]``, or ``weighted avg``, ``macro avg``,
  ``accuracy``, ``auroc``; for :func:`write_comparison`, the run label. Matching ignores case
  and the characters `` _-/.``; aliases: ``avg/total``/``weighted`` -> weighted avg,
  ``macro`` -> macro avg, ``overall`` -> accuracy, ``auc``/``aucroc``/``roc auc`` -> auroc.
- ``metric``: ``precision``, ``recall`` (``sensitivity``), ``f1`` (``f1-score``),
  ``specificity``, ``accuracy``, ``auroc`` (``auc``) or ``support``.
- ``paper``: the number as printed, as a fraction (``0.93``) or with ``%`` (``85%`` = 0.85).
"""

import csv
import io
import json
import math
from pathlib import Path

from heartcv.evaluation._common import did_you_mean, to_jsonable
from heartcv.evaluation.expected import (
    comparison_csv,
    comparison_markdown,
    lookup_metric,
    paper_comparison,
    paper_section,
    read_expected,
    select_table,
)
from heartcv.evaluation.folds import aggregate_folds
from heartcv.evaluation.plots import plot_confusion_matrix, plot_roc
from heartcv.evaluation.tables import (
    COLUMNS,
    HEADERS,
    SEGMENTATION_METRICS,
    as_scalar,
    caption,
    ci_header,
    format_cell,
    format_mean_sd,
    format_number,
    markdown_table,
    metrics_csv,
    norm_label,
    prevalence_line,
    report_rows,
    results_markdown,
    segmentation_csv,
    segmentation_markdown,
)
from heartcv.files import atomic_write_text

__all__ = [
    "COLUMNS",
    "HEADERS",
    "SEGMENTATION_METRICS",
    "aggregate_folds",
    "comparison_markdown",
    "comparison_rows",
    "comparison_table",
    "format_cell",
    "format_mean_sd",
    "format_number",
    "markdown_table",
    "paper_comparison",
    "read_expected",
    "report_rows",
    "results_markdown",
    "rewrite_run_report",
    "segmentation_markdown",
    "write_comparison",
    "write_report",
]


def write_report(
    results, out_dir, *, table="results", expected_csv=None, digits=3, percent=False, figures=True
):
    """Write metrics.json, metrics.csv, report.md (and comparison CSV, figures) to ``out_dir``.

    Args:
        results: a :func:`heartcv.evaluate.classification_report` result, or
            :func:`aggregate_folds` output.
        out_dir: folder to write into (created if missing).
        table: the paper table this reproduces; names the Markdown caption and selects the
            ``expected_csv`` rows.
        expected_csv: path of an ``expected.csv`` (format in the module docstring), or None.
        digits: decimals shown (3 by default).
        percent: show fractions as percentages (``91.2%``) where the paper does.
        figures: also write ``roc.png`` (when results hold ``roc_curves``) and
            ``confusion_matrix.png`` (binary/multiclass).

    Returns:
        Dict of written paths: ``json``, ``csv``, ``markdown`` and, where written,
        ``comparison_csv``, ``roc_png``, ``confusion_png``.
    """
    out_dir = Path(out_dir)
    expected = None if expected_csv is None else _read_expected(expected_csv)  # before any work
    out_dir.mkdir(parents=True, exist_ok=True)
    seg = results.get("task") == "segmentation"
    render = segmentation_markdown if seg else results_markdown
    md = [caption(results, table), "", render(results, digits=digits, percent=percent)]
    prevalence = prevalence_line(results)
    if prevalence:
        md += [""] + prevalence
    paths = {}
    if expected_csv is not None:
        rows = select_table(expected, table, expected_csv)
        comp = paper_comparison(rows, lambda row, metric: lookup_metric(results, row, metric))
        md += [""] + paper_section(comp, expected_csv, digits, percent)
        paths["comparison_csv"] = atomic_write_text(
            out_dir / "paper_comparison.csv", comparison_csv(comp)
        )
    if results.get("notes"):
        md += ["", "Notes:", ""] + [f"- {n}" for n in results["notes"]]
    text = json.dumps(to_jsonable({**results, "report_table": str(table)}), indent=2) + "\n"
    paths["json"] = atomic_write_text(out_dir / "metrics.json", text)
    table_csv = segmentation_csv(results) if seg else metrics_csv(results)
    paths["csv"] = atomic_write_text(out_dir / "metrics.csv", table_csv)
    paths["markdown"] = atomic_write_text(out_dir / "report.md", "\n".join(md) + "\n")
    if figures and not seg:
        fig_dir = out_dir / "figures"
        title = _figure_title(results, table)
        if results.get("roc_curves"):
            paths["roc_png"] = plot_roc(results["roc_curves"], fig_dir / "roc.png", title)
        if results["task"] != "multilabel" and isinstance(results.get("confusion_matrix"), list):
            paths["confusion_png"] = plot_confusion_matrix(
                results["confusion_matrix"],
                results["class_names"],
                fig_dir / "confusion_matrix.png",
                title=title,
            )
    return paths


def _figure_title(results: dict, table) -> str:
    """A report figure's title: the table, with the model's registry key (``results["model"]``)
    added when the table does not name it; wrapped at 60 characters."""
    import textwrap

    text = str(table)
    model = results.get("model")
    if model and str(model) not in text:
        text = f"{text} ({model})"
    return textwrap.fill(text, 60)


def _read_expected(path):
    """:func:`read_expected`, with a binary file named in one line."""
    try:
        return read_expected(path)
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a text CSV (byte {err.start} is not UTF-8)") from None


def rewrite_run_report(run_dir, *, expected_csv=None, table=None, **kwargs):
    """Rewrite a run directory's tables (and figures) from its ``metrics.json``.

    Args:
        run_dir: folder holding a ``metrics.json`` written by :func:`write_report`.
        expected_csv: optional ``expected.csv`` to add the Paper and Δ columns.
        table: table key; default the one recorded in ``metrics.json`` (``report_table``).
        **kwargs: passed to :func:`write_report` (``digits``, ``percent``, ``figures``).

    Returns:
        The dict of written paths from :func:`write_report`.
    """
    run_dir = Path(run_dir)
    path = run_dir / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected a run directory holding metrics.json. Received: run_dir={str(run_dir)!r}"
        )
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable metrics file ({err}); re-run the "
                         "evaluation to rewrite it") from None
    if not isinstance(results, dict):
        raise ValueError(f"{path}: not a metrics file (expected a JSON object, found "
                         f"{type(results).__name__})")
    recorded = results.pop("report_table", None)
    return write_report(results, run_dir, table=table or recorded or run_dir.name,
                        expected_csv=expected_csv, **kwargs)  # fmt: skip


# ----------------------------------------------------------------------------- several runs

_RUN_METRICS = ("precision", "recall", "f1", "specificity", "accuracy", "auroc")


def _run_lookup(results, metric, average):
    """``(value, ci)`` of ``metric`` for one run: the ``average`` row, accuracy or AUROC."""
    if metric == "accuracy":
        return results["accuracy"], None
    if metric == "auroc":
        a = results.get("auroc")
        return (a["value"], a.get("ci")) if a else (None, None)
    avg = results[f"{average}_avg"]
    if metric not in avg:
        raise ValueError(f"Runs report no {average} {metric!r}. Received: metric={metric!r}")
    return avg[metric], None


def comparison_rows(runs, *, average="weighted", tests=None):
    """Rows of a several-runs table: ``[{model, precision, ..., auroc, auroc_ci, test}]``."""
    if average not in ("weighted", "macro"):
        raise ValueError(
            "Expected `average` in ('weighted', 'macro')."
            f"{did_you_mean(average, ['weighted', 'macro'])} Received: average={average!r}"
        )
    if not runs:
        raise ValueError(f"Expected at least one run in `runs`. Received: runs={runs!r}")
    tests = dict(tests or {})
    for label in tests:
        if label not in runs:
            raise ValueError(
                f"`tests` names a run not in `runs`.{did_you_mean(label, list(runs))} "
                f"Received: {label!r}"
            )
    rows = []
    for label, res in runs.items():
        row = {"model": str(label), "test": tests.get(label)}
        for m in _RUN_METRICS:
            row[m], ci = _run_lookup(res, m, average)
        row["auroc_ci"] = ci
        rows.append(row)
    return rows


def _p_format(p):
    if p is None or not math.isfinite(p):
        return "NaN"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def comparison_table(runs, *, average="weighted", tests=None, digits=3, percent=False):
    """Markdown table comparing runs (e.g. AMM vs GAP), with AUROC CI and test columns.

    Args:
        runs: ``{label: result}`` (results or :func:`aggregate_folds` outputs), in row order.
        average: "weighted" or "macro": which average fills Precision/Recall/F1/Specificity.
        tests: optional ``{label: test}``, each from :func:`heartcv.evaluate.delong_test` or
            ``paired_bootstrap_test`` comparing that run (model a) with another (model b);
            adds ``vs | ΔAUROC [CI] | p`` columns and a footnote naming the method.
        digits, percent: number formatting.

    Returns:
        The Markdown text (table, then the footnote when tests are given).
    """
    fmt = {"digits": digits, "percent": percent}
    rows = comparison_rows(runs, average=average, tests=tests)
    header = ["Model"] + [f"{average.capitalize()} {HEADERS[m]}" for m in _RUN_METRICS[:4]]
    header += ["Accuracy", ci_header(next(iter(runs.values())))]
    if tests:
        header += ["vs", "ΔAUROC [CI]", "p"]
    body, methods = [], []
    for r in rows:
        cells = [r["model"]] + [format_cell(r[m], **fmt) for m in _RUN_METRICS[:5]]
        cells.append(format_cell(r["auroc"], ci=r["auroc_ci"], **fmt))
        t = r["test"]
        if tests and t is None:
            cells += ["", "", ""]
        elif tests:
            diff = format_cell(abs(t["difference"]), **fmt)
            ci = t.get("ci")
            if ci and all(math.isfinite(c) for c in ci):
                diff += f" [{format_number(ci[0], **fmt)}, {format_number(ci[1], **fmt)}]"
            sign = "+" if t["difference"] >= 0 else "-"
            cells += [t.get("model_b", ""), sign + diff, _p_format(t["p_value"])]
            if t.get("method") and t["method"] not in methods:
                methods.append(t["method"])
        body.append(cells)
    text = markdown_table(header, body)
    if methods:
        text += (
            "\n\nΔAUROC = AUROC(row) - AUROC(vs), with its CI; p two-sided; "
            + "; ".join(methods)
            + "."
        )
    return text


def write_comparison(
    runs,
    out_dir,
    *,
    name="comparison",
    average="weighted",
    tests=None,
    expected_csv=None,
    table=None,
    digits=3,
    percent=False,
    subset=False,
    extra=None,
):
    """Write ``<name>.md``, ``<name>.csv`` and ``<name>.json`` comparing several runs.

    With ``expected_csv``, rows of ``table`` (default ``name``) whose ``row`` is a run label
    are compared with that run's ``average`` precision/recall/F1/specificity, its accuracy
    and AUROC (e.g. the cardio-xattentionnet-amm paper's Table 5). A row naming no run is an
    error (a typo in expected.csv), unless ``subset``: the runs are some of the table's rows
    (``run.py --models A B``), and the paper's other rows are left out (listed in a note).
    ``extra``: Markdown lines added after the table (e.g. per-seed paired tests).

    Returns:
        Dict of written paths: ``markdown``, ``csv``, ``json`` (and ``comparison_csv``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = table or name
    md = [f"**{table}**", "", comparison_table(runs, average=average, tests=tests, digits=digits,
                                               percent=percent)]  # fmt: skip
    if extra:
        md += [""] + list(extra)
    paths = {}
    if expected_csv is not None:
        expected = select_table(read_expected(expected_csv), table, expected_csv)
        labels = {norm_label(k): k for k in runs}
        if subset:
            left_out = sorted({r["row"] for r in expected if norm_label(r["row"]) not in labels})
            expected = [r for r in expected if norm_label(r["row"]) in labels]

        def lookup(row, metric):
            if norm_label(row) not in labels:
                raise ValueError(
                    f"Unknown run in expected.csv.{did_you_mean(row, list(runs))} "
                    f"Received: row={row!r}"
                )
            return _run_lookup(runs[labels[norm_label(row)]], metric, average)

        if expected:
            comp = paper_comparison(expected, lookup)
            md += [""] + paper_section(comp, expected_csv, digits, percent)
        else:
            comp = []
        if subset and left_out:
            md += ["", f"Paper rows of {table} not run here (not compared): "
                       f"{', '.join(left_out)}."]
        paths["comparison_csv"] = atomic_write_text(
            out_dir / f"{name}_paper_comparison.csv", comparison_csv(comp)
        )
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", *_RUN_METRICS, "auroc_ci_low", "auroc_ci_high", "vs",
                "auroc_difference", "p_value", "test_method"])  # fmt: skip
    for r in comparison_rows(runs, average=average, tests=tests):
        t = r["test"] or {}
        w.writerow(
            [r["model"]]
            + [repr(as_scalar(r[m])) for m in _RUN_METRICS]
            + list(r["auroc_ci"] or ["", ""])
            + [t.get("model_b", ""), t.get("difference", ""), t.get("p_value", "")]
            + [t.get("method", "")]
        )
    paths["markdown"] = atomic_write_text(out_dir / f"{name}.md", "\n".join(md) + "\n")
    paths["csv"] = atomic_write_text(out_dir / f"{name}.csv", buf.getvalue())
    payload = to_jsonable({"average": average, "runs": runs, "tests": tests or {}})
    text = json.dumps(payload, indent=2) + "\n"
    paths["json"] = atomic_write_text(out_dir / f"{name}.json", text)
    return paths

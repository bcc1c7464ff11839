"""Tests for heartcv.report: Markdown/CSV/JSON reports, paper comparison, k-fold aggregation."""

import csv
import json

import numpy as np
import pytest

from heartcv import evaluate as ev
from heartcv import report as rp

NAMES = ["Non-Cardio", "Cardio"]
COLS = ["Precision", "Recall", "F1", "Specificity", "Support", "Accuracy"]


def _binary_results(seed=0, n=200, **kw):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * (y - 0.5))))
    kw.setdefault("n_boot", 100)
    res = ev.classification_report(
        y,
        s,
        task="binary",
        class_names=NAMES,
        threshold=0.5,
        threshold_source="validation:youden",
        curves=True,
        **kw,
    )
    return res, y, s


def _parse_tables(md):
    """All Markdown tables in ``md`` as lists of rows of cell strings (header first)."""
    tables, cur = [], None
    for line in md.splitlines():
        if line.startswith("|"):
            assert line.endswith("|"), line
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            if cur is None:
                cur = []
                tables.append(cur)
            if set(line.replace("|", "").replace(":", "").replace("-", "").strip()) == set():
                continue  # alignment row
            cur.append(cells)
        else:
            cur = None
    return tables


def test_write_report_files_and_table_parse_back(tmp_path):
    res, _, _ = _binary_results()
    paths = rp.write_report(res, tmp_path / "run", table="table4_dense121")
    assert set(paths) == {"json", "csv", "markdown", "roc_png", "confusion_png"}
    assert paths["roc_png"] == tmp_path / "run" / "figures" / "roc.png"
    for key in ("roc_png", "confusion_png"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(paths["json"].read_text())
    assert saved["per_class"] == json.loads(json.dumps(res["per_class"]))
    md = paths["markdown"].read_text()
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert lines[1].count("|") == lines[0].count("|")  # alignment row matches the header
    (table,) = _parse_tables(md)
    header, rows = table[0], table[1:]
    assert header == ["Row", *COLS, "AUROC [95% CI]"]
    labels = NAMES + ["Weighted avg", "Macro avg", "Accuracy", "AUROC [95% CI]"]
    assert [r[0] for r in rows] == labels
    assert all(len(r) == len(header) for r in rows)
    cardio = dict(zip(header, rows[1]))
    pc = res["per_class"]["Cardio"]
    assert float(cardio["Precision"]) == pytest.approx(pc["precision"], abs=5e-4)
    assert float(cardio["Specificity"]) == pytest.approx(pc["specificity"], abs=5e-4)
    assert int(cardio["Support"]) == pc["support"]
    assert cardio["Precision"] == f"{pc['precision']:.3f}"
    weighted = dict(zip(header, rows[2]))
    assert float(weighted["F1"]) == pytest.approx(res["weighted_avg"]["f1"], abs=5e-4)
    assert float(dict(zip(header, rows[4]))["Accuracy"]) == pytest.approx(res["accuracy"], abs=5e-4)
    lo, hi = res["auroc"]["ci"]
    auroc_cell = dict(zip(header, rows[5]))["AUROC [95% CI]"]
    assert auroc_cell == f"{res['auroc']['value']:.3f} [{lo:.3f}, {hi:.3f}]"
    # CSV: one row per class + averages + accuracy + auroc, full precision
    with open(paths["csv"], newline="") as f:
        recs = list(csv.DictReader(f))
    assert [r["row"] for r in recs] == NAMES + ["weighted avg", "macro avg", "accuracy", "auroc"]
    assert float(recs[1]["recall"]) == pc["recall"]
    assert float(recs[5]["auroc_ci_low"]) == lo


def test_percent_formatting_and_multiclass_columns(tmp_path):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 120)
    s = rng.dirichlet(np.ones(3), 120) + 0.6 * np.eye(3)[y]
    names = ["Normal", "VSD", "ASD"]
    res = ev.classification_report(y, s, task="multiclass", class_names=names, n_boot=50)
    md = rp.results_markdown(res, percent=True)
    (table,) = _parse_tables(md)
    header = table[0]
    vsd = dict(zip(header, table[2]))
    assert vsd["Recall"] == f"{100 * res['per_class']['VSD']['recall']:.1f}%"
    # one-vs-rest accuracy per class
    assert vsd["Accuracy"] == f"{100 * res['per_class']['VSD']['accuracy']:.1f}%"
    assert vsd["AUROC [95% CI]"].startswith(f"{100 * res['per_class']['VSD']['auroc']:.1f}% [")
    assert rp.format_number(0.91234) == "0.912"
    assert rp.format_number(0.91234, percent=True) == "91.2%"
    assert rp.format_number(float("nan")) == "NaN"


def test_expected_csv_adds_paper_and_delta(tmp_path):
    res, _, _ = _binary_results()
    exp = tmp_path / "expected.csv"
    exp.write_text(
        "# cardio-xattentionnet-amm, Table 4 (CXA_Dense121)\n"
        "table,row,metric,paper,source\n"
        "table4_dense121,Cardio,precision,0.59,Table 4\n"
        "table4_dense121,Non-Cardio,Recall,0.88,Table 4\n"
        "table4_dense121,Avg/total,F1-Score,0.86,Table 4\n"
        "table4_dense121,accuracy,accuracy,85%,Table 4\n"
        "table4_dense121,AUC,auroc,0.89,Fig. 6\n"
        "table5,CXA_Dense121,auroc,0.89,Table 5\n"
    )
    paths = rp.write_report(
        res, tmp_path / "run", table="table4_dense121", expected_csv=exp, figures=False
    )
    md = paths["markdown"].read_text()
    main, comp = _parse_tables(md)
    assert comp[0] == ["Row", "Metric", "Paper", "heartcv", "Δ"]
    assert len(comp) == 1 + 5
    ours = {
        "Cardio": res["per_class"]["Cardio"]["precision"],
        "Non-Cardio": res["per_class"]["Non-Cardio"]["recall"],
        "Avg/total": res["weighted_avg"]["f1"],
        "accuracy": res["accuracy"],
        "AUC": res["auroc"]["value"],
    }
    papers = {"Cardio": 0.59, "Non-Cardio": 0.88, "Avg/total": 0.86, "accuracy": 0.85, "AUC": 0.89}
    for row in comp[1:]:
        name, _, paper, heartcv, delta = row
        assert float(paper) == pytest.approx(papers[name])
        assert float(heartcv.split(" [")[0]) == pytest.approx(ours[name], abs=5e-4)
        d = ours[name] - papers[name]
        assert delta == ("+" if d >= 0 else "-") + f"{abs(d):.3f}"
    with open(paths["comparison_csv"], newline="") as f:
        recs = {r["row"]: r for r in csv.DictReader(f)}
    assert float(recs["accuracy"]["delta"]) == pytest.approx(res["accuracy"] - 0.85)
    assert recs["Avg/total"]["metric"] == "f1"
    assert "Paper vs heartcv" in md


def test_expected_csv_errors(tmp_path):
    res, _, _ = _binary_results(n=60, n_boot=0)
    exp = tmp_path / "expected.csv"
    exp.write_text("table,row,metric,paper\ntable4,Cardio,precison,0.5\n")
    with pytest.raises(ValueError, match="line 2: unknown metric. Did you mean 'precision'"):
        rp.read_expected(exp)
    exp.write_text("table,row,metric,paper\ntable4,Cardio,precision,half\n")
    with pytest.raises(ValueError, match="not a number"):
        rp.read_expected(exp)
    exp.write_text("table,row,metric,paper\ntable4,Cardoi,precision,0.5\n")
    with pytest.raises(ValueError, match="Did you mean 'table4'"):
        rp.write_report(res, tmp_path, table="tabel4", expected_csv=exp, figures=False)
    with pytest.raises(ValueError, match="Did you mean 'Cardio'"):
        rp.write_report(res, tmp_path, table="table4", expected_csv=exp, figures=False)
    exp.write_text("table,row,value\n")
    with pytest.raises(ValueError, match="missing"):
        rp.read_expected(exp)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        rp.read_expected(tmp_path / "nope.csv")


def test_aggregate_folds_mean_sd_vs_numpy(tmp_path):
    folds = [_binary_results(seed=i, n=120, n_boot=50)[0] for i in range(5)]
    agg = rp.aggregate_folds(folds)
    prec = [f["per_class"]["Cardio"]["precision"] for f in folds]
    cell = agg["per_class"]["Cardio"]["precision"]
    assert cell["values"] == prec
    assert cell["mean"] == pytest.approx(np.mean(prec))
    assert cell["sd"] == pytest.approx(np.std(prec, ddof=1))
    acc = [f["accuracy"] for f in folds]
    assert agg["accuracy"]["mean"] == pytest.approx(np.mean(acc))
    aucs = [f["auroc"]["value"] for f in folds]
    assert agg["auroc"]["value"]["sd"] == pytest.approx(np.std(aucs, ddof=1))
    assert "ci" not in agg["auroc"] and "roc_curves" not in agg
    pooled = np.sum([f["confusion_matrix"] for f in folds], axis=0).tolist()
    assert agg["confusion_matrix"] == pooled
    assert agg["aggregated"]["n_folds"] == 5 and agg["class_names"] == NAMES
    text = rp.format_mean_sd(agg["accuracy"]["mean"], agg["accuracy"]["sd"])
    assert text == f"{np.mean(acc):.3f} ± {np.std(acc, ddof=1):.3f}"
    assert rp.format_mean_sd(0.9123, 0.0131) == "0.912 ± 0.013"
    paths = rp.write_report(agg, tmp_path, table="kfold")
    (table,) = _parse_tables(paths["markdown"].read_text())
    header = table[0]
    assert header[-1] == "AUROC"
    acc_row = dict(zip(header, table[5]))
    assert acc_row["Accuracy"] == text
    assert int(acc_row["Support"]) == 5 * 120
    json.loads(paths["json"].read_text())
    with open(paths["csv"], newline="") as f:
        recs = list(csv.DictReader(f))
    assert float(recs[4]["accuracy_sd"]) == pytest.approx(np.std(acc, ddof=1))
    with pytest.raises(ValueError, match="same 'class_names'"):
        rp.aggregate_folds([folds[0], {**folds[1], "class_names": ["a", "b"]}])


def test_comparison_table_with_delong(tmp_path):
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, 300)
    s_amm = 1 / (1 + np.exp(-(rng.normal(size=300) + 2.0 * (y - 0.5))))
    s_gap = 1 / (1 + np.exp(-(rng.normal(size=300) + 1.0 * (y - 0.5))))
    runs = {
        name: ev.classification_report(y, s, task="binary", class_names=NAMES, n_boot=100)
        for name, s in (("CXA_Dense121", s_amm), ("DenseNet121-GAP", s_gap))
    }
    test = ev.delong_test(y, s_amm, s_gap, names=("CXA_Dense121", "DenseNet121-GAP"))
    exp = tmp_path / "expected.csv"
    exp.write_text(
        "table,row,metric,paper\n"
        "table5,CXA_Dense121,auroc,0.89\n"
        "table5,densenet121 gap,precision,0.84\n"
    )
    tests = {"CXA_Dense121": test}
    paths = rp.write_comparison(runs, tmp_path, name="table5", tests=tests, expected_csv=exp)
    md = paths["markdown"].read_text()
    main, comp = _parse_tables(md)
    assert main[0][-3:] == ["vs", "ΔAUROC [CI]", "p"]
    assert [r[0] for r in main[1:]] == list(runs)
    amm = dict(zip(main[0], main[1]))
    assert amm["vs"] == "DenseNet121-GAP"
    p = test["p_value"]
    assert amm["p"] == ("<0.001" if p < 0.001 else f"{p:.3f}")
    assert amm["ΔAUROC [CI]"].startswith(f"+{test['difference']:.3f} [")
    amm_prec = runs["CXA_Dense121"]["weighted_avg"]["precision"]
    assert float(amm["Weighted Precision"]) == pytest.approx(amm_prec, abs=5e-4)
    assert dict(zip(main[0], main[2]))["p"] == ""
    assert "DeLong" in md
    assert [r[0] for r in comp[1:]] == ["CXA_Dense121", "densenet121 gap"]
    gap_prec = runs["DenseNet121-GAP"]["weighted_avg"]["precision"]
    assert comp[2][4] == ("+" if gap_prec >= 0.84 else "-") + f"{abs(gap_prec - 0.84):.3f}"
    saved = json.loads(paths["json"].read_text())
    assert saved["tests"]["CXA_Dense121"]["p_value"] == pytest.approx(p)
    with pytest.raises(ValueError, match="Did you mean 'CXA_Dense121'"):
        rp.comparison_table(runs, tests={"CXA_Dense12": test})


def test_rewrite_run_report_from_metrics_json(tmp_path):
    res, _, _ = _binary_results(n=80, n_boot=50)
    first = rp.write_report(res, tmp_path, table="table4_dense121", figures=False)
    before = first["markdown"].read_text()
    assert json.loads(first["json"].read_text())["report_table"] == "table4_dense121"
    exp = tmp_path / "expected.csv"
    exp.write_text("table,row,metric,paper\ntable4_dense121,Cardio,f1,0.66\n")
    paths = rp.rewrite_run_report(tmp_path, expected_csv=exp, figures=False)
    after = paths["markdown"].read_text()
    assert after.startswith(before.split("\n\n")[0])  # same caption, table key kept
    main, comp = _parse_tables(after)
    assert main == _parse_tables(before)[0]
    assert comp[1][:3] == ["Cardio", "F1", "0.660"]
    with pytest.raises(FileNotFoundError, match="metrics.json"):
        rp.rewrite_run_report(tmp_path / "missing")


def test_segmentation_results_report(tmp_path):
    # the shape heartcv.train.segmentation_scores returns: per-image Dice/IoU mean and sd
    folds = [
        {"task": "segmentation", "n_samples": 10, "dice": {"mean": d, "sd": 0.05},
         "iou": {"mean": d - 0.1, "sd": 0.06}, "class_names": ["heart"]}  # fmt: skip
        for d in (0.90, 0.92, 0.94)
    ]
    exp = tmp_path / "expected.csv"
    exp.write_text("table,row,metric,paper\nunet,heart,Dice,0.95\n")
    paths = rp.write_report(folds[0], tmp_path / "one", table="unet", expected_csv=exp)
    main, comp = _parse_tables(paths["markdown"].read_text())
    assert main == [["Metric", "Mean ± sd", "N"], ["Dice", "0.900 ± 0.050", "10"],
                    ["IoU", "0.800 ± 0.060", "10"]]  # fmt: skip
    assert comp[1] == ["heart", "Dice", "0.950", "0.900", "-0.050"]
    agg = rp.aggregate_folds(folds)
    paths = rp.write_report(agg, tmp_path / "cv", table="unet")
    (main,) = _parse_tables(paths["markdown"].read_text())
    assert main[1] == ["Dice", "0.920 ± 0.020", "30"]  # mean over folds ± sd over folds
    rows = list(csv.DictReader(paths["csv"].read_text().splitlines()))
    assert rows[0]["sd_over"] == "folds" and float(rows[0]["sd"]) == pytest.approx(0.02)

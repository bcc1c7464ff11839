"""The five-class ECG-image experiment: heartcv.papers.ecg_images_5class.experiment, experiments/ecg_images_5class."""

import json
from pathlib import Path

import numpy as np
import pytest

import heartcv
from heartcv import evaluate
from heartcv.config import load_config
from heartcv.papers.ecg_images_5class.layout import LEAD_NAMES
from heartcv.papers.ecg_images_5class import experiment as ecg_images
from heartcv.papers.ecg_images_5class.experiment import (MODELS, PAPER_CLASSES, leads28_volumes, make_splits,
                                       paper_rows, performance_tables, synthetic_volumes)
from heartcv.report import read_expected
from tests.conftest import load_module

EXP = Path(__file__).resolve().parents[3] / "experiments" / "ecg_images_5class"


def _run_module():
    return load_module(EXP / "run.py", "ecg_images_run")


def test_models_and_configs():
    assert set(MODELS) <= set(heartcv.list_models()) and len(MODELS) == 6 and len(LEAD_NAMES) == 13
    for m in MODELS:
        cfg = load_config(EXP / "configs" / f"{m}.yaml")
        assert cfg.model.name == m and cfg.data.channels == 13 and cfg.table == f"Per-class {m}"
        first = (EXP / "configs" / f"{m}.yaml").read_text().splitlines()[0]
        assert first.startswith("# python experiments/ecg_images_5class/run.py --models " + m)


def test_expected_csv_quotes_the_paper():
    rows = read_expected(EXP / "expected.csv")
    assert len(rows) == 6 * 5 * 4 + 6 * 5
    text = (Path(__file__).resolve().parents[4] / "shared" / "papers" / "ecg-images-5class.txt")
    raw = [ln.split(",") for ln in (EXP / "expected.csv").read_text().splitlines()
           if ln and not ln.startswith(("#", "table,"))]
    assert all(len(r[3]) == 7 for r in raw)  # five decimals, as printed
    if text.is_file():
        paper = text.read_text()
        assert all(r[3] in paper for r in raw)
    by = {(r["table"], r["row"], r["metric"]): r["paper"] for r in rows}
    assert by[("Decision", "ecg_attention_vgg", "accuracy")] == 0.99455
    assert by[("Per-class ecg_attn_lstm", "history_of_mi", "recall")] == 0.41429
    assert by[("Per-class ecg_hybrid", "normal", "specificity")] == 0.99686
    assert {r["row"] for r in rows if r["table"].startswith("Per-class")} == set(PAPER_CLASSES)


def test_synthetic_volumes_and_split():
    v = synthetic_volumes(10, size=16, seed=3)
    assert v["x"].shape == (10, 16, 16, 13) and v["x"].dtype == np.uint8
    assert v["class_names"] == ["normal", "abnormal_heartbeat", "myocardial_infarction",
                                "history_of_mi", "covid19"]
    assert v["x"].mean() < 128  # inverted: dark background, bright trace
    data = make_splits(v, val_fraction=0.2, test_fraction=0.2, seed=0)
    summary = ecg_images.split_summary(data)
    assert summary["leaking_patients"] == []
    assert sum(s["samples"] for s in summary["splits"].values()) == 10
    ds = data.dataset("train", batch_size=4, image_size=16, channels=13, training=True)
    x, y = next(iter(ds))
    assert x.shape[1:] == (16, 16, 13) and y.shape[1:] == (5,)
    with pytest.raises(ValueError, match="Received: image_size=32"):
        data.dataset("train", batch_size=4, image_size=32, channels=13)
    with pytest.raises(ValueError, match="not augmented"):
        data.dataset("train", batch_size=4, image_size=16, channels=13, augment=object())


def test_tables_and_paper_rows():
    k = ["normal", "covid19"]
    res = evaluate.classification_report(
        np.array([0, 0, 1, 1]), np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.1, 0.9]]),
        task="multiclass", class_names=k, auroc=False)
    md = performance_tables({"ecg_cnn2d": res}, k)
    assert "| CNN2D (`ecg_cnn2d`) | 0.75000 |" in md
    assert "| Precision | Normal Heart | Covid |" in md
    rows = paper_rows({"ecg_cnn2d": res}, EXP / "expected.csv")
    assert {(r["row"], r["metric"]) for r in rows} >= {("normal", "recall"), ("weighted avg", "f1")}
    assert len(rows) == 2 * 4 + 5  # two classes x four metrics + the Decision row
    rec = next(r for r in rows if r["row"] == "normal" and r["metric"] == "recall")
    assert rec["heartcv"] == 0.5 and rec["paper"] == 1.0 and rec["delta"] == -0.5


def test_drop_duplicates():
    v = synthetic_volumes(5, size=16, seed=1)
    x = np.concatenate([v["x"], v["x"][[0, 0, 1]]])
    y = np.concatenate([v["y"], [v["y"][0], v["y"][0], (v["y"][1] + 1) % 5]])
    pid = np.array([f"p{i}" for i in range(8)])
    out, rep = ecg_images.drop_duplicates({**v, "x": x, "y": y, "patient_id": pid})
    # volume 0: three copies, one kept; volume 1: under two labels, both copies dropped
    assert rep == {"n_in": 8, "n_out": 4, "copies_dropped": 2, "conflicting_dropped": 2,
                   "per_class": {c: [int((y == k).sum()), int((out["y"] == k).sum())]
                                 for k, c in enumerate(v["class_names"])}}
    assert out["patient_id"].tolist() == ["p0", "p2", "p3", "p4"]
    np.testing.assert_array_equal(out["x"], v["x"][[0, 2, 3, 4]])


def test_leads28_real_volumes(ecg_khan_dir):
    v = leads28_volumes(ecg_khan_dir / "leads28")
    assert v["x"].shape == (622, 28, 28, 13) and v["x"].dtype == np.uint8
    assert v["class_names"] == ["myocardial_infarction", "history_of_mi", "covid19"]
    assert np.bincount(v["y"]).tolist() == [219, 228, 175]
    # lead 0 of ECG 0 is read_leads28's crop 0 of mi.npy
    raw = np.load(ecg_khan_dir / "leads28" / "mi.npy")
    np.testing.assert_array_equal(v["x"][0, :, :, 0], raw[0])
    np.testing.assert_array_equal(v["x"][1, :, :, 12], raw[25])
    distinct, rep = ecg_images.drop_duplicates(v)
    assert rep["n_out"] == 342 and rep["per_class"]["myocardial_infarction"] == [219, 32]
    data = make_splits(distinct, val_fraction=0.1, test_fraction=0.2, seed=0)
    summary = ecg_images.split_summary(data, rep)
    assert summary["leaking_patients"] == []
    train = {s.tobytes() for s in data.splits["train"].images}
    assert not any(s.tobytes() in train for s in data.splits["test"].images)  # no copy leaks


def test_volume_bundle(tmp_path):
    """(N, H, W, 13) volumes through an HDF5 bundle; its patient-wise split is kept."""
    v = synthetic_volumes(10, size=16, seed=0)
    split = np.array(["train"] * 6 + ["val"] * 2 + ["test"] * 2)
    path = ecg_images.write_volume_bundle(tmp_path / "v.h5", v, split=split)
    back = ecg_images.read_volume_bundle(path)
    np.testing.assert_array_equal(back["x"], v["x"])
    np.testing.assert_array_equal(back["y"], v["y"])
    assert back["class_names"] == v["class_names"]
    data = make_splits(back, seed=0)
    assert {k: len(s) for k, s in data.splits.items()} == {"train": 6, "val": 2, "test": 2}
    np.testing.assert_array_equal(data.splits["test"].images, v["x"][8:])
    with pytest.raises(ValueError, match="Expected a multiclass bundle of"):
        from heartcv.data.bundle import write_bundle

        grey = write_bundle(tmp_path / "grey.h5", v["x"][..., :1],
                            labels=np.eye(5, dtype="float32")[v["y"]],
                            patient_id=v["patient_id"], class_names=v["class_names"],
                            task="multiclass", source="test")
        ecg_images.read_volume_bundle(grey)


def test_quick_end_to_end(tmp_path):
    run = _run_module()
    rc = run.main(["--quick", "--n-sheets", "15", "--size", "16", "--models", "ecg_cnn2d",
                   "--output-dir", str(tmp_path), "--set", "train.epochs=1",
                   "--set", "eval.bootstrap=20", "--set", "train.verbose=0"])
    assert rc == 0
    out = tmp_path / "ecg_images_5class"
    md = (out / "performance_report.md").read_text()
    for title in ("Accuracy", "Precision", "Recall", "F1 Score", "Specificity", "Decision"):
        assert f"**Performance Report ({title})**" in md
    assert "**Paper vs heartcv**" in md and "CNN2D + background norm (`ecg_cnn2d_bgnorm`)" in md
    for m in ("ecg_cnn2d", "ecg_cnn2d_bgnorm"):
        assert (out / m / "model.h5").is_file() and (out / m / "report.md").is_file()
        assert (out / "figures" / f"confusion_{m}.png").is_file()
    split = json.loads((out / "split.json").read_text())
    assert split["leaking_patients"] == [] and split["test_sharing_a_crop_with_train"] == 0
    from heartcv.results import read_results

    res = read_results(out)
    for row in ("ecg_cnn2d", "ecg_cnn2d_bgnorm"):
        assert 0 <= res[f"{row}/accuracy"] <= 1 and res[f"{row}/credited"] in (0, 1)
        assert 0 <= res[f"{row}/accuracy_black_background"] <= 1
    assert 0 <= res["probe/accuracy"] <= 1 and res["split/test_ecgs"] >= 1
    assert "Shortcut probe" in (out / "shortcut.md").read_text()


def test_quick_is_a_switch():
    """--quick sets CPU-sized settings for every data source; --no-quick the paper's."""
    run = _run_module()
    p = run.build_parser()
    for extra in ([], ["--leads28", "x"], ["--data", "b.h5"]):
        quick = run.plan(p.parse_args(["--quick", *extra, "--set", "train.epochs=2"]))
        full = run.plan(p.parse_args(["--no-quick", *extra]))
        assert quick["overrides"] == run.QUICK + ["train.epochs=2"]  # the user's --set wins
        assert full["overrides"] == [] and run.plan(p.parse_args(extra)) == full
    assert (run.plan(p.parse_args(["--quick"]))["n_sheets"],
            run.plan(p.parse_args(["--quick"]))["size"]) == (300, 32)
    assert (full["n_sheets"], full["size"]) == (2746, 64)
    assert run.plan(p.parse_args(["--quick", "--size", "16"]))["size"] == 16
    assert "CPU-sized" in p.format_help() and "--norm" in p.format_help()
    configs = run.model_configs(["ecg_cnn2d"], "both", [], {})
    assert set(configs) == {"ecg_cnn2d", "ecg_cnn2d_bgnorm"}
    assert configs["ecg_cnn2d_bgnorm"].model.params["background_norm"] is True
    assert "background_norm" not in configs["ecg_cnn2d"].model.params  # the paper's scaling
    assert str(configs["ecg_cnn2d_bgnorm"].run_dir).endswith("ecg_cnn2d_bgnorm")
    assert set(run.model_configs(["ecg_cnn2d"], "paper", [], {})) == {"ecg_cnn2d"}


@pytest.mark.slow
def test_quick_all_six_with_bagging(tmp_path):
    run = _run_module()
    rc = run.main(["--quick", "--n-sheets", "20", "--size", "32", "--bagging", "2",
                   "--norm", "paper", "--no-probe", "--models", *MODELS,
                   "--output-dir", str(tmp_path), "--set", "train.epochs=1",
                   "--set", "eval.bootstrap=20", "--set", "train.verbose=0"])
    assert rc == 0
    out = tmp_path / "ecg_images_5class"
    report = json.loads((out / "performance_report.json").read_text())
    assert set(report) == set(MODELS) | {f"{m}_bagging" for m in MODELS}
    assert (out / "ecg_cnn3d" / "bagging" / "member2" / "model.h5").is_file()
    assert (out / "ecg_cnn3d" / "bagging" / "report.md").is_file()

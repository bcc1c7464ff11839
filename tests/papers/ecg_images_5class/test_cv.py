"""Grouped k-fold cross-validation of the ECG-image rows (heartcv.papers.ecg_images_5class.cv)."""

import json
from pathlib import Path

import numpy as np
import pytest

from heartcv.papers.ecg_images_5class.cv import credit, cv_table, grouped_folds, pooled_metrics
from tests.conftest import load_module

EXP = Path(__file__).resolve().parents[3] / "experiments" / "ecg_images_5class"


def test_grouped_folds_test_every_ecg_once_and_never_split_a_group():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [30, 20, 50])
    groups = np.array([f"g{i // 3}" if i < 30 else f"e{i}" for i in range(100)])
    rng.shuffle(groups[:60])
    folds = grouped_folds(y, groups, k=5, seed=0)
    tested = np.concatenate([f["test"] for f in folds])
    assert sorted(tested.tolist()) == list(range(100))  # every ECG tested exactly once
    for f in folds:
        parts = {s: set(groups[f[s]]) for s in ("train", "val", "test")}
        assert not parts["train"] & parts["test"] and not parts["val"] & parts["test"]
        assert not parts["train"] & parts["val"]
        assert len(f["train"]) + len(f["val"]) + len(f["test"]) == 100 and len(f["val"])
        assert set(y[f["test"]]) == {0, 1, 2}  # stratified: every class in every fold
    assert [f["test"].tolist() for f in grouped_folds(y, groups, k=5, seed=0)] == \
        [f["test"].tolist() for f in folds]  # seeded


@pytest.mark.parametrize("k, match", [(1, r"int >= 2"), (True, r"int >= 2"),
                                      (11, r"at least k=11")])
def test_grouped_folds_refuses(k, match):
    with pytest.raises(ValueError, match=match):
        grouped_folds(np.arange(20) % 2, np.arange(20) // 2, k=k)


def test_pooled_metrics_and_credit():
    y = np.array([0] * 10 + [1] * 10 + [2] * 20)
    pred = y.copy()
    pred[:4] = 1  # 6 of 10 class-0 ECGs found; class 1 predicted 14 times, 10 right
    m = pooled_metrics(y, pred, ["a", "b", "c"], n_boot=200, seed=0)
    assert m["n"] == 40 and m["accuracy"]["value"] == pytest.approx(36 / 40)
    assert m["per_class"]["a"]["recall"]["value"] == pytest.approx(0.6)
    assert m["per_class"]["b"]["precision"]["value"] == pytest.approx(10 / 14)
    assert m["per_class"]["a"]["support"] == 10 and m["confusion_matrix"][0] == [6, 4, 0]
    for e in (m["accuracy"], m["per_class"]["a"]["recall"]):
        assert e["ci_low"] <= e["value"] <= e["ci_high"]
    none = pooled_metrics(y, np.full(40, 2), ["a", "b", "c"], n_boot=50)
    assert np.isnan(none["per_class"]["a"]["precision"]["value"])  # never predicted: NaN
    probe = {"accuracy": {"value": 0.5, "ci_low": 0.35, "ci_high": 0.65}}
    assert credit(m, probe) == 1
    assert credit(m, {"accuracy": {"value": 0.9, "ci_low": 0.8, "ci_high": 0.95}}) == 0
    table = cv_table({"ecg_cnn2d": {**m, "credited": 1, "epochs": 3}, "probe": none},
                     mi="a")
    assert "| CNN2D (`ecg_cnn2d`) | 3 | 0.900 [" in table and "| yes |" in table
    assert "shortcut probe" in table and "NaN" in table


def _run_module():
    return load_module(EXP / "run.py", "ecg_images_run_cv")


def test_cv_end_to_end(tmp_path, capsys):
    from heartcv.papers.ecg_images_5class.experiment import synthetic_volumes, write_volume_bundle

    other = synthetic_volumes(10, size=16, seed=7)  # "another source": other sheets, same side
    other["source"] = "other sheets"
    bundle = write_volume_bundle(tmp_path / "other.h5", other, split=["test"] * 10)
    n_mi = int((other["y"] == other["class_names"].index("myocardial_infarction")).sum())
    run = _run_module()
    rc = run.main(["--quick", "--n-sheets", "20", "--size", "16", "--models", "ecg_cnn2d",
                   "--norm", "paper", "--cv", "2", "--output-dir", str(tmp_path),
                   "--source-shift", str(bundle),
                   "--set", "train.epochs=1", "--set", "eval.bootstrap=20",
                   "--set", "train.verbose=0"])
    assert rc == 0
    out = tmp_path / "ecg_images_5class"
    cv = json.loads((out / "cv.json").read_text())
    assert cv["k"] == 2 and len(cv["folds"]) == 2 and set(cv["rows"]) == {"ecg_cnn2d", "probe"}
    assert sum(f["test"]["ecgs"] for f in cv["folds"]) == 20
    assert min(cv["predictions"]["ecg_cnn2d"]) >= 0 and min(cv["predictions"]["probe"]) >= 0
    for f in (1, 2):
        assert (out / "ecg_cnn2d" / "cv2" / f"fold{f}" / "model.h5").is_file()
    from heartcv.results import read_results

    res = read_results(out)
    assert 0 <= res["cv/ecg_cnn2d/accuracy"] <= 1 and res["cv/ecg_cnn2d/credited"] in (0, 1)
    assert "Grouped 2-fold cross-validation" in (out / "cv.md").read_text()
    shift = json.loads((out / "source_shift.json").read_text())
    assert shift["n"] == n_mi and len(shift["rows"]["ecg_cnn2d"]["recall_per_fold"]) == 2
    assert res["source_shift/ecg_cnn2d/recall_myocardial_infarction"] == pytest.approx(
        shift["rows"]["ecg_cnn2d"]["recall"])
    assert "Grouped 2-fold" in capsys.readouterr().out


def test_cv_with_lead_augmentation(tmp_path):
    """--lead-augment: augmented training batches, rows and run folders of their own."""
    from heartcv.papers.ecg_images_5class.experiment import row_label

    run = _run_module()
    rc = run.main(["--quick", "--n-sheets", "20", "--size", "16", "--models", "ecg_cnn2d",
                   "--norm", "background", "--cv", "2", "--lead-augment", "--no-probe",
                   "--output-dir", str(tmp_path), "--set", "train.epochs=1",
                   "--set", "eval.bootstrap=20", "--set", "train.verbose=0"])
    assert rc == 0
    out = tmp_path / "ecg_images_5class"
    cv = json.loads((out / "cv.json").read_text())
    assert set(cv["rows"]) == {"ecg_cnn2d_bgnorm_aug"} and cv["lead_augment"]["shift"] > 0
    assert (out / "ecg_cnn2d_bgnorm_aug" / "cv2" / "fold1" / "model.h5").is_file()
    assert row_label("ecg_cnn2d_bgnorm_aug") == \
        "CNN2D + background norm + lead augmentation (`ecg_cnn2d_bgnorm_aug`)"


def test_lead_augment_reaches_the_training_batches():
    from heartcv.papers.ecg_images_5class.experiment import make_splits, synthetic_volumes

    data = make_splits(synthetic_volumes(20, size=16, seed=1), val_fraction=0.2,
                       test_fraction=0.2)
    plain = next(iter(data.dataset("train", batch_size=4, image_size=16)))[0].numpy()
    data.lead_augment = {"background_level_range": [120, 120]}
    aug = next(iter(data.dataset("train", batch_size=4, image_size=16, training=True)))[0]
    assert np.median(aug.numpy()) == pytest.approx(120, abs=1) and np.median(plain) < 60
    same = next(iter(data.dataset("test", batch_size=4, image_size=16)))[0].numpy()
    assert np.median(same) < 60  # never at test time


def test_cv_option_refuses_what_it_cannot_do(capsys):
    run = _run_module()
    for argv in (["--cv", "1"], ["--cv", "5", "--bagging", "3"], ["--cv", "5", "--data", "x.h5"],
                 ["--source-shift", "x.h5"], ["--lead-augment"]):
        with pytest.raises(SystemExit) as err:
            run.main(argv)
        assert err.value.code == 2
    assert "--cv needs K >= 2" in capsys.readouterr().err

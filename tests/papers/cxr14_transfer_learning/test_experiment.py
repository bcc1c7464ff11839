"""cxr14 transfer-learning experiment: leakage check/CLI, top-4 Grad-CAM, box scores, NIH."""

import json

import numpy as np
import pytest

import heartcv
from heartcv.cli import main as cli
from heartcv.data.bundle import write_bundle
from heartcv.data.sources import DataSplits, SplitArrays
from heartcv.data.splits import LeakageError, leakage_check
from heartcv.explain.topk import save_top_k_figure, top_k_gradcam
from heartcv.papers.cxr14_transfer_learning.experiment import (
    ROWS, box_scores, bundle_boxes, comparison, model_images, phantom_boxes,
)
from tests.conftest import REPO_ROOT, load_module

EXPECTED = REPO_ROOT / "experiments" / "cxr14_transfer_learning" / "expected.csv"


def _split_csv(path, rows):
    path.write_text("image_id,patient_id,split\n" + "".join(f"{i},{p},{s}\n" for i, p, s in rows))
    return path


# ----------------------------------------------------------------------------- leakage


def test_leakage_cli_reports_shared_patients_and_fails(tmp_path, capsys):
    bad = _split_csv(tmp_path / "bad.csv", [
        ("a.png", "00000007", "train"), ("b.png", "00000007", "test"),
        ("c.png", "00000042", "val"), ("d.png", "00000042", "test"),
        ("e.png", "00000005", "train")])
    assert cli(["leakage", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "train/test: 1 shared: 00000007" in out and "val/test: 1 shared: 00000042" in out
    assert "LEAKAGE: 2 patient_id value(s)" in out
    good = _split_csv(tmp_path / "good.csv", [("a.png", "1", "train"), ("b.png", "2", "test")])
    assert cli(["leakage", str(good)]) == 0
    assert "no leakage" in capsys.readouterr().out


def test_leakage_cli_bad_column_is_bad_input(tmp_path, capsys):
    good = _split_csv(tmp_path / "good.csv", [("a.png", "1", "train"), ("b.png", "2", "test")])
    assert cli(["leakage", str(good), "--by", "patient"]) == 2
    assert "Did you mean 'patient_id'?" in capsys.readouterr().err


def _leaky_bundle(path):
    images = np.zeros((4, 32, 32, 1), np.uint8)
    labels = np.array([[1, 0], [0, 1], [0, 0], [1, 1]], np.float32)
    return write_bundle(path, images, labels=labels, patient_id=["p1", "p2", "p1", "p3"],
                        split=["train", "train", "test", "val"], class_names=["A", "B"],
                        task="multilabel", source="test")


def test_leaky_bundle_is_reported_and_refused(tmp_path, capsys):
    bundle = _leaky_bundle(tmp_path / "leaky.h5")
    report = leakage_check(bundle)
    assert report["leaking"] == ["p1"] and report["shared"]["train/test"] == ["p1"]
    assert cli(["leakage", str(bundle)]) == 1
    assert "train/test: 1 shared: p1" in capsys.readouterr().out
    from heartcv.config import load_config
    from heartcv.data.sources import load_data

    with pytest.raises(LeakageError, match="p1"):  # the training data is never built
        load_data(load_config(None, [f"data.source={bundle}"]).data)
    run = _load_run_script()
    assert run.main(["--data", str(bundle), "--output-dir", str(tmp_path / "runs")]) == 1
    assert "LEAKAGE: 1 patient_id" in capsys.readouterr().out and not (tmp_path / "runs").exists()


def test_data_splits_refuse_a_shared_patient():
    img = np.zeros((1, 8, 8, 1), np.uint8)
    def part(pid):
        return SplitArrays(img, np.zeros((1, 2), np.float32), np.array([pid]), np.array(["x"]))

    with pytest.raises(LeakageError, match="1 patient appears in more than one split .*: P9"):
        DataSplits({"train": part("P9"), "test": part("P9")}, ["A", "B"], "multilabel", "t")


def _load_run_script():
    path = REPO_ROOT / "experiments" / "cxr14_transfer_learning" / "run.py"
    return load_module(path, "cxr14_run")


# ----------------------------------------------------------------------------- expected.csv


def test_expected_csv_holds_the_papers_numbers():
    from heartcv.report import read_expected

    rows = {(e["table"], e["row"]): e["paper"] for e in read_expected(EXPECTED)}
    assert [rows[("Table 1", r)] for r in ROWS] == [0.89, 0.92, 0.84]
    assert [rows[("Table 2", r)] for r in ROWS] == [0.82, 0.84, 0.76]
    assert rows[("Fig. 4-6", "densenet121_no_da: Cardiomegaly")] == 0.51
    assert rows[("Fig. 4-6", "densenet121_da: Fibrosis")] == 0.775
    assert rows[("CheXNet (context)", "mean")] == 0.841
    assert rows[("CheXNet (context)", "Cardiomegaly")] == 0.925


def test_comparison_lookup_and_missing_rows():
    results = {"densenet121_da": {"train_accuracy": 0.9, "test_accuracy": 0.8, "mean_auroc": 0.7,
                                  "mean_auroc_ci": [0.6, 0.8], "auroc": {"Cardiomegaly": 0.95},
                                  "auroc_ci": {"Cardiomegaly": [0.9, 1.0]}}}
    cmp, text = comparison(results, EXPECTED)
    got = {(c["table"], c["row"]): c["heartcv"] for c in cmp}
    assert got[("Table 1", "densenet121_da")] == 0.9 and got[("Table 2", "densenet121_da")] == 0.8
    assert got[("CheXNet (context)", "mean")] == 0.7
    assert got[("CheXNet (context)", "Cardiomegaly")] == 0.95
    assert np.isnan(got[("Table 1", "resnet50_da")])  # a row that was not run stays NaN
    assert np.isnan(got[("Fig. 4-6", "densenet121_da: Fibrosis")])  # label absent
    assert "### Table 2" in text


def test_flat_results_keys():
    from heartcv.papers.cxr14_transfer_learning.experiment import flat_results

    rows = {"densenet121_da": {"mean_auroc": 0.8, "mean_auroc_ci": [0.7, 0.9],
                               "auroc": {"Mass": 0.75, "Hernia": float("nan")},
                               "auroc_ci": {"Mass": [0.6, 0.85], "Hernia": None},
                               "train_accuracy": 0.9, "test_accuracy": 0.85},
            "resnet50_da": {"mean_auroc": 0.6, "mean_auroc_ci": None, "auroc": {"Mass": 0.6},
                            "auroc_ci": {}, "train_accuracy": 0.7, "test_accuracy": 0.65,
                            "test_accuracy_val_thresholds": 0.6}}
    flat = flat_results(rows)
    assert flat["densenet121_da/mean/auroc"] == 0.8
    assert flat["densenet121_da/mean/auroc_ci_low"] == 0.7
    assert flat["densenet121_da/Mass/auroc_ci_high"] == 0.85
    assert "densenet121_da/Hernia/auroc" not in flat  # NaN (one class in the test split)
    assert "resnet50_da/mean/auroc_ci_low" not in flat
    assert flat["resnet50_da/test_accuracy_val_thresholds"] == 0.6
    assert flat["mean/auroc"] == pytest.approx(0.7)


# ----------------------------------------------------------------------------- top-4 and boxes


@pytest.fixture(scope="module")
def small_multilabel():
    import keras

    keras.utils.set_random_seed(0)
    return heartcv.build_model("small_cnn", input_shape=(48, 48, 3), num_classes=5,
                               classifier_activation="sigmoid", filters=(8, 16))


def test_top_k_gradcam_orders_labels_and_draws_fig7(small_multilabel, tmp_path):
    x = np.random.default_rng(0).uniform(0, 255, (2, 48, 48)).astype(np.float32)
    names = ["A", "B", "C", "D", "E"]
    res = top_k_gradcam(small_multilabel, x, k=4, class_names=names)
    p = small_multilabel.predict(np.repeat(x[..., None], 3, -1), verbose=0)
    np.testing.assert_array_equal(res["indices"], np.argsort(-p, axis=1, kind="stable")[:, :4])
    assert res["labels"][0] == [names[j] for j in res["indices"][0]]
    assert np.all(np.diff(res["scores"], axis=1) <= 0)
    assert res["maps"].shape == (2, 4, 48, 48) and res["maps"].min() >= 0 and res["maps"].max() <= 1
    # each map is that label's Grad-CAM
    c = int(res["indices"][1, 2])
    np.testing.assert_allclose(res["maps"][1, 2], heartcv.explain.gradcam(
        small_multilabel, x[1:2], class_index=c)[0], atol=1e-6)
    # tf-keras-vis, set up as in topk (logit, no layer seeking), gives the same maps
    tkv = top_k_gradcam(small_multilabel, x, k=4, class_names=names, engine="tf-keras-vis")
    np.testing.assert_array_equal(tkv["indices"], res["indices"])
    r = np.corrcoef(tkv["maps"].ravel(), res["maps"].ravel())[0, 1]
    assert r > 0.95, r
    pp = top_k_gradcam(small_multilabel, x, k=2, plus=True, class_names=names)
    assert pp["method"] == "Grad-CAM++" and pp["maps"].shape == (2, 2, 48, 48)
    path = save_top_k_figure(x, res, tmp_path / "fig7.png", titles=["one", "two"])
    assert path.is_file() and path.stat().st_size > 5000
    with pytest.raises(ValueError, match=r"Expected `k` to be an int in \[1, 5\]"):
        top_k_gradcam(small_multilabel, x, k=6)
    with pytest.raises(ValueError, match="Expected `engine` in"):
        top_k_gradcam(small_multilabel, x, engine="keras-vis")
    with pytest.raises(ValueError, match="Expected 5 `class_names`"):
        top_k_gradcam(small_multilabel, x, class_names=names[:3])


def test_box_scores_on_the_phantom(small_multilabel):
    from heartcv.config import load_config
    from heartcv.data.synthetic import generate_chest_xrays

    cfg = load_config(None, ["data.synthetic=findings", "data.n_patients=6",
                             "data.image_size=48"]).data
    d = generate_chest_xrays(n_patients=6, images_per_patient=2, size=48, task="findings", seed=0)
    boxes = phantom_boxes(cfg, d["image_id"])
    assert boxes == [list(b) for b in d["boxes"]]
    names = ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass"]  # 5 outputs
    scores = box_scores(small_multilabel, model_images(d["images"], 48), boxes, names)
    for label, s in scores.items():
        if label == "skipped":
            assert set(s) <= set(d["class_names"]) - set(names)
            continue
        assert s["n_images"] == sum(any(b[0] == label for b in bs) for bs in boxes)
        assert 0 <= s["pointing_game"] <= 1 and 0 < s["box_area_fraction"] < 1
        assert set(s["accuracy_iobb"]) == {"0.1", "0.25", "0.5", "0.75", "0.9"}


# ----------------------------------------------------------------------------- real NIH images


@pytest.mark.slow
def test_nih_end_to_end(nih_dir, tmp_path, capsys):
    """prep → bundle → leakage → predict (RGBA image) → top-4 Grad-CAM → box scores.

    The model is an UNTRAINED cxr14_densenet121 (backbone_weights=None) at 64 px: the test
    shows the pipeline runs on the real files, not that the maps are meaningful.
    """
    bundle = tmp_path / "cxr14_64.h5"
    assert cli(["prep", "cxr14", "--raw", str(nih_dir), "--out", str(bundle), "--size", "64",
                "--view", "multilabel", "--workers", "1", "--no-progress"]) == 0
    assert cli(["leakage", str(bundle)]) == 0
    assert "no leakage" in capsys.readouterr().out
    from heartcv.data.sources import bundle_arrays

    splits, full, names, task = bundle_arrays(bundle)
    assert task == "multilabel" and len(names) == 14 and len(full) == 95
    model = heartcv.build_model("cxr14_densenet121", input_shape=(64, 64, 3), backbone_weights=None)
    model_path = heartcv.save_model(model, tmp_path / "cxr14_densenet121.keras")
    (tmp_path / "cxr14_densenet121.card.json").write_text(json.dumps({"class_names": names}))
    rgba = nih_dir / "images" / "00001369_000.png"  # RGBA, with a Cardiomegaly box
    assert cli(["predict", str(rgba), "--model", str(model_path), "--out", str(tmp_path)]) == 0
    pred = json.loads((tmp_path / "00001369_000.prediction.json").read_text())
    assert list(pred["probabilities"]) == names
    boxes = bundle_boxes(bundle, full.image_id)
    boxed = [i for i, b in enumerate(boxes) if b]
    assert len(boxed) >= 2 and all(0 <= c <= 64 for i in boxed for b in boxes[i] for c in b[1:3])
    x = model_images(full.images[boxed[:4]], 64)
    res = top_k_gradcam(model, x, k=4, class_names=names)
    assert save_top_k_figure(x, res, tmp_path / "nih_top4.png").is_file()
    print("images with boxes:", [(full.image_id[i], boxes[i]) for i in boxed])
    scores = box_scores(model, model_images(full.images[boxed], 64), [boxes[i] for i in boxed],
                        names, frame=(64, 64))
    assert "Cardiomegaly" in scores and sum(s["n_images"] for k, s in scores.items()
                                            if k != "skipped") >= len(boxed)


@pytest.mark.slow
def test_run_script_writes_tables_and_figures(tmp_path):
    """run.py --quick, shrunk to one row, 32 px, 20 patients, 1 epoch: every output is written."""
    run = _load_run_script()
    assert run.main(["--quick", "--rows", "densenet121_no_da", "--output-dir", str(tmp_path),
                     "--set", "data.image_size=32", "--set", "data.n_patients=20",
                     "--set", "train.epochs=1", "--set", "train.verbose=0"]) == 0
    out = tmp_path / "cxr14_transfer_learning"
    tables = (out / "tables.md").read_text()
    assert "| DenseNet121 without data augmentation |" in tables and "### Table 2" in tables
    results = json.loads((out / "rows.json").read_text())["densenet121_no_da"]
    assert 0 <= results["train_accuracy"] <= 1 and 0 <= results["test_accuracy"] <= 1
    assert set(results["validation_thresholds"]) == set(results["auroc"])
    assert len(results["auroc"]) == 14
    from heartcv.results import read_results

    flat = read_results(out)  # the flat results.json, its path printed last
    assert flat["densenet121_no_da/train_accuracy"] == results["train_accuracy"]
    assert flat["mean/auroc"] == flat["densenet121_no_da/mean/auroc"] == results["mean_auroc"]
    for name in ("loss_curves", "roc_densenet121_no_da", "top4_gradcam_densenet121_no_da",
                 "top4_gradcampp_densenet121_no_da"):
        assert (out / "figures" / f"{name}.png").is_file()
    scores = json.loads((out / "box_scores.json").read_text())["densenet121_no_da"]
    assert set(scores) == {"Grad-CAM", "Grad-CAM++"} and scores["Grad-CAM"]
    import keras

    model = keras.models.load_model(out / "densenet121_no_da" / "model.keras")  # loss reloads
    assert type(model.loss).__name__ == "WeightedBinaryCrossentropy"

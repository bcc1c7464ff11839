"""CLI flows on generated data: prep → train → evaluate → predict → report, and k-fold."""

import json

import cv2
import numpy as np
import pytest

from heartcv.cli import main
from heartcv.data.bundle import read_bundle

QUIET = ["--set", "train.verbose=0", "--set", "eval.bootstrap=50",
         "--set", "model.params={filters: [4, 8]}", "--set", "data.image_size=32"]


@pytest.fixture(scope="module")
def phantom_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("prep") / "phantom.h5"
    assert main(["prep", "synthetic", "--out", str(out), "--n-patients", "24", "--size", "48"]) == 0
    return out


def test_prep_synthetic_bundle(phantom_bundle, capsys):
    b = read_bundle(phantom_bundle)
    assert b.images.shape == (48, 48, 48, 1) and b.task == "binary"
    assert b.class_names == ["Cardiomegaly"] and set(b.split) == {"train", "val", "test"}
    assert b.masks is not None and b.masks.shape == (48, 48, 48)


def test_prep_unknown_dataset_and_missing_raw(capsys, tmp_path):
    assert main(["prep", "cxr41", "--out", "x.h5"]) == 2
    assert "Did you mean 'cxr14'" in capsys.readouterr().err
    assert main(["prep", "jsrt", "--raw", str(tmp_path / "absent"), "--out", "x.h5"]) == 2
    assert "raw dataset folder not found" in capsys.readouterr().err


def test_train_evaluate_predict_report_from_bundle(phantom_bundle, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["train", "--set", f"data.source={phantom_bundle}", "--set", "train.epochs=1",
                 "--set", f"output_dir={runs}", "--set", "name=b", *QUIET]) == 0
    run = runs / "b"
    metrics = json.loads((run / "metrics.json").read_text())
    b = read_bundle(phantom_bundle)
    assert metrics["split_sizes"] == {s: int((b.split == s).sum()) for s in ("train", "val", "test")}
    capsys.readouterr()

    out = tmp_path / "eval"
    assert main(["evaluate", str(run / "model.h5"), "--data", str(phantom_bundle), "--split", "test",
                 "--out", str(out), "--prevalence", "0.05"]) == 0
    ev = json.loads((out / "metrics.json").read_text())
    assert ev["n_samples"] == metrics["n_samples"] and "prevalence" in ev
    assert (out / "report.md").read_text().count("|") > 20

    image = tmp_path / "x.png"
    cv2.imwrite(str(image), (np.random.default_rng(0).random((80, 80, 4)) * 255).astype(np.uint8))  # RGBA
    assert main(["predict", str(image), "--model", str(run / "model.h5"), "--out", str(tmp_path / "p")]) == 0
    printed = capsys.readouterr().out
    assert "Cardiomegaly:" in printed
    pred = json.loads((tmp_path / "p" / "x.prediction.json").read_text())
    assert 0.0 <= pred["probabilities"]["Cardiomegaly"] <= 1.0

    (run / "report.md").unlink()
    assert main(["report", str(run)]) == 0
    assert (run / "report.md").is_file()


def test_kfold_cross_validation(tmp_path):
    assert main(["train", "--set", "data.n_patients=18", "--set", "train.folds=3",
                 "--set", "train.epochs=1", "--set", f"output_dir={tmp_path}", "--set", "name=cv",
                 *QUIET]) == 0
    run = tmp_path / "cv"
    for i in (1, 2, 3):
        assert (run / f"fold{i}" / "metrics.json").is_file()
    summary = json.loads((run / "metrics.json").read_text())
    acc = summary["accuracy"]
    folds = [json.loads((run / f"fold{i}" / "metrics.json").read_text())["accuracy"] for i in (1, 2, 3)]
    assert acc["mean"] == pytest.approx(np.mean(folds)) and acc["sd"] == pytest.approx(np.std(folds, ddof=1))
    # every image is a test image in exactly one fold
    ids = []
    for i in (1, 2, 3):
        ids += list(np.load(run / f"fold{i}" / "test_predictions.npz")["image_id"])
    assert len(ids) == len(set(ids)) == 36
    assert "±" in (run / "report.md").read_text()


def test_synthetic_options_reach_the_generator_and_are_checked(monkeypatch):
    import heartcv.data.sources as sources
    from heartcv.config import load_config
    from heartcv.data.sources import load_data

    import functools

    seen = {}
    real = sources.generate_chest_xrays

    @functools.wraps(real)
    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(sources, "generate_chest_xrays", spy)
    base = ["data.n_patients=20", "data.image_size=32"]
    data = load_data(load_config(None, base + [
        "data.synthetic_options={normal_ctr: [0.46, 0.495], cardiomegaly_ctr: [0.505, 0.54]}"]).data)
    assert seen["normal_ctr"] == [0.46, 0.495] and seen["cardiomegaly_ctr"] == [0.505, 0.54]
    assert sum(len(s) for s in data.splits.values()) == 40
    with pytest.raises(ValueError, match=r"Unknown `data.synthetic_options` key 'normal_crt'. Did you mean 'normal_ctr'"):
        load_data(load_config(None, base + ["data.synthetic_options={normal_crt: [0.4, 0.5]}"]).data)


def test_explain_deep_taylor_on_a_vgg_model(tmp_path, capsys):
    from heartcv import build_model
    from heartcv.io import save_model

    model = build_model("vgg16_finetune", input_shape=(32, 32, 1), num_classes=3,
                        backbone_weights=None, width=0.125, batchnorm=True, hidden_units=(8,))
    save_model(model, tmp_path / "vgg.h5")
    image = tmp_path / "x.png"
    cv2.imwrite(str(image), (np.random.default_rng(1).random((40, 40)) * 255).astype(np.uint8))
    assert main(["explain", str(image), "--model", str(tmp_path / "vgg.h5"),
                 "--method", "deep_taylor", "--out", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    assert "deep Taylor map (32, 32)" in out and "wrote" in out


def test_missing_imagenet_weights_is_bad_input_not_a_traceback(monkeypatch, capsys):
    import heartcv.models.backbones as backbones

    def unavailable(*args, **kwargs):
        raise backbones.WeightsUnavailableError("Could not load ImageNet weights for vgg16: ...")

    monkeypatch.setattr(backbones, "build_backbone", unavailable)
    monkeypatch.setattr("heartcv.papers.chd_xray_vgg_unet.vgg16.build_backbone", unavailable)
    assert main(["train", "--set", "model.name=vgg16_finetune", "--set", "data.image_size=32",
                 "--set", "data.n_patients=4"]) == 2
    assert "Could not load ImageNet weights" in capsys.readouterr().err

"""The CHD reproduction (heartcv.papers.chd_xray_vgg_unet.experiment and experiments/chd_xray_vgg_unet/run.py)."""

import json
from pathlib import Path

import numpy as np
import pytest

from heartcv.data.sources import SplitArrays
from heartcv.papers.chd_xray_vgg_unet import experiment as chd_xray
from tests.conftest import load_module

ROOT = Path(__file__).resolve().parents[3]
EXPERIMENT = ROOT / "experiments" / "chd_xray_vgg_unet"


def _arrays(labels, pids):
    n = len(labels)
    targets = np.eye(4, dtype=np.float32)[labels]
    return SplitArrays(np.zeros((n, 8, 8, 1), np.uint8), targets, np.asarray(pids),
                       np.array([f"i{k}" for k in range(n)]), np.zeros((n, 8, 8), np.uint8))


NAMES = ["normal", "VSD", "ASD", "TOF"]


def test_setting_arrays_binary_and_multiclass():
    a = _arrays([0, 1, 2, 3, 0, 1], ["az-1", "h-2", "h-3", "h-4", "indiana-5", "h-6"])
    sub, names, task = chd_xray.setting_arrays(a, NAMES, ("normal", "VSD"))
    assert task == "binary" and names == ["normal", "VSD"]
    assert sub.image_id.tolist() == ["i0", "i1", "i4", "i5"]
    assert sub.targets[:, 0].tolist() == [0, 1, 0, 1]
    sub, names, task = chd_xray.setting_arrays(a, NAMES, ("normal", "VSD", "ASD"))
    assert task == "multiclass" and sub.targets.shape == (5, 3)
    assert sub.targets.argmax(1).tolist() == [0, 1, 2, 0, 1]
    # normal controls of one source only; diseased images of every source stay
    sub, _, _ = chd_xray.setting_arrays(a, NAMES, ("normal", "VSD"), normal_source="az")
    assert sub.image_id.tolist() == ["i0", "i1", "i5"]


def test_setting_arrays_rejects_unknown_classes():
    a = _arrays([0, 1], ["p1", "p2"])
    with pytest.raises(ValueError, match="classes"):
        chd_xray.setting_arrays(a, NAMES, ("normal", "PDA"))
    with pytest.raises(ValueError, match="No images"):
        chd_xray.setting_arrays(a, NAMES, ("ASD", "TOF"))


def test_expected_csv_reads_and_tables_put_paper_beside_ours():
    agg = lambda m: {"mean": m, "sd": 0.01, "var": 1e-4, "values": [m], "n": 1}  # noqa: E731
    summary = {"task": "binary", "class_names": ["normal", "VSD"], "folds": 10,
               "accuracy": agg(0.9), "auroc": {"value": agg(0.95)},
               "heart_share_saliency": agg(0.3), "heart_share_deep_taylor": agg(0.4),
               "heart_area": agg(0.2)}
    md = chd_xray.tables_markdown({"Normal vs VSD": {"vgg": summary}},
                                  EXPERIMENT / "expected.csv")
    line = next(ln for ln in md.splitlines() if ln.startswith("| accuracy"))
    assert "0.940" in line and "0.975" in line and "0.900 (var 0.0001)" in line
    line = next(ln for ln in md.splitlines() if ln.startswith("| auroc"))
    assert "0.988" in line and "0.999" in line and "0.950" in line
    line = next(ln for ln in md.splitlines() if ln.startswith("| VGG |"))
    assert "0.300" in line and "0.400" in line and "0.200" in line


def _run_script():
    return load_module(EXPERIMENT / "run.py", "chd_run")


def test_run_needs_masks_with_data(tmp_path, capsys):
    assert _run_script().main(["--data", str(tmp_path / "x.h5")]) == 2
    assert "--masks" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_experiment_end_to_end(tmp_path, capsys):
    """Tiny phantom: segmenters, 2-fold CV of VGG and VGG+Mask, attention shares, figures,
    the block5_conv1 feature grids and results.json (its path printed last)."""
    run = _run_script()
    code = run.main(["--quick", "--patients", "48", "--folds", "2", "--settings", "Normal vs VSD",
                     "--output-dir", str(tmp_path), "--set", "data.image_size=32",
                     "--set", "train.epochs=1", "--seg-set", "train.epochs=1"])
    assert code == 0
    out = tmp_path / "chd_xray_vgg_unet"
    tables = json.loads((out / "tables.json").read_text())
    assert set(tables["segmentation"]) == {"unet", "vgg16_unet"}
    for key in ("vgg", "vgg_mask"):
        s = tables["cv"]["Normal vs VSD"][key]
        assert len(s["accuracy"]["values"]) == 2
        for share in ("heart_share_saliency", "heart_share_deep_taylor"):
            assert 0.0 <= s[share]["mean"] <= 1.0
    assert "heart_share_saliency_end_to_end" in tables["cv"]["Normal vs VSD"]["vgg_mask"]
    for fig in ("segmentation.png", "attention_normal_vs_vsd.png"):
        assert (out / "figures" / fig).stat().st_size > 1000
    assert "Paper VGG (az)" in (out / "tables.md").read_text()
    for key in ("vgg", "vgg_mask"):  # the paper's intermediate-output figure, per model
        assert (out / "figures" / f"block5_conv1_normal_vs_vsd_{key}.png").stat().st_size > 1000
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == f"results: {out / 'results.json'}"
    numbers = json.loads((out / "results.json").read_text())
    for key, model in (("vgg", "vgg16"), ("vgg_mask", "vgg16_mask")):
        s = tables["cv"]["Normal vs VSD"][key]
        assert numbers[f"normal_vs_vsd/{model}/accuracy"] == pytest.approx(s["accuracy"]["mean"])
        assert numbers[f"normal_vs_vsd/{model}/accuracy_var"] == pytest.approx(s["accuracy"]["var"])
        assert 0.0 <= numbers[f"normal_vs_vsd/{model}/heart_share_deep_taylor"] <= 1.0
    assert "normal_vs_vsd/vgg16_mask/heart_share_saliency_end_to_end" in numbers
    for seg in ("unet", "vgg16_unet"):
        assert numbers[f"{seg}/dice"] == pytest.approx(tables["segmentation"][seg]["dice"]["mean"])


def test_results_numbers_three_classes():
    """Per-class one-vs-rest accuracies get '<class>_accuracy' keys; NaN is left out."""
    agg = lambda m, v: {"mean": m, "var": v, "values": [m, m], "n": 2}  # noqa: E731
    summary = {"task": "multiclass", "class_names": ["normal", "VSD", "ASD"], "folds": 2,
               "accuracy": agg(0.5, 0.01),
               "per_class": {c: {"accuracy": agg(0.6 + i / 10, 0.02)}
                             for i, c in enumerate(["normal", "VSD", "ASD"])},
               "heart_share_saliency": agg(0.2, 0.001), "heart_area": agg(0.1, float("nan"))}
    result = {"cv": {"Normal vs VSD vs ASD": {"vgg": summary}},
              "segmentation": {"unet": {"dice": {"mean": 0.9, "sd": 0.05}, "iou": {"mean": 0.8}}}}
    n = chd_xray.results_numbers(result)
    assert n["normal_vs_vsd_vs_asd/vgg16/accuracy"] == 0.5
    assert n["normal_vs_vsd_vs_asd/vgg16/vsd_accuracy"] == pytest.approx(0.7)
    assert n["normal_vs_vsd_vs_asd/vgg16/asd_accuracy_var"] == 0.02
    assert n["normal_vs_vsd_vs_asd/vgg16/heart_area"] == 0.1
    assert "normal_vs_vsd_vs_asd/vgg16/heart_area_var" not in n
    assert (n["unet/dice"], n["unet/dice_sd"], n["unet/iou"]) == (0.9, 0.05, 0.8)

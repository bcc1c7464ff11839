"""Heart + lung segmentation: several mask structures at once, per-structure Dice, the CTR
from predicted masks, the external-validation report and the shift suite."""

import json

import numpy as np
import pytest

from heartcv.ctr import ctr_from_masks
from heartcv.data.bundle import write_bundle
from heartcv.data.synthetic import generate_chest_xrays
from heartcv.evaluation.segmentation import ctr_scores, segmentation_report

STRUCTURES = ["heart", "left_lung", "right_lung"]


def _phantom_masks(n_patients=12, size=64, seed=0):
    d = generate_chest_xrays(n_patients, 1, size, task="cardiomegaly", seed=seed)
    lungs = d["lung_masks"].astype(bool)
    half = size // 2
    left, right = lungs.copy(), lungs.copy()
    left[:, :, :half], right[:, :, half:] = False, False  # image-left half: the right lung
    masks = np.stack([d["heart_masks"].astype(bool), left, right], axis=-1).astype(np.uint8)
    return d, masks


@pytest.fixture(scope="module")
def three_structure_bundle(tmp_path_factory):
    d, masks = _phantom_masks(16, 64)
    ctr = np.array([ctr_from_masks(m[..., 0], m[..., 1], m[..., 2])["ctr"] for m in masks])
    split = np.array(["train"] * 10 + ["val"] * 2 + ["test"] * 4)
    path = tmp_path_factory.mktemp("seg") / "three.h5"
    write_bundle(path, d["images"], masks=masks, patient_id=d["patient_id"],
                 image_id=d["image_id"], split=split, class_names=STRUCTURES,
                 task="segmentation", source="phantom, heart + split lungs",
                 mask_names=STRUCTURES, meta={"ctr": ctr})
    return path, masks, ctr


def test_report_scores_each_structure_and_the_ctr():
    _, masks = _phantom_masks(6, 64)
    probs = masks.astype(np.float32)
    rep = segmentation_report(masks, probs, STRUCTURES)
    for s in STRUCTURES:
        assert rep["dice"][s]["mean"] == pytest.approx(1.0)
        assert rep["dice"][s]["below_0.8"] == 0.0
    assert rep["dice"]["mean"] == rep["dice"]["heart"]["mean"]
    assert rep["ctr"]["mae"] == pytest.approx(0.0, abs=1e-9)
    # an empty heart prediction: Dice 0 for that image, CTR unmeasured and flagged
    probs[0, ..., 0] = 0
    rep = segmentation_report(masks, probs, STRUCTURES)
    assert rep["per_structure_dice"]["heart"][0] == 0.0
    assert rep["ctr"]["n_unmeasured"] == 1 and rep["ctr"]["flags"] == {"no_heart": 1}
    assert rep["dice"]["heart"]["below_0.8"] == pytest.approx(1 / 6)


def test_ctr_scores_against_hand_values():
    out = ctr_scores([0.40, 0.55, None, 0.52], [0.42, 0.60, 0.45, 0.49], n_boot=50)
    assert out["n"] == 3 and out["n_unmeasured"] == 1
    assert out["mae"] == pytest.approx((0.02 + 0.05 + 0.03) / 3)
    assert out["n_positive"] == 1
    # the positive (0.60 → 0.55) outranks both negatives (0.40, 0.52): AUROC 1
    assert out["auroc"] == pytest.approx(1.0)


def test_structure_count_mismatch_is_an_error():
    _, masks = _phantom_masks(2, 64)
    with pytest.raises(ValueError, match="Expected 3 mask channels"):
        segmentation_report(masks, masks[..., :2].astype(np.float32), STRUCTURES)


def test_train_three_structures_then_evaluate_with_shifts(three_structure_bundle, tmp_path,
                                                          capsys):
    from heartcv.cli import main

    path, _, _ = three_structure_bundle
    runs = tmp_path / "runs"
    assert main(["train", "--set", f"data.source={path}", "--set", "model.name=unet",
                 "--set", "model.params={base_filters: 4, depth: 2, dropout: 0.0}",
                 "--set", "data.mask_structures=[heart, left_lung, right_lung]",
                 "--set", "data.image_size=64", "--set", "data.channels=1",
                 "--set", "train.epochs=1", "--set", "train.loss=bce_dice",
                 "--set", f"output_dir={runs}", "--set", "name=hl",
                 "--set", "train.tensorboard_images=false", "--set", "train.verbose=0"]) == 0
    run = runs / "hl"
    card = json.loads((run / "model.card.json").read_text())
    assert card["class_names"] == STRUCTURES and card["task"] == "segmentation"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["structures"] == STRUCTURES
    assert set(STRUCTURES) <= set(metrics["dice"]) and "mae" in metrics["ctr"]
    import keras

    model = keras.models.load_model(run / "model.h5", compile=False)
    assert model.output_shape[-1] == 3
    assert model.get_layer("normalize").method == "percentile"  # the segmenters' default
    capsys.readouterr()
    out = tmp_path / "ext"
    assert main(["evaluate", str(run / "model.h5"), "--data", str(path), "--out", str(out),
                 "--shifts"]) == 0
    printed = capsys.readouterr().out
    assert "heart: Dice" in printed and "CTR: MAE" in printed and "shift dim45" in printed
    ext = json.loads((out / "metrics.json").read_text())
    assert ext["image_size"] == 64 and ext["image_size_source"] == "card"
    assert list(ext["shifts"]) == ["none", "dim45", "gamma0.5", "gamma2.0", "contrast0.5",
                                   "blur2", "noise12", "jpeg30", "lowres", "dark_gamma2", "dark_noise"]
    none = ext["shifts"]["none"]
    assert none["dice"]["heart"]["mean"] == pytest.approx(ext["dice"]["heart"]["mean"])
    assert {"dice.heart.mean", "ctr.mae"} <= set(ext["shift_table"][1])


def test_unknown_structure_names_the_bundle_names(three_structure_bundle, tmp_path, capsys):
    from heartcv.cli import main

    path, _, _ = three_structure_bundle
    assert main(["train", "--set", f"data.source={path}", "--set", "model.name=unet",
                 "--set", "data.mask_structures=[heart, lungs]",
                 "--set", f"output_dir={tmp_path}", "--set", "train.epochs=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no mask structure 'lungs'" in err[0] and "left_lung" in err[0]


def test_ctr_band_bias_per_band_of_the_reference():
    from heartcv.evaluation.segmentation import CTR_BANDS, ctr_band_bias

    ref = np.array([0.45, 0.47, 0.52, 0.58, 0.65, 0.75, 0.80])
    pred = ref + np.array([0.0, 0.02, -0.01, -0.03, -0.05, -0.2, -0.1])
    bands = ctr_band_bias(pred, ref)
    assert list(bands) == [f"{lo:.2f}-{min(hi, 1.0):.2f}" for lo, hi in CTR_BANDS]
    assert bands["0.00-0.50"]["n"] == 2 and bands["0.00-0.50"]["bias"] == pytest.approx(0.01)
    assert bands["0.70-1.00"]["bias"] == pytest.approx(-0.15)
    assert bands["0.60-0.70"]["mae"] == pytest.approx(0.05)
    empty = ctr_band_bias(np.array([0.4]), np.array([0.4]))
    assert empty["0.50-0.55"]["n"] == 0 and np.isnan(empty["0.50-0.55"]["bias"])

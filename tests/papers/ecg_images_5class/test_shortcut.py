"""The shortcut checks of the ECG-image experiment: probe, background shifts, shared crops."""

import numpy as np
import pytest

import keras

import heartcv
from heartcv.layers import BackgroundNormalization
from heartcv.papers.ecg_images_5class import experiment as ecg_images
from heartcv.papers.ecg_images_5class import shortcut as sc


def _traces(n, side=16, c=13, seed=0, background=None):
    """Volumes with a random bright trace per crop; ``background`` (N,) grey levels."""
    rng = np.random.default_rng(seed)
    bg = np.zeros(n) if background is None else np.asarray(background, float)
    x = np.ones((n, side, side, c)) * bg[:, None, None, None]
    x += rng.normal(0, 2, x.shape)
    for i in range(n):
        for k in range(c):
            row = np.clip(side // 2 + np.cumsum(rng.integers(-1, 2, side)), 0, side - 1)
            x[i, row, np.arange(side), k] = 220
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _volumes(x, y, names=("a", "b")):
    return {"x": x, "y": np.asarray(y), "class_names": list(names),
            "patient_id": np.array([f"p{i}" for i in range(len(x))]), "source": "test"}


def test_crop_statistics():
    x = np.zeros((2, 4, 4, 13), np.uint8)
    x[1, :2] = 10
    f = sc.crop_statistics(x)
    assert f.shape == (2, 13 * len(sc.STATISTICS))
    f = f.reshape(2, 13, len(sc.STATISTICS))
    np.testing.assert_allclose(f[0, :, 2], 1.0)  # all zero pixels
    np.testing.assert_allclose(f[1, :, 0], 5.0)  # mean
    np.testing.assert_allclose(f[1, :, 2], 0.5)
    with pytest.raises(ValueError, match="Expected lead volumes"):
        sc.crop_statistics(np.zeros((2, 4, 4)))


def test_background_shift():
    x = _traces(4, background=[45, 45, 0, 0])
    black = sc.background_shift(x, "black")
    grey = sc.background_shift(x, "grey")
    assert black.dtype == np.uint8 and black.shape == x.shape
    assert np.median(black[:2]) == 0 and (black[:2] == 0).mean() > 0.5
    assert grey.min() >= sc.GREY_LEVEL and np.median(grey[2:]) >= sc.GREY_LEVEL
    assert np.array_equal(black[:, 8:9] >= 200, x[:, 8:9] >= 200)  # the trace stays
    with pytest.raises(ValueError, match="Expected `kind`"):
        sc.background_shift(x, "white")


def test_normalisation_removes_the_background_shortcut():
    """Background-shifted crops give the model the same input; x / 255 does not."""
    x = _traces(6, background=[45] * 3 + [0] * 3, seed=2).astype(np.float32)
    layer = BackgroundNormalization()
    ref = np.asarray(layer(x))
    for kind in sc.SHIFTS:
        shifted = sc.background_shift(x, kind).astype(np.float32)
        assert np.abs(shifted / 255 - x / 255).mean() > 0.05
        np.testing.assert_allclose(np.asarray(layer(shifted)), ref, atol=0.02)


def test_probe_finds_a_background_shortcut_and_not_a_trace():
    """Classes told apart by background only: the probe finds it; by nothing: it cannot."""
    n = 60
    y = np.arange(n) % 2
    x = _traces(n, background=np.where(y == 1, 45, 5), seed=3)
    data = ecg_images.make_splits(_volumes(x, y), val_fraction=0.2, test_fraction=0.3, seed=0)
    probe = sc.shortcut_probe(data)
    assert probe["chosen"] in probe["candidates"]
    assert np.mean(probe["y_pred"] == probe["y_true"]) == 1.0
    same = _traces(n, background=np.full(n, 20), seed=4)
    data = ecg_images.make_splits(_volumes(same, y), val_fraction=0.2, test_fraction=0.3, seed=0)
    assert np.mean(sc.shortcut_probe(data)["y_pred"] == sc.shortcut_probe(data)["y_true"]) < 0.8


def test_compare_to_probe():
    y = np.array([0, 1] * 50)
    better = sc.compare_to_probe(y, y, np.where(np.arange(100) < 40, 1 - y, y), n_boot=500)
    assert better["difference"] == pytest.approx(0.4) and better["credited"] == 1
    assert better["ci_low"] > 0
    tie = sc.compare_to_probe(y, np.where(np.arange(100) < 5, 1 - y, y), y, n_boot=500)
    assert tie["credited"] == 0 and tie["difference"] == pytest.approx(-0.05)
    acc = sc.accuracy_ci(y, y, n_boot=100)
    assert acc == {"accuracy": 1.0, "ci_low": 1.0, "ci_high": 1.0}


def test_group_shared_crops():
    x = _traces(6, seed=5)
    x[3, :, :, 4] = x[0, :, :, 4]  # ECG 3 copies one crop of ECG 0
    x[4, :, :, 2] = np.clip(x[1, :, :, 7].astype(int) + 1, 0, 255)  # near copy, other lead
    x[[2, 5], :, :, 0] = 0  # a blank lead in two ECGs does not link them
    out, rep = ecg_images.group_shared_crops(_volumes(x, [0, 1, 0, 1, 0, 1]))
    pid = out["patient_id"]
    assert pid[0] == pid[3] and pid[1] == pid[4] and pid[2] != pid[5] and pid[0] != pid[1]
    assert rep["ecgs_linked"] == 4 and rep["groups"] == 2 and rep["largest"] == 2
    data = ecg_images.make_splits(out, val_fraction=0.0, test_fraction=0.5, seed=0)
    assert ecg_images.shared_crops_across(data) == 0


@pytest.mark.slow
def test_leads28_probe_and_crop_split(ecg_khan_dir):
    """The real crops: a test split sharing no crop with training, and the probe's shortcut."""
    v, _ = ecg_images.drop_duplicates(ecg_images.leads28_volumes(ecg_khan_dir / "leads28"))
    before = ecg_images.make_splits(v, val_fraction=0.1, test_fraction=0.2, seed=0)
    assert ecg_images.shared_crops_across(before) > 0  # ECG-level dedup alone leaves copies
    grouped, rep = ecg_images.group_shared_crops(v)
    assert rep["ecgs_linked"] > 0
    data = ecg_images.make_splits(grouped, val_fraction=0.1, test_fraction=0.2, seed=0)
    assert ecg_images.shared_crops_across(data) == 0
    assert ecg_images.split_summary(data)["test_sharing_a_crop_with_train"] == 0
    probe = sc.shortcut_probe(data)
    y = probe["y_true"]
    majority = np.mean(y == np.bincount(y).argmax())
    # trace-free statistics alone classify far above the majority class
    assert np.mean(probe["y_pred"] == y) > majority + 0.2
    # MI crops: grey background, almost no zero pixels
    f = sc.crop_statistics(v["x"]).reshape(len(v["x"]), 13, len(sc.STATISTICS))
    zero = f[..., sc.STATISTICS.index("zero_share")].mean(1)
    mi = np.asarray(v["y"]) == v["class_names"].index("myocardial_infarction")
    assert zero[mi].mean() < 0.01 < zero[~mi].mean()
    # the normalisation layer: the MI crops on black give the same input as on grey
    xm = v["x"][mi][:8].astype(np.float32)
    layer = BackgroundNormalization()
    black = sc.background_shift(xm, "black").astype(np.float32)
    assert (black == 0).mean() > 0.5
    np.testing.assert_allclose(np.asarray(layer(black)), np.asarray(layer(xm)), atol=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ecg_cnn2d", "ecg_attn_lstm"])
def test_bgnorm_model_round_trip_and_invariance(name, tmp_path):
    model = heartcv.build_model(name, input_shape=(16, 16, 13), num_classes=2,
                                background_norm=True, **({"hidden_size": 8}
                                                         if name == "ecg_attn_lstm" else {}))
    assert isinstance(model.get_layer("background_norm"), BackgroundNormalization)
    x = _traces(4, background=[45, 45, 0, 0], seed=6).astype(np.float32)
    ref = model.predict(x, verbose=0)
    for ext in (".h5", ".keras"):
        loaded = keras.models.load_model(heartcv.save_model(model, tmp_path / f"m{ext}"),
                                         compile=False)
        np.testing.assert_allclose(loaded.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-6)
    shifted = sc.background_shift(x, "grey").astype(np.float32)
    np.testing.assert_allclose(model.predict(shifted, verbose=0), ref, atol=0.02)
    with pytest.raises(ValueError, match="background_norm"):
        heartcv.build_model(name, input_shape=(16, 16, 13), background_norm="yes")


def test_probe_without_validation_split_and_without_test():
    n = 20
    y = np.arange(n) % 2
    v = _volumes(_traces(n, background=np.where(y == 1, 45, 5), seed=7), y)
    data = ecg_images.make_splits(v, val_fraction=0.0, test_fraction=0.4, seed=0)
    assert "val" not in data.splits
    probe = sc.shortcut_probe(data)
    assert probe["chosen"] == "logreg" and "val_accuracy" not in probe["candidates"]["logreg"]
    del data.splits["test"]
    with pytest.raises(ValueError, match="'test' split"):
        sc.shortcut_probe(data)

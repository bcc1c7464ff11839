"""Layer outputs and feature grids, tf-keras-vis saliency, and the heart-attention share."""

import keras
import numpy as np
import pytest

from heartcv import explain
from heartcv.layers import ImagePreprocessing

S = 16
L = keras.layers


def vgg_like(grey=False):
    keras.utils.set_random_seed(0)
    inp = keras.Input((S, S, 1 if grey else 3), name="image")
    x = L.Concatenate(name="grey_to_rgb")([inp, inp, inp]) if grey else inp
    x = ImagePreprocessing("caffe", name="preprocess")(x)
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="block1_conv1")(x)
    x = L.MaxPooling2D(2, name="block1_pool")(x)
    x = L.Conv2D(12, 3, padding="same", activation="relu", name="block5_conv1")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dropout(0.3, name="drop")(x)
    return keras.Model(inp, L.Dense(3, activation="softmax", name="predictions")(x))


def images(n=5, c=3, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, S, S, c)).astype("float32")


def test_layer_outputs_match_a_probe_model():
    model = vgg_like()
    x = images()
    out = explain.layer_outputs(model, x, ["block5_conv1", "block1_pool", "block5_conv1"],
                                batch_size=2)
    assert list(out) == ["block5_conv1", "block1_pool"]
    assert out["block5_conv1"].shape == (5, 8, 8, 12) and out["block1_pool"].shape == (5, 8, 8, 8)
    probe = keras.Model(model.inputs[0], model.get_layer("block5_conv1").output)
    np.testing.assert_allclose(out["block5_conv1"], np.asarray(probe(x)), rtol=1e-5, atol=1e-5)
    assert out["block5_conv1"].min() >= 0  # ReLU outputs
    one = explain.layer_outputs(vgg_like(grey=True), x[..., :1], "predictions")
    assert one["predictions"].shape == (5, 3)
    np.testing.assert_allclose(one["predictions"].sum(axis=1), 1.0, rtol=1e-5)


def test_layer_outputs_errors():
    model = vgg_like()
    with pytest.raises(ValueError, match="Did you mean 'block5_conv1'"):
        explain.layer_outputs(model, images(1), ["block5_conv"])
    with pytest.raises(TypeError, match="layer_names"):
        explain.layer_outputs(model, images(1), [])
    with pytest.raises(ValueError, match="resize"):
        explain.layer_outputs(model, np.zeros((1, 8, 8, 3)), "gap")


def test_save_feature_grid(tmp_path):
    feats = explain.layer_outputs(vgg_like(), images(2), "block5_conv1")["block5_conv1"]
    for order in ("index", "mean"):
        path = explain.save_feature_grid(feats, tmp_path / f"grid_{order}.png", max_channels=9,
                                         image_index=1, order=order)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    explain.save_feature_grid(feats[0], tmp_path / "one.png")  # (h, w, C) and all channels
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid_index.png", "grid_mean.png",
                                                          "one.png"]


FEATURES = np.ones((2, 4, 4, 3))
GRID_ILL = [
    (dict(features=np.ones((4, 4))), "features"),
    (dict(max_channels=0), "max_channels"),
    (dict(image_index=2), "image_index"),
    (dict(order="random"), "order"),
]


@pytest.mark.parametrize("kwargs, message", GRID_ILL)
def test_save_feature_grid_bad_arguments(tmp_path, kwargs, message):
    kwargs = {"features": FEATURES, **kwargs}
    with pytest.raises(ValueError, match=message):
        explain.save_feature_grid(path=tmp_path / "x.png", **kwargs)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("class_index", [None, 2])
def test_tfkv_saliency_equals_the_gradienttape_saliency(class_index):
    model = vgg_like(grey=True)
    x = images(5, c=1)
    theirs = explain.saliency_tfkv(model, x, class_index, batch_size=2)
    ours = explain.saliency(model, x, class_index=class_index)
    assert theirs.shape == (5, S, S) and np.allclose(theirs.max(axis=(1, 2)), 1.0)
    np.testing.assert_allclose(theirs, ours, atol=1e-5)
    assert model.get_layer("predictions").activation.__name__ == "softmax"  # model untouched


def test_tfkv_smoothgrad_is_seeded_and_local():
    inp = keras.Input((S, S, 3), name="image")
    x = L.Cropping2D(((0, S // 2), (0, S // 2)))(inp)  # the output sees the top-left only
    x = L.Conv2D(4, 3, activation="relu", name="conv")(x)
    x = L.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, L.Dense(2, activation="softmax", name="predictions")(x))
    x = images(3)
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    a = explain.saliency_tfkv(model, x, smooth_samples=3, seed=5)
    assert np.array_equal(np.random.get_state()[1], state)  # the global generator is restored
    np.testing.assert_array_equal(a, explain.saliency_tfkv(model, x, smooth_samples=3, seed=5))
    assert not np.allclose(a, explain.saliency_tfkv(model, x, smooth_samples=3, seed=6))
    assert not np.allclose(a, explain.saliency_tfkv(model, x))
    assert np.all(a[:, S // 2:, :] == 0) and np.all(a[:, :, S // 2:] == 0)
    with pytest.raises(ValueError, match="smooth_samples"):
        explain.saliency_tfkv(model, x, smooth_samples=-1)
    with pytest.raises(ValueError, match="noise"):
        explain.saliency_tfkv(model, x, smooth_samples=2, noise=0)
    with pytest.raises(TypeError, match="seed"):
        explain.saliency_tfkv(model, x, smooth_samples=2, seed=np.random.default_rng(0))


def test_heart_attention_share():
    masks = np.zeros((4, 20, 20), bool)
    masks[:, 5:15, 5:15] = True  # a quarter of the image
    maps = np.zeros((4, 20, 20))
    maps[0][masks[0]] = 1.0  # all inside
    maps[1] = 1.0  # uniform: chance level
    maps[2][~masks[2]] = 2.0  # all outside
    maps[3][masks[3]], maps[3][~masks[3]] = 3.0, 1.0  # 100·3 / (100·3 + 300·1) = 0.5
    res = explain.heart_attention_share(maps, masks, n_boot=300, seed=1)
    np.testing.assert_allclose(res["share"], [1.0, 0.25, 0.0, 0.5])
    assert res["mean"] == pytest.approx(0.4375) and res["n"] == 4
    assert res["chance"] == pytest.approx(0.25) and res["ratio"] == pytest.approx(1.75)
    assert res["ci"][0] < res["mean"] < res["ci"][1] and res["ci_level"] == 0.95
    again = explain.heart_attention_share(maps, masks, n_boot=300, seed=1)
    assert again["ci"] == res["ci"]
    empty = maps.copy()
    empty[2] = 0.0  # no mass: left out of the mean
    res = explain.heart_attention_share(empty, masks, n_boot=0)
    assert np.isnan(res["share"][2]) and res["n"] == 3
    assert res["mean"] == pytest.approx(1.75 / 3) and np.isnan(res["ci"][0])
    with pytest.raises(ValueError, match="non-negative"):
        explain.heart_attention_share(-maps, masks)

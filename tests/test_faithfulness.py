"""heartcv.explain.faithfulness on toy AMM models built to pass and to fail (issue 26).

Both toys have the AMM head's wiring (a map W named ``amm_attention``, A = F ⊙ W, global
weighted average pooling GAP(A) / GAP(W), a Dense ``predictions``) on a 3-channel input:
the phantom image, its heart mask and a fixed |x - centre| ramp. The *heart* toy's W is the
heart mask and its features the ramp, so its output is the heart's mean distance from the
midline (its width): it depends on W, and W moves with the heart. The *fixed* toy's W is a
band along the bottom rows whatever the input (0.9 there, 0.8 elsewhere: the sigmoid floor
seen in the demo) and its features the heart mask, so it works as global average pooling.
"""

import keras
import numpy as np
import pytest

from heartcv.data.synthetic import generate_chest_xrays
from heartcv.explain import faithfulness as fa
from heartcv.layers import GlobalWeightedAveragePooling, SpatialMean

SIZE, POOL = 32, 4


def toy_phantom():
    """(images with the heart mask and a ramp as channels 2 and 3, labels, heart masks)."""
    d = generate_chest_xrays(40, 1, SIZE, seed=0, ctr_distribution="bands")
    n = len(d["images"])
    ramp = np.abs(np.arange(SIZE) + 0.5 - SIZE / 2) / (SIZE / 2) * 200
    # a per-image offset unrelated to the labels: with W constant the heart toy's score is
    # this offset (chance), not float32 noise of c·F / c (which ranks like the heart size)
    offset = np.random.default_rng(1).uniform(0, 10, n)
    x = np.stack([d["images"][..., 0].astype(np.float32), d["heart_masks"] * 255.0,
                  np.broadcast_to(ramp, (n, SIZE, SIZE)) + offset[:, None, None]], axis=-1)
    return x.astype(np.float32), d["labels"][:, 0], d["heart_masks"]


@pytest.fixture(scope="module")
def phantom():
    return toy_phantom()


def _select(channel, name, scale=1 / 255.0, bias=0.0):
    kernel = np.zeros((1, 1, 3, 1), np.float32)
    kernel[0, 0, channel, 0] = scale
    layer = keras.layers.Conv2D(1, 1, name=name, trainable=False)
    layer.build((None, None, None, 3))
    layer.set_weights([kernel, np.full(1, bias, np.float32)])
    return layer


def _head(f, w):
    a = keras.layers.Multiply(name="amm_weighted")([f, w])
    g = GlobalWeightedAveragePooling(name="amm_gwap")([a, w])
    dense = keras.layers.Dense(1, activation="sigmoid", name="predictions")
    out = dense(g)
    dense.set_weights([np.full((1, 1), 8.0, np.float32), np.full(1, -2.0, np.float32)])
    return out


def heart_toy(size=SIZE):
    inp = keras.Input((size, size, 3), name="image")
    x = keras.layers.AveragePooling2D(POOL, name="toy_pool")(inp)
    w = _select(1, "amm_attention")(x)  # the heart mask
    f = _select(2, "toy_ramp")(x)  # |x - centre|
    return keras.Model(inp, _head(f, w), name="heart_toy")


def fixed_toy():
    inp = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.AveragePooling2D(POOL, name="toy_pool")(inp)
    ones = _select(0, "toy_ones", scale=0.0, bias=1.0)(x)
    k = 3  # 'same' padding: a kernel reading one row below is 0 on the last row only
    shift = keras.layers.Conv2D(1, (k, 1), padding="same", use_bias=False, trainable=False,
                                name="toy_shift")
    shift.build((None, None, None, 1))
    kernel = np.zeros((k, 1, 1, 1), np.float32)
    kernel[-1] = 1.0
    shift.set_weights([kernel])
    w = keras.layers.Conv2D(1, 1, name="amm_attention", trainable=False)
    w.build((None, None, None, 1))
    w.set_weights([np.full((1, 1, 1, 1), -0.1, np.float32), np.full(1, 0.9, np.float32)])
    w = w(shift(ones))  # 0.9 on the bottom row, 0.8 elsewhere, for every input
    f = _select(1, "toy_heart")(x)
    return keras.Model(inp, _head(f, w), name="fixed_toy")


def test_spatial_mean_layer_keeps_shape_and_round_trips():
    x = np.random.default_rng(0).uniform(size=(2, 4, 5, 3)).astype(np.float32)
    y = keras.ops.convert_to_numpy(SpatialMean()(x))
    assert y.shape == x.shape
    np.testing.assert_allclose(y, np.broadcast_to(x.mean(axis=(1, 2), keepdims=True), x.shape),
                               rtol=1e-6)
    layer = SpatialMean.from_config(SpatialMean(name="m").get_config())
    assert layer.name == "m"


def test_map_correlation_and_minmax():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(3, 8, 8))
    np.testing.assert_allclose(fa.map_correlation(a, 2 * a + 1), 1.0)
    np.testing.assert_allclose(fa.map_correlation(a, -a), -1.0)
    flat = np.zeros((3, 8, 8))
    assert np.isnan(fa.map_correlation(a, flat)).all()
    m = fa.minmax(0.6 + 0.3 * a)  # a sigmoid-like floor is removed
    assert m.min() == 0 and m.max() == 1 and fa.minmax(flat).max() == 0
    assert fa.map_correlation(a, a[0]).shape == (3,)  # one map against each


def test_constant_map_model_shares_weights_and_makes_w_constant(phantom):
    x, _, _ = phantom
    model = heart_toy()
    const = fa.constant_map_model(model)
    assert const.get_layer("amm_attention") is model.get_layer("amm_attention")
    probe = keras.Model(const.inputs, const.get_layer("amm_attention_constant").output)
    w = keras.ops.convert_to_numpy(probe({"image": x[:2]}))
    assert np.ptp(w[0]) == 0 and w[0, 0, 0, 0] > 0
    offset = x[:, 0, 0, 2] - x[:, 0, 0, 2].min()  # what is left of the ramp feature
    z = np.log(const.predict(x, verbose=0)[:, 0]) - np.log1p(-const.predict(x, verbose=0)[:, 0])
    np.testing.assert_allclose(z - z.min(), 8 * offset / 255, atol=1e-3)
    with pytest.raises(ValueError, match="no layer 'amm_attention'"):
        fa.constant_map_model(keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]))


def test_heart_wired_map_passes(phantom):
    x, y, masks = phantom
    res = fa.faithfulness_checks(heart_toy(), x, y, masks=masks[y > 0.5], n_boot=200)
    ab, maps = res["ablation"], res["maps"]
    # the classifier reads the heart through W: with W constant it reads the offset alone
    assert ab["auroc"] > 0.85 and ab["auroc_constant_map"] < 0.7
    assert ab["difference"] > 0.25 and ab["uses_map"] and ab["p_value"] < 0.05
    assert maps["heart_correlation"]["mean"] > 0.8
    assert maps["mass_minmax"]["mean"] > 2 * maps["area_fraction"]["mean"]
    # the map follows a mirrored heart; it resembles its mean map no more than the hearts do
    assert maps["flip_follow"]["mean"] > 0.95 and maps["flip_gain"]["ci"][0] > 0.1
    assert maps["excess_mean_map_correlation"]["mean"] < 0.12  # smoother than the masks
    assert maps["blank"]["flat"] and not maps["blank"]["position_prior"]
    assert res["verdict"] == {"classifier_uses_map": True, "follows_input": True,
                              "position_prior": False}


def test_fixed_position_map_fails(phantom):
    x, y, masks = phantom
    res = fa.faithfulness_checks(fixed_toy(), x, y, masks=masks[y > 0.5], n_boot=200)
    ab, maps = res["ablation"], res["maps"]
    # the classifier works as plain GAP: making W constant changes (almost) nothing
    assert ab["auroc"] > 0.75 and abs(ab["difference"]) < 0.02 and not ab["uses_map"]
    # every image's map is the mean map; flipping the image leaves the map in place
    assert maps["mean_map_correlation"]["mean"] == pytest.approx(1.0)
    assert maps["excess_mean_map_correlation"]["mean"] > 0.15  # hearts vary, the map does not
    assert maps["flip_stay"]["mean"] == pytest.approx(1.0)
    assert maps["flip_gain"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert maps["heart_correlation"]["mean"] < 0.3
    assert not maps["blank"]["flat"] and maps["blank"]["correlation_with_mean_map"] > 0.99
    assert res["verdict"] == {"classifier_uses_map": False, "follows_input": False,
                              "position_prior": True}


def test_gap_model_has_no_map_to_ablate_but_its_gradcam_is_checked(phantom):
    x, y, masks = phantom
    inp = keras.Input((SIZE, SIZE, 3), name="image")
    f = keras.layers.Conv2D(4, 3, strides=4, padding="same", activation="relu",
                            name="toy_conv")(inp)
    g = keras.layers.GlobalAveragePooling2D(name="gap")(f)
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid", name="predictions")(g))
    res = fa.faithfulness_checks(model, x[:12], y[:12], n_boot=0, train_size=16)
    assert res["ablation"]["applicable"] is False and "ablation_at_train_size" not in res
    assert res["maps"]["method"] == "Grad-CAM" and "heart_correlation" not in res["maps"]
    assert res["verdict"]["classifier_uses_map"] is None


def test_ablation_at_the_training_scale(phantom):
    x, y, _ = phantom  # the heart toy taking any input size, as the cxa_* models do
    res = fa.faithfulness_checks(heart_toy(None), x, y, n_boot=0, train_size=16)
    assert res["ablation"]["input_size"] == [SIZE, SIZE]
    assert res["ablation_at_train_size"]["input_size"] == [16, 16]
    assert res["verdict"]["classifier_uses_map"] is True
    # the demo's setting: the ablation at the training size only
    res = fa.faithfulness_checks(heart_toy(None), x, y, n_boot=0, train_size=16,
                                 ablation_at_map_size=False)
    assert res["ablation"]["skipped"] and "auroc" not in res["ablation"]
    assert res["ablation_at_train_size"]["uses_map"] and res["verdict"]["classifier_uses_map"]
    assert "auroc_constant_map" not in fa.faithfulness_numbers(res)
    assert "auroc_constant_map_train_size" in fa.faithfulness_numbers(res)

"""Deep Taylor decomposition: a NumPy reference of the rules, conservation, known regions."""

import keras
import numpy as np
import pytest

from heartcv import explain
from heartcv.layers import ImagePreprocessing, IntensityNormalization
from heartcv.models.backbones import backbone_features

CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])
INPUT_SIDE = "normalize", "grey_to_rgb", "mask_background"
L = keras.layers


def tiny_vgg(seed=0, grey=True, gap=False, normalization=None):
    """[normalize] → [grey→RGB] → caffe → conv 3×3 → pool → conv 2×2 → flatten → dense → dense;
    biases <= 0."""
    keras.utils.set_random_seed(seed)
    neg = keras.initializers.RandomUniform(-0.05, 0.0, seed=seed)
    inp = keras.Input((6, 6, 1 if grey else 3), name="image")
    x = inp if normalization is None else IntensityNormalization(normalization,
                                                                  name="normalize")(inp)
    x = L.Concatenate(name="grey_to_rgb")([x, x, x]) if grey else x
    x = ImagePreprocessing("caffe", name="preprocess")(x)
    mixed = keras.initializers.RandomUniform(-0.6, 1.0, seed=seed)  # mostly active units
    x = L.Conv2D(3, 3, padding="same", activation="relu", kernel_initializer=mixed,
                 bias_initializer=neg, name="c1")(x)
    x = L.MaxPooling2D(2, name="p1")(x)
    x = L.Conv2D(4, 2, activation="relu", kernel_initializer=mixed, bias_initializer=neg,
                 name="c2")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x) if gap else L.Flatten(name="flat")(x)
    x = L.Dense(5, activation="relu", bias_initializer=neg, name="fc")(x)
    x = L.Dropout(0.5, name="drop")(x)
    return keras.Model(inp, L.Dense(3, activation="softmax", name="predictions")(x))


def _div(a, b):
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def _conv(t, w):
    """Stride-1 'valid' convolution (cross-correlation), loops over positions."""
    kh, kw = w.shape[:2]
    out = np.zeros((len(t), t.shape[1] - kh + 1, t.shape[2] - kw + 1, w.shape[-1]))
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            out[:, i, j] = np.einsum("nhwc,hwck->nk", t[:, i:i + kh, j:j + kw], w)
    return out


def _conv_rule(shape, w, r, contrib):
    """R_in = Σ_j contrib_ij / Σ_i contrib_ij R_j through a stride-1 valid conv, by loops."""
    out = np.zeros(shape)
    kh, kw = w.shape[:2]
    for b, i, j, k in np.ndindex(r.shape):
        c = contrib(b, (slice(i, i + kh), slice(j, j + kw)), w[..., k])
        out[b, i:i + kh, j:j + kw] += _div(c, np.full_like(c, c.sum())) * r[b, i, j, k]
    return out


def reference(model, images, cls, pooling, gap=False):
    """Montavon et al.'s z⁺ / z^B rules written out with loops, in float64."""
    (w1, b1), (w2, b2), (w3, b3), (w4, b4) = (
        [v.astype(np.float64) for v in model.get_layer(n).get_weights()]
        for n in ("c1", "c2", "fc", "predictions"))
    pad = ((0, 0), (1, 1), (1, 1), (0, 0))
    rgb = np.repeat(images, 3 // images.shape[-1], axis=-1)
    x = np.pad(rgb[..., ::-1] - CAFFE_MEAN_BGR, pad)  # 'same' padding → valid on padded
    lo = np.pad(np.zeros_like(rgb) - CAFFE_MEAN_BGR, pad)
    hi = np.pad(np.full_like(rgb, 255.0) - CAFFE_MEAN_BGR, pad)
    y1 = np.maximum(_conv(x, w1) + b1, 0)
    win = y1.reshape(len(y1), 3, 2, 3, 2, 3)  # 2×2 pooling windows
    y1p = win.max(axis=(2, 4))
    y2 = np.maximum(_conv(y1p, w2) + b2, 0)
    f = y2.mean(axis=(1, 2)) if gap else y2.reshape(len(y2), -1)
    y3 = np.maximum(f @ w3 + b3, 0)
    z = y3 @ w4 + b4
    r = np.zeros_like(z)
    r[np.arange(len(z)), cls] = np.maximum(z[np.arange(len(z)), cls], 0)
    for a, w in ((y3, w4), (f, w3)):  # z⁺ for dense layers
        wp = np.maximum(w, 0)
        r = a * (_div(r, a @ wp) @ wp.T)
    if gap:  # GAP: z = mean, shared in proportion to the activations
        r = y2 * _div(r, y2.sum(axis=(1, 2)))[:, None, None]
    r = _conv_rule(y1p.shape, w2, r.reshape(y2.shape),
                   lambda b, s, wk: y1p[b][s] * np.maximum(wk, 0))
    share = (win == y1p[:, :, None, :, None]) if pooling == "winner" else win
    share = _div(share.astype(float), np.broadcast_to(share.sum(axis=(2, 4), keepdims=True),
                                                      share.shape).astype(float))
    r = (share * r[:, :, None, :, None]).reshape(y1.shape)
    r = _conv_rule(x.shape, w1, r, lambda b, s, wk: (x[b][s] * wk - lo[b][s] * np.maximum(wk, 0)
                                                     - hi[b][s] * np.minimum(wk, 0)))
    r = r[:, 1:-1, 1:-1, ::-1]  # unpad, BGR → RGB
    return (r.sum(axis=-1, keepdims=True) if images.shape[-1] == 1 else r), z


@pytest.mark.parametrize("pooling, channels, gap", [("winner", 1, False),
                                                    ("proportional", 1, False),
                                                    ("winner", 3, False), ("winner", 3, True)])
def test_matches_the_rules_written_out(pooling, channels, gap):
    model = tiny_vgg(grey=channels == 1, gap=gap)
    x = np.random.default_rng(1).uniform(0, 255, (3, 6, 6, channels))
    res = explain.deep_taylor_relevance(model, x, class_index=None, pooling=pooling,
                                        batch_size=2)
    want, z = reference(model, x, res.class_index, pooling, gap)
    np.testing.assert_array_equal(res.class_index, np.argmax(z, axis=1))
    np.testing.assert_allclose(res.scores, z[np.arange(3), res.class_index], rtol=1e-5)
    assert res.relevance.shape == (3, 6, 6, channels) and want.max() > 0
    np.testing.assert_allclose(res.relevance, want, rtol=2e-4, atol=1e-6 * want.max())
    # gradient × input (LRP-0) is also conservative here, but signed; z⁺/z^B is not
    assert res.relevance.min() >= -1e-7 * want.max()
    maps = explain.deep_taylor(model, x, pooling=pooling)  # channel sums, each max 1
    total = want.sum(axis=-1)
    np.testing.assert_allclose(maps, total / total.max(axis=(1, 2), keepdims=True), atol=1e-4)


@pytest.mark.parametrize("method", ["percentile", "histeq"])
def test_intensity_normalization_passes_relevance_through(method):
    """normalize → model ≡ the model without it on normalised images, bounds (0, 255): the
    layer keeps each pixel's relevance, and the z^B bounds are the normalised range."""
    model = tiny_vgg(normalization=method)
    plain = tiny_vgg()  # same seed: same weights, no normalize layer
    x = np.random.default_rng(2).uniform(40, 200, (3, 6, 6, 1)).astype("float32")
    normalised = np.asarray(model.get_layer("normalize")(x))
    res = explain.deep_taylor_relevance(model, x, class_index=0)
    want = explain.deep_taylor_relevance(plain, normalised, class_index=0)
    assert want.relevance.max() > 0
    np.testing.assert_allclose(res.scores, want.scores, rtol=1e-5)
    np.testing.assert_allclose(res.relevance, want.relevance, rtol=1e-4,
                               atol=1e-6 * want.relevance.max())
    assert list(res.layer_totals)[-1] == "normalize"
    np.testing.assert_allclose(res.layer_totals["normalize"], res.layer_totals["grey_to_rgb"],
                               rtol=1e-6)
    if method == "percentile":  # a dimmed film (45 % of its range) gets the same relevance
        dim = explain.deep_taylor_relevance(model, 0.45 * x, class_index=0)
        np.testing.assert_allclose(dim.relevance, res.relevance, rtol=1e-3,
                                   atol=1e-4 * res.relevance.max())


def vgg16_head(gap=False):
    keras.utils.set_random_seed(3)
    inp, f = backbone_features(input_shape=(32, 32, 3), backbone="vgg16", backbone_weights=None)
    x = L.GlobalAveragePooling2D(name="gap")(f) if gap else L.Flatten(name="flatten")(f)
    x = L.Dense(16, activation="relu", name="fc1")(x)
    x = L.Dropout(0.5, name="drop")(x)
    model = keras.Model(inp, L.Dense(3, activation="softmax", name="predictions")(x))
    head = model.get_layer("predictions")  # positive logits, so there is relevance to trace
    head.kernel.assign(np.abs(head.get_weights()[0]))
    return model


@pytest.mark.parametrize("gap, pooling", [(False, "winner"), (True, "proportional")])
def test_vgg16_conserves_relevance_layer_by_layer(gap, pooling):
    model = vgg16_head(gap)  # keras.applications.VGG16 layers, zero biases
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3))
    res = explain.deep_taylor_relevance(model, images, pooling=pooling)
    out = np.asarray(model(images))
    np.testing.assert_array_equal(res.class_index, out.argmax(axis=1))
    assert np.all(res.scores > 0)
    names = [layer.name for layer in model.layers[1:]][::-1]
    assert list(res.layer_totals) == names  # every layer from predictions down to preprocess
    for name in names:
        np.testing.assert_allclose(res.layer_totals[name], res.scores, rtol=1e-3, err_msg=name)
        assert np.all(res.layer_minima[name] >= -1e-6 * res.scores), name
    np.testing.assert_allclose(res.relevance.sum(axis=(1, 2, 3)), res.scores, rtol=1e-3)
    maps, rel, scores = explain.deep_taylor(model, images, class_index=1, pooling=pooling,
                                            normalize=False, return_relevance=True)
    np.testing.assert_allclose(maps, rel.sum(axis=-1), rtol=1e-6)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), np.maximum(scores, 0), rtol=1e-3)
    top = res.class_index  # scores are logits: z_c - z_1 = log(p_c / p_1) under softmax
    np.testing.assert_allclose(res.scores - scores, np.log(out[[0, 1], top] / out[:, 1]),
                               rtol=1e-3, atol=1e-5)


def quadrant_model(active):
    """16×16 grey → conv → pool → dense: class 0 reads only pooled units of ``active``."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 1), name="image")
    x = L.Rescaling(1 / 255.0, name="scale")(inp)
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv",
                 kernel_initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=1))(x)
    x = L.MaxPooling2D(2, name="pool")(x)
    x = L.Flatten(name="flat")(x)
    model = keras.Model(inp, L.Dense(2, activation="softmax", name="predictions")(x))
    w = np.zeros((8, 8, 4, 2), np.float32)
    w[..., 0][active] = 1.0
    w[..., 1][~active] = 1.0
    model.get_layer("predictions").set_weights([w.reshape(-1, 2), np.zeros(2, np.float32)])
    return model


def test_relevance_stays_where_the_decision_looks():
    active = np.zeros((8, 8), bool)
    active[:3, :3] = True  # pooled units ← pixels 0..5, conv receptive field adds one
    model = quadrant_model(active)
    images = np.random.default_rng(0).uniform(0, 255, (3, 16, 16, 1))
    reach, unread = np.zeros((2, 3, 16, 16), bool)
    reach[:, :7, :7] = True  # all pixels class 0 can see
    unread[:, :5, :5] = True  # pixels class 1 cannot see
    for cls, region, inside in ((0, reach, 1.0), (1, unread, 0.0)):
        raw = explain.deep_taylor(model, images, class_index=cls, normalize=False)
        assert raw.sum() > 0
        share = explain.heart_attention_share(raw, region, n_boot=0)
        np.testing.assert_allclose(share["share"], inside, atol=1e-6)
    core = np.zeros((3, 16, 16), bool)
    core[:, :6, :6] = True  # the pixels the active pooled windows cover
    maps = explain.deep_taylor(model, images, class_index=0)
    share = explain.heart_attention_share(maps, core, n_boot=0)
    assert np.all(share["share"] > 0.7) and share["ratio"] > 5  # chance: 36 / 256


def test_errors_name_the_layer():
    inp = keras.Input((8, 8, 3), name="image")
    x = L.Conv2D(2, 3, activation="relu", name="conv")(inp)
    x = L.BatchNormalization(name="bn")(x)
    x = L.Flatten()(x)
    with pytest.raises(ValueError, match=r"'bn' \(BatchNormalization\)"):
        explain.deep_taylor(keras.Model(inp, L.Dense(2, name="predictions")(x)),
                            np.zeros((1, 8, 8, 3)))
    x = L.Dense(4, activation="elu", name="hidden")(L.Flatten()(inp))
    with pytest.raises(ValueError, match=r"ReLU.*'hidden' \(Dense\).*'elu'"):
        explain.deep_taylor(keras.Model(inp, L.Dense(2, name="predictions")(x)),
                            np.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"ending in a Dense.*'predictions' \(GlobalAverage"):
        explain.deep_taylor(keras.Model(inp, L.GlobalAveragePooling2D(name="predictions")(inp)),
                            np.zeros((1, 8, 8, 3)))
    a, b = (L.Conv2D(2, 3, activation="relu", name=n)(inp) for n in "ab")
    x = L.Flatten()(L.Add(name="add")([a, b]))
    with pytest.raises(ValueError, match=r"linear chains.*'add' \(Add\)"):
        explain.deep_taylor(keras.Model(inp, L.Dense(2, name="predictions")(x)),
                            np.zeros((1, 8, 8, 3)))


def _bn_model(fold):
    """Conv → BN → ReLU twice, or the same network with each BN folded into its conv."""
    rng = np.random.default_rng(3)
    inp = keras.Input((12, 12, 1), name="image")
    x = ImagePreprocessing("unit", name="preprocess")(inp)
    weights = []
    for i, f in enumerate((4, 6)):
        k = rng.normal(0, 0.5, (3, 3, x.shape[-1], f)).astype("float32")
        gamma, beta = rng.uniform(-1.5, 1.5, f), rng.normal(0, 0.2, f)
        mean, var = rng.normal(0, 0.3, f), rng.uniform(0.2, 2.0, f)
        scale = gamma / np.sqrt(var + 1e-3)
        if fold:
            conv = L.Conv2D(f, 3, padding="same", activation="relu", name=f"c{i}")
            x = conv(x)
            weights.append((conv, [k * scale, (beta - mean * scale).astype("float32")]))
        else:
            conv = L.Conv2D(f, 3, padding="same", use_bias=False, name=f"c{i}")
            bn = L.BatchNormalization(name=f"bn{i}")
            x = L.Activation("relu", name=f"r{i}")(bn(conv(x)))
            weights += [(conv, [k]), (bn, [gamma, beta, mean, var])]
        x = L.MaxPooling2D(2, name=f"p{i}")(x)
    head = L.Dense(3, activation="softmax", name="predictions")
    out = head(L.Flatten(name="flat")(x))
    weights.append((head, [rng.normal(0, 0.3, (3 * 3 * 6, 3)), np.zeros(3)]))
    model = keras.Model(inp, out)
    for layer, w in weights:
        layer.set_weights([np.asarray(v, "float32") for v in w])
    return model


def test_batchnorm_after_a_linear_conv_is_folded_into_it():
    images = np.random.default_rng(4).uniform(0, 255, (3, 12, 12, 1)).astype("float32")
    with_bn, folded = _bn_model(False), _bn_model(True)
    np.testing.assert_allclose(with_bn.predict(images, verbose=0),
                               folded.predict(images, verbose=0), rtol=1e-4, atol=1e-6)
    a = explain.deep_taylor_relevance(with_bn, images, class_index=1)
    b = explain.deep_taylor_relevance(folded, images, class_index=1)
    np.testing.assert_allclose(a.relevance, b.relevance, rtol=1e-3, atol=1e-6)
    assert np.all(a.relevance >= -1e-6)
    np.testing.assert_allclose(a.relevance.sum(axis=(1, 2, 3)), np.maximum(a.scores, 0), rtol=1e-3)


def test_one_sigmoid_unit_explains_the_predicted_class():
    """z < 0 (the negative class) is explained as -z with the head negated, not left at 0."""
    rng = np.random.default_rng(5)
    inp = keras.Input((8, 8, 1), name="image")
    x = L.Flatten(name="flat")(L.Conv2D(3, 3, activation="relu", name="conv")(inp))
    head = L.Dense(1, activation="sigmoid", name="predictions")
    model = keras.Model(inp, head(x))
    images = rng.uniform(0, 255, (16, 8, 8, 1)).astype("float32")
    features = keras.Model(inp, x)(images).numpy()
    mean = features.mean(axis=0)
    k = rng.normal(0, 0.2, 108)
    k -= mean * (mean @ k) / (mean @ mean)  # zero mean logit: both signs, no bias needed
    w = [k[:, None].astype("float32"), np.zeros(1, "float32")]
    head.set_weights(w)
    res = explain.deep_taylor_relevance(model, images)
    z = features @ w[0][:, 0]
    assert (z < 0).any() and (z > 0).any()
    np.testing.assert_allclose(res.scores, np.abs(z), rtol=1e-4)
    np.testing.assert_array_equal(res.class_index, (z >= 0).astype(int))
    np.testing.assert_allclose(res.relevance.sum(axis=(1, 2, 3)), np.abs(z), rtol=1e-3)
    head.set_weights([-w[0], w[1]])  # the negative class's evidence, explained directly
    flipped = explain.deep_taylor_relevance(model, images[z < 0], class_index=0)
    np.testing.assert_allclose(res.relevance[z < 0], flipped.relevance, rtol=1e-4, atol=1e-6)
    head.set_weights(w)
    plain = explain.deep_taylor_relevance(model, images, class_index=0)  # z itself
    assert np.all(plain.relevance[z < 0] == 0)


ILL_CASES = [
    (dict(pooling="max"), "pooling"),
    (dict(input_bounds=(255, 0)), "input_bounds"),
    (dict(input_bounds="0-255"), "input_bounds"),
    (dict(input_bounds=(0, 1)), r"within `input_bounds`"),
    (dict(epsilon=-1.0), "epsilon"),
    (dict(class_index=3), "class_index"),
    (dict(batch_size=0), "batch_size"),
]


@pytest.mark.parametrize("kwargs, message", ILL_CASES)
def test_bad_arguments(kwargs, message):
    images = np.full((1, 6, 6, 1), 100.0)
    with pytest.raises(ValueError, match=message):
        explain.deep_taylor(tiny_vgg(), images, **kwargs)


def test_chd_vgg_models():
    """vgg16_finetune (grey → RGB → caffe → VGG16 → FC) and its VGG+Mask chain."""
    from heartcv.papers.chd_xray_vgg_unet.models import chain_mask_classifier, vgg16_finetune

    keras.utils.set_random_seed(0)
    clf = vgg16_finetune(input_shape=(32, 32, 1), backbone_weights=None, trainable_layers=13,
                         hidden_units=(16,))
    head = clf.get_layer("predictions")
    head.kernel.assign(np.abs(head.get_weights()[0]))
    inp = keras.Input((32, 32, 1), name="image")  # "segmenter": heart = pixels above 128
    seg = keras.Model(inp, L.Conv2D(1, 1, activation="sigmoid", name="predictions",
                                    kernel_initializer="ones",
                                    bias_initializer=keras.initializers.Constant(-128.0))(inp))
    x = np.random.default_rng(0).uniform(0, 100, (2, 32, 32, 1))
    heart = np.zeros((2, 32, 32), bool)
    heart[:, 8:20, 8:20] = True
    x[heart] += 150
    for model in (clf, chain_mask_classifier(seg, clf, scale=0.2),
                  chain_mask_classifier(seg, clf, scale=0.0)):
        res = explain.deep_taylor_relevance(model, x)
        assert res.relevance.shape == (2, 32, 32, 1) and res.relevance.min() >= 0
        assert np.all(res.scores > 0)
        blacked_out = model.name == "vgg_mask" and model.get_layer("mask_background").scale == 0
        for name, total in res.layer_totals.items():
            if blacked_out and name in ("block1_conv1", "preprocess", *INPUT_SIDE):
                assert np.all((0 < total) & (total < 0.9 * res.scores)), name  # l = x = h
            else:
                np.testing.assert_allclose(total, res.scores, rtol=1e-3, err_msg=name)
        share = explain.heart_attention_share(res.relevance[..., 0], heart, n_boot=0)["share"]
        if blacked_out:  # relevance only on (and next to) the heart
            np.testing.assert_allclose(share, 1.0, atol=1e-6)
        else:
            assert np.all(share < 0.99)


def disk_images(n, seed, size=32):
    """Dim noise; odd-numbered images (class 1) get a bright disk of radius 4 at random."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 60, (n, size, size, 1)).astype("float32")
    y = np.arange(n) % 2
    yy, xx = np.mgrid[:size, :size]
    disks = np.zeros((n, size, size), bool)
    for i in range(n):
        cy, cx = rng.uniform(6, size - 6, 2)
        disks[i] = (yy - cy) ** 2 + (xx - cx) ** 2 <= 16
        x[i, disks[i], 0] += 150 * y[i]
    return x, y, disks


@pytest.mark.slow
def test_trained_model_relevance_lands_on_the_evidence():
    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 1), name="image")
    h = L.Rescaling(1 / 255.0, name="scale")(inp)
    for i, filters in enumerate((8, 16)):
        h = L.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(h)
        h = L.MaxPooling2D(2, name=f"pool{i}")(h)
    h = L.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(h)
    h = L.GlobalAveragePooling2D(name="gap")(h)
    model = keras.Model(inp, L.Dense(2, activation="softmax", name="predictions")(h))
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y, _ = disk_images(384, seed=0)
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    xt, yt, disks = disk_images(64, seed=1)
    assert model.evaluate(xt, yt, verbose=0)[1] > 0.9
    pos = yt == 1
    relevance = explain.heart_attention_share(
        explain.deep_taylor(model, xt[pos], class_index=1), disks[pos], n_boot=200)
    sensitivity = explain.heart_attention_share(
        explain.saliency_tfkv(model, xt[pos], class_index=1), disks[pos], n_boot=200)
    assert relevance["chance"] < 0.06  # the disk covers ~5 % of the image
    assert relevance["ci"][0] > 0.6 and relevance["pointing_game"] > 0.9 \
        and sensitivity["ci"][0] > 0.25

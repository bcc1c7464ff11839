"""The six ECG-image architectures (heartcv.papers.ecg_images_5class.models): build, fit, save/load, arguments."""

import numpy as np
import pytest

import keras

import heartcv
from heartcv.layers import AttentionEstimator, TemporalAttention

ECG_MODELS = ("ecg_cnn3d", "ecg_cnn2d", "ecg_attn_lstm", "ecg_hybrid", "ecg_timedistributed_cnn",
              "ecg_attention_vgg")
SMALL = {"ecg_attention_vgg": {"input_shape": (32, 32, 13), "filters": (8, 8, 16, 16, 16, 16)},
         "ecg_hybrid": {"input_shape": (16, 16, 13), "hidden_size": 16}}


def _build(name, **kwargs):
    return heartcv.build_model(name, **{"input_shape": (16, 16, 13), **SMALL.get(name, {}),
                                        **kwargs})


def _volumes(shape, n=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape)).astype("float32")


def test_all_registered():
    assert set(heartcv.list_models("ecg_*")) >= set(ECG_MODELS)
    for name in ECG_MODELS:
        spec = heartcv.get_spec(name)
        assert spec.task == "multiclass" and spec.paper == "ecg_images_5class"
        assert spec.parameters()["input_shape"] == (64, 64, 13)
        assert spec.parameters()["num_classes"] == 5


@pytest.mark.parametrize("name", ECG_MODELS)
def test_build_fit_save_load(name, tmp_path):
    model = _build(name, num_classes=3)
    assert model.layers[-1].name == "predictions" and model.output_shape == (None, 3)
    x = _volumes(model.input_shape[1:])
    y = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, batch_size=2, epochs=1, steps_per_epoch=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    ref = model.predict(x, verbose=0)
    np.testing.assert_allclose(ref.sum(-1), 1.0, rtol=1e-5)
    for ext in (".h5", ".keras"):
        path = heartcv.save_model(model, tmp_path / f"{name}{ext}")
        loaded = keras.models.load_model(path, compile=False)  # no custom_objects
        np.testing.assert_allclose(loaded.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-6)


def test_paper_sizes():
    """Layer sizes of the listings at the paper's 64 x 64."""
    m = heartcv.build_model("ecg_cnn3d")
    assert m.get_layer("leads_reshape").output.shape[1:] == (13, 64, 64, 1)
    assert m.get_layer("conv4_pool").output.shape[1:] == (1, 4, 4, 512)  # PyTorch: 512x1x4x4
    assert [m.get_layer(n).units for n in ("fc1", "fc2", "predictions")] == [128, 64, 5]
    m = heartcv.build_model("ecg_cnn2d")
    assert m.get_layer("conv2_pool").output.shape[1:] == (16, 16, 128)
    m = heartcv.build_model("ecg_hybrid")
    assert m.get_layer("rows_flatten").output.shape[1:] == (128 * 16, 16)  # AttnLSTM(input_size=16)
    assert m.get_layer("attn_lstm_lstm1").units == 128
    m = heartcv.build_model("ecg_hybrid", time_axis="leads", input_shape=(28, 28, 13))
    assert m.get_layer("leads_flatten").output.shape[1:] == (13, 7 * 7 * 128)
    m = heartcv.build_model("ecg_attn_lstm")
    assert m.get_layer("leads_flatten").output.shape[1:] == (13, 64 * 64)
    m = heartcv.build_model("ecg_timedistributed_cnn", input_shape=(28, 28, 13))
    assert m.get_layer("conv2_pool_td").output.shape[1:] == (13, 7, 7, 128)
    m = heartcv.build_model("ecg_attention_vgg")
    assert m.get_layer("dense").output.shape[1:] == (1, 1, 512)
    assert m.get_layer("descriptors").output.shape[1:] == (3 * 512,)
    assert m.get_layer("block3_3_relu").output.shape[1:] == (64, 64, 256)
    assert m.get_layer("projector").output.shape[1:] == (64, 64, 512)


def test_attention_vgg_pads_28_to_32():
    m = heartcv.build_model("ecg_attention_vgg", input_shape=(28, 28, 13),
                            filters=(8, 8, 8, 8, 8, 8), num_classes=3)
    assert m.get_layer("pad").output.shape[1:] == (32, 32, 13)
    assert m.predict(_volumes((28, 28, 13), n=2), verbose=0).shape == (2, 3)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("attention", [True, False])
def test_attention_vgg_variants(attention, normalize):
    m = _build("ecg_attention_vgg", attention=attention, normalize_attn=normalize)
    names = {l.name for l in m.layers}
    assert ({"attention1", "attention2", "attention3", "projector"} <= names) == attention
    if attention:
        assert m.get_layer("attention1").normalize is normalize
    y = m.predict(_volumes((32, 32, 13), n=2), verbose=0)
    assert y.shape == (2, 5) and np.all(np.isfinite(y))


def test_attention_estimator_math():
    rng = np.random.default_rng(0)
    local = rng.normal(size=(2, 3, 4, 5)).astype("float32")
    glob = rng.normal(size=(2, 1, 1, 5)).astype("float32")
    for normalize in (True, False):
        layer = AttentionEstimator(normalize=normalize)
        g, c = (keras.ops.convert_to_numpy(t) for t in layer([local, glob]))
        u = keras.ops.convert_to_numpy(layer.kernel)[:, 0]
        c_ref = (local + glob) @ u
        np.testing.assert_allclose(c[..., 0], c_ref, rtol=1e-5, atol=1e-5)
        flat = c_ref.reshape(2, -1)
        if normalize:
            a = np.exp(flat - flat.max(1, keepdims=True))
            a /= a.sum(1, keepdims=True)
            g_ref = np.einsum("bn,bnc->bc", a, local.reshape(2, -1, 5))
        else:
            a = 1 / (1 + np.exp(-flat))
            g_ref = np.einsum("bn,bnc->bc", a, local.reshape(2, -1, 5)) / flat.shape[1]
        np.testing.assert_allclose(g, g_ref, rtol=1e-5, atol=1e-5)
        clone = AttentionEstimator.from_config(layer.get_config())
        assert clone.normalize is normalize


def test_temporal_attention_math():
    rng = np.random.default_rng(1)
    h = rng.normal(size=(2, 6, 4)).astype("float32")
    layer = TemporalAttention(return_attention_scores=True)
    out, weights = (keras.ops.convert_to_numpy(t) for t in layer(h))
    w1, w2 = (keras.ops.convert_to_numpy(k) for k in (layer.fc1_kernel, layer.fc2_kernel))
    score = np.einsum("btu,bu->bt", h @ w1, h[:, -1])
    a = np.exp(score - score.max(1, keepdims=True))
    a /= a.sum(1, keepdims=True)
    context = np.einsum("bt,btu->bu", a, h)
    np.testing.assert_allclose(weights, a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, np.tanh(np.concatenate([context, h[:, -1]], -1) @ w2),
                               rtol=1e-5, atol=1e-5)
    assert TemporalAttention.from_config(layer.get_config()).return_attention_scores is True


ILL_CASES = [
    ("ecg_cnn2d", {"input_shape": (64, 64, 3)}, ValueError,
     r"Expected `input_shape` \(height, width, 13\).*Received: input_shape=\(64, 64, 3\)"),
    ("ecg_cnn3d", {"input_shape": (4, 4, 13)}, ValueError, r"height and width as ints >= 8"),
    ("ecg_cnn2d", {"input_shape": (None, None, 13)}, ValueError, r"height and width as ints"),
    ("ecg_cnn2d", {"dropout": 1.0}, ValueError, r"Expected `dropout` in \[0, 1\)"),
    ("ecg_cnn3d", {"num_classes": 0}, ValueError, r"Expected `num_classes` >= 1"),
    ("ecg_attn_lstm", {"hidden_size": 0}, ValueError, r"Received: hidden_size=0"),
    ("ecg_attn_lstm", {"num_layers": 1.5}, ValueError, r"Received: num_layers=1.5"),
    ("ecg_hybrid", {"time_axis": "columns"}, ValueError,
     r"Expected `time_axis` in \('rows', 'leads'\)"),
    ("ecg_attention_vgg", {"normalize_attn": "yes"}, TypeError, r"Received: normalize_attn='yes'"),
    ("ecg_attention_vgg", {"filters": (64, 128)}, ValueError, r"Expected `filters` as 6 positive"),
    ("ecg_attention_vgg", {"filters": (8, 8, 8, 8, 16, 8)}, ValueError, r"filters\[3:\]"),
    ("ecg_timedistributed_cnn", {"classifier_activation": "relu"}, ValueError,
     r"Expected `classifier_activation`"),
]


@pytest.mark.parametrize("name, kwargs, exc, message", ILL_CASES)
def test_illegal_arguments(name, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        heartcv.build_model(name, **kwargs)


def test_layer_argument_errors():
    with pytest.raises(TypeError, match="Received: normalize=1"):
        AttentionEstimator(normalize=1)
    with pytest.raises(TypeError, match="Received: return_attention_scores=None"):
        TemporalAttention(return_attention_scores=None)
    with pytest.raises(ValueError, match=r"\(batch, steps, units\)"):
        TemporalAttention()(keras.Input((4,)))

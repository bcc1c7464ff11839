"""Cardio-XAttentionNet's AMM head: GWAP by hand, frozen broadcast, Table 2 feature sizes."""

import numpy as np
import pytest

import keras

import heartcv
from heartcv.layers import GlobalWeightedAveragePooling
from heartcv.models import attention_model
from heartcv.models.blocks import ATTENTION_LAYER


def test_gwap_hand_computed():
    f = np.arange(8, dtype="float32").reshape(1, 2, 2, 2)  # channel 0: 0,2,4,6; channel 1: 1,3,5,7
    w = np.array([1.0, 0.0, 0.5, 0.5], "float32").reshape(1, 2, 2, 1)
    w_all = np.repeat(w, 2, axis=-1)
    out = np.asarray(GlobalWeightedAveragePooling(epsilon=1e-7)([f * w_all, w_all]))
    # channel 0: (0*1 + 2*0 + 4*.5 + 6*.5) / (1 + 0 + .5 + .5) = 5 / 2 = 2.5
    # channel 1: (1*1 + 3*0 + 5*.5 + 7*.5) / 2 = 7 / 2 = 3.5
    np.testing.assert_allclose(out, [[2.5, 3.5]], rtol=1e-6)
    zero = np.zeros_like(w_all)
    assert np.all(np.isfinite(np.asarray(GlobalWeightedAveragePooling()([f * zero, zero]))))


def test_gwap_config_and_bad_args():
    layer = GlobalWeightedAveragePooling(epsilon=1e-5, name="g")
    again = GlobalWeightedAveragePooling.from_config(layer.get_config())
    assert again.epsilon == 1e-5 and again.name == "g"
    with pytest.raises(ValueError, match="epsilon"):
        GlobalWeightedAveragePooling(epsilon=0)


@pytest.mark.parametrize("name, expected", [
    ("cxa_inceptionresnetv2", (5, 5, 1536)), ("cxa_resnet50", (7, 7, 2048)),
    ("cxa_densenet121", (7, 7, 1024)), ("cxa_densenet201", (7, 7, 1920)),
])
def test_feature_tensor_sizes_match_table_2(name, expected):
    model = heartcv.build_model(name)
    features = model.get_layer("amm_bn").input
    probe = keras.Model(model.inputs, features)
    assert tuple(probe.compute_output_shape((1, 224, 224, 3))[1:]) == expected


def test_broadcast_conv_frozen_through_training_and_reload(tmp_path):
    model = heartcv.build_model("cxa_densenet121", input_shape=(32, 32, 3))
    broadcast = model.get_layer("amm_broadcast")
    assert not broadcast.trainable and broadcast.use_bias is False
    assert broadcast.kernel.shape == (1, 1, 1, 1024)
    np.testing.assert_array_equal(np.asarray(broadcast.kernel), 1.0)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    model.fit(x, np.array([[0], [1], [0], [1]], "float32"), epochs=1, verbose=0)
    np.testing.assert_array_equal(np.asarray(broadcast.kernel), 1.0)
    path = heartcv.save_model(model, tmp_path / "m.h5")
    loaded = keras.models.load_model(path)
    assert not loaded.get_layer("amm_broadcast").trainable
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_attention_model_any_size():
    model = heartcv.build_model("cxa_resnet50")
    am = attention_model(model)
    for side in (64, 128):
        p, w = am.predict(np.zeros((1, side, side, 3), "float32") + 100, verbose=0)
        assert p.shape == (1, 1) and w.shape == (1, side // 32, side // 32, 1)
        assert np.all((w >= 0) & (w <= 1))
    with pytest.raises(ValueError, match=f"no attention layer '{ATTENTION_LAYER}'"):
        attention_model(heartcv.build_model("small_cnn", input_shape=(32, 32, 3)))


@pytest.mark.parametrize("name", ["cxa_resnet50", "resnet50_gap"])
def test_normalize_layer_first_and_weightless(name):
    """``normalize`` (IntensityNormalization, percentile) between ``image`` and ``preprocess``;
    no weights, so the parameter count is the paper's (``normalization="none"``: no layer)."""
    model = heartcv.build_model(name, input_shape=(32, 32, 3))
    names = [layer.name for layer in model.layers]
    assert names[:3] == ["image", "normalize", "preprocess"]
    assert model.get_layer("normalize").method == "percentile"
    assert not model.get_layer("normalize").weights
    none = heartcv.build_model(name, input_shape=(32, 32, 3), normalization="none")
    assert [layer.name for layer in none.layers][:2] == ["image", "preprocess"]
    assert model.count_params() == none.count_params()
    with pytest.raises(ValueError, match=r"Did you mean 'histeq'\? Received: normalization='hist'"):
        heartcv.build_model(name, input_shape=(32, 32, 3), normalization="hist")


def test_backbone_features_adds_no_normalisation_by_default():
    from heartcv.models.backbones import backbone_features

    inputs, features = backbone_features(input_shape=(32, 32, 3), backbone="resnet50")
    names = [layer.name for layer in keras.Model(inputs, features).layers]
    assert "normalize" not in names and names[1] == "preprocess"
    inputs, features = backbone_features(input_shape=(32, 32, 3), backbone="resnet50",
                                         normalization="clahe")
    assert keras.Model(inputs, features).get_layer("normalize").method == "clahe"


@pytest.mark.parametrize("backbone", ["densenet121", "resnet50"])  # "torch", "caffe" scaling
def test_amm_and_gap_share_the_papers_input_scaling(backbone):
    """The paper min–max normalises every model: AMM and GAP differ only in the pooling head
    (the GAP baselines used to get ImageNet "torch"/"caffe" scaling, confounding Table 5)."""
    amm = heartcv.build_model(f"cxa_{backbone}")
    gap = heartcv.build_model(f"{backbone}_gap")
    for model in (amm, gap):
        assert model.input_shape == (None, None, None, 3)  # both test at any (full) size
        assert model.get_layer("preprocess").mode == "minmax"
        assert model.get_layer("normalize").method == "percentile"
    x = np.random.default_rng(0).uniform(20, 200, (1, 75, 75, 3)).astype("float32")
    seen = [keras.Model(m.inputs, m.get_layer("preprocess").output)(x) for m in (amm, gap)]
    np.testing.assert_allclose(np.asarray(seen[0]), np.asarray(seen[1]))
    assert float(np.min(seen[0])) == 0.0 and float(np.max(seen[0])) == 1.0
    imagenet = heartcv.build_model(f"{backbone}_gap", preprocessing="auto")
    assert imagenet.get_layer("preprocess").mode != "minmax"  # ImageNet users opt in

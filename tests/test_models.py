"""Every registered model: build at its smallest legal input, forward, save/load (.h5, .keras)."""

import numpy as np
import pytest

import keras

import heartcv
from heartcv.models.backbones import BACKBONES, WeightsUnavailableError, build_backbone, set_bn_momentum

HEAVY = 5_000_000  # parameters; round trips of bigger models (DenseNet121 and up) run in the slow suite


def _smallest_input(name):
    params = heartcv.get_spec(name).parameters()
    side = BACKBONES[params["backbone"]].min_size if "backbone" in params else 32
    side = max(side, 32)
    return (side, side, params.get("input_shape", (None, None, 3))[-1] or 3)


def _build(name):
    spec = heartcv.get_spec(name)
    kwargs = {"input_shape": _smallest_input(name)}
    if "backbone_weights" in spec.parameters():
        kwargs["backbone_weights"] = None
    return heartcv.build_model(name, **kwargs)


def _inputs(model, n=2, seed=0):
    """Random inputs: an array, or a dict for several named inputs (mitbih_beat_rr)."""
    if len(model.inputs) > 1:
        return {t.name: _images(tuple(t.shape)[1:], n, seed) for t in model.inputs}
    return _images(model.input_shape[1:], n, seed)


def _images(shape, n=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, *shape)).astype("float32")


@pytest.mark.parametrize("name", heartcv.list_models())
def test_build_forward(name):
    model = _build(name)
    spec = heartcv.get_spec(name)
    assert model.layers[-1].name == "predictions"
    x = _inputs(model)
    y = np.asarray(model.predict(x, verbose=0))
    assert y.shape[0] == 2 and np.all(np.isfinite(y))
    if spec.task in ("binary", "multilabel", "segmentation") or y.shape[-1] == 1:
        assert np.all((y >= 0) & (y <= 1))
    else:
        np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)


def _round_trip(name, tmp_path):
    model = _build(name)
    x = _inputs(model, seed=1)
    ref = model.predict(x, verbose=0)
    for ext in (".h5", ".keras"):
        path = heartcv.save_model(model, tmp_path / f"{name}{ext}")
        loaded = keras.models.load_model(path)  # no custom_objects: import heartcv registered them
        np.testing.assert_allclose(loaded.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-5)
        assert loaded.layers[-1].name == "predictions"


@pytest.mark.parametrize("name", heartcv.list_models())
def test_save_load_round_trip(name, tmp_path):
    if _build(name).count_params() > HEAVY:
        pytest.skip(f"{name}: heavy model, round trip runs in the slow suite")
    _round_trip(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", heartcv.list_models())
def test_save_load_round_trip_heavy(name, tmp_path):
    if _build(name).count_params() <= HEAVY:
        pytest.skip(f"{name}: covered by the fast round trip")
    _round_trip(name, tmp_path)


def test_fully_convolutional_gap():
    model = heartcv.build_model("resnet50_gap", input_shape=(None, None, 3))
    for side in (64, 96):
        assert model.predict(_images((side, side, 3), n=1), verbose=0).shape == (1, 1)


def test_multiclass_head():
    model = heartcv.build_model("small_cnn", input_shape=(32, 32, 3), num_classes=4)
    y = model.predict(_images((32, 32, 3)), verbose=0)
    assert y.shape == (2, 4)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)


ILL_CASES = [
    ({"dropout": 1.0}, ValueError, r"Expected `dropout` in \[0, 1\). Received: dropout=1.0"),
    ({"num_classes": 0}, ValueError, r"Expected `num_classes` >= 1"),
    ({"input_shape": (32, 32)}, ValueError, r"Expected `input_shape` as \(height, width, channels\)"),
    ({"filters": ()}, ValueError, r"Expected `filters` as positive ints"),
    ({"classifier_activation": "relu6"}, ValueError, r"Expected `classifier_activation`"),
]


@pytest.mark.parametrize("kwargs, exc, message", ILL_CASES)
def test_illegal_arguments(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        heartcv.build_model("small_cnn", **kwargs)


def test_unknown_backbone_and_missing_weights(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown backbone 'densenet12'.*Did you mean 'densenet121'"):
        heartcv.build_model("densenet121_gap", backbone="densenet12")
    with pytest.raises(FileNotFoundError, match=r"Backbone weights file not found: .*nowhere.h5"):
        heartcv.build_model("densenet121_gap", input_shape=(32, 32, 3),
                            backbone_weights=str(tmp_path / "nowhere.h5"))


def test_imagenet_offline_message(offline_keras_home):
    """Offline, 'imagenet' fails with the file name and how to pass a local path."""
    inputs = keras.Input((32, 32, 3))
    with pytest.raises(WeightsUnavailableError) as info:
        build_backbone("vgg16", inputs, "imagenet")
    msg = str(info.value)
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in msg
    assert "backbone_weights=/path/to/" in msg and str(offline_keras_home) in msg


def test_local_weights_file(tmp_path):
    """A local weights file is loaded into the backbone (as a user would pass a download)."""
    src = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "vgg16_notop.h5"
    src.save_weights(str(path).replace(".h5", ".weights.h5"))
    model = heartcv.build_model("small_cnn", input_shape=(32, 32, 3))  # sanity: unrelated
    assert model is not None
    base = build_backbone("vgg16", keras.Input((32, 32, 3)), str(path).replace(".h5", ".weights.h5"))
    for a, b in zip(src.get_weights(), base.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_set_bn_momentum():
    model = heartcv.build_model("small_cnn", input_shape=(32, 32, 3))
    n = set_bn_momentum(model, 0.9)
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert n == len(bns) == 8 and all(l.momentum == 0.9 for l in bns)
    with pytest.raises(ValueError, match="momentum"):
        set_bn_momentum(model, 1.0)

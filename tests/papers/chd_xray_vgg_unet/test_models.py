"""CHD paper models: vgg16_finetune / vgg16_view, MaskBackground, mask_images, VGG+Mask chain."""

import numpy as np
import pytest

import keras

import heartcv
from heartcv.layers import MaskBackground
from heartcv.models.backbones import WeightsUnavailableError
from heartcv.papers.chd_xray_vgg_unet.models import VGG16_CONV_LAYERS, chain_mask_classifier, mask_images, vgg16_finetune

SIDE = 32


def _vgg(**kwargs):
    kwargs = {"input_shape": (SIDE, SIDE, 1), "backbone_weights": None, "hidden_units": (8,),
              **kwargs}
    return vgg16_finetune(**kwargs)


def _segmenter(channels=1, seed=0, out_channels=1):
    """A tiny (H, W, C) → (H, W, 1) sigmoid model with BatchNorm and non-trivial weights."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIDE, SIDE, channels), name="image")
    x = keras.layers.Rescaling(1 / 255.0, name="scale")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="enc_conv")(x)
    x = keras.layers.BatchNormalization(name="enc_bn")(x)
    x = keras.layers.Conv2D(out_channels, 1, activation="sigmoid", name="predictions")(x)
    model = keras.Model(inputs, x, name="tiny_segmenter")
    bn = model.get_layer("enc_bn")
    bn.set_weights([w + np.random.default_rng(seed).uniform(0.1, 0.5, w.shape).astype("float32")
                    for w in bn.get_weights()])
    return model


def _threshold_segmenter(channels=1):
    """mask = sigmoid(x - 128): above 0.5 exactly where the (first) pixel value is > 128."""
    inputs = keras.Input((SIDE, SIDE, channels), name="image")
    conv = keras.layers.Conv2D(1, 1, activation="sigmoid", name="predictions")
    model = keras.Model(inputs, conv(inputs))
    kernel = np.zeros((1, 1, channels, 1), "float32")
    kernel[..., 0, 0] = 1.0
    conv.set_weights([kernel, np.array([-128.0], "float32")])
    return model


def _images(channels=1, n=3, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, SIDE, SIDE, channels)).astype("float32")


def _weighted(model):
    return {layer.name for layer in model.layers if layer.trainable and layer.weights}


# ------------------------------------------------------------------------ vgg16_finetune


@pytest.mark.parametrize("trainable_layers", [None, 0, 13])
def test_trainable_layers(trainable_layers):
    """Default: exactly block5_conv1..3 (VGG16's last three layers with weights) + the head."""
    kwargs = {} if trainable_layers is None else {"trainable_layers": trainable_layers}
    model = _vgg(hidden_units=(8, 4), **kwargs)
    trainable_layers = 3 if trainable_layers is None else trainable_layers
    head = {"head_fc1", "head_fc2", "predictions"}
    convs = set(VGG16_CONV_LAYERS[len(VGG16_CONV_LAYERS) - trainable_layers:])
    assert _weighted(model) == head | convs
    # kernel + bias per trainable layer, nothing else (no BatchNorm in VGG16)
    assert len(model.trainable_weights) == 2 * (len(head) + trainable_layers)
    frozen = set(VGG16_CONV_LAYERS) - convs
    assert all(not model.get_layer(n).trainable for n in frozen)


def test_scaled_batchnorm_vgg16_from_scratch():
    """The CPU setting: VGG16's layer names at 1/8 width with BN; trainable_layers still counts
    convolution scopes from the output."""
    model = _vgg(backbone_weights=None, width=0.125, batchnorm=True, trainable_layers=3,
                 hidden_units=(8,))
    assert model.get_layer("block1_conv1_conv").filters == 8
    assert model.get_layer("block5_conv3_conv").filters == 64
    assert model.get_layer("block5_conv3").__class__.__name__ == "Activation"  # the ReLU
    trainable = {layer.name for layer in model.layers if layer.trainable and layer.weights}
    assert trainable == {"block5_conv1_conv", "block5_conv1_bn", "block5_conv2_conv",
                         "block5_conv2_bn", "block5_conv3_conv", "block5_conv3_bn",
                         "head_fc1", "predictions"}
    assert model.get_layer("preprocess").mode == "unit"
    assert "grey_to_rgb" not in [layer.name for layer in model.layers]


@pytest.mark.parametrize("num_classes, activation",
                         [(3, "softmax"), (2, "softmax"), (1, "sigmoid")])
def test_num_classes(num_classes, activation):
    model = _vgg(num_classes=num_classes)
    assert model.layers[-1].name == "predictions"
    assert model.get_layer("predictions").activation.__name__ == activation
    y = model.predict(_images(), verbose=0)
    assert y.shape == (3, num_classes) and np.all(np.isfinite(y))
    if num_classes > 1:
        np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)
    else:
        assert np.all((y >= 0) & (y <= 1))


@pytest.mark.parametrize("normalization, tol", [("none", 1e-6), ("percentile", 1e-3)])
def test_grey_input_equals_rgb_of_repeated_grey(normalization, tol):
    """``percentile`` pools the channels: on 3 copies numpy's interpolated 1st/99th
    percentiles move by a fraction of a grey level, hence the looser tolerance there."""
    grey = _vgg(pooling="avg", dropout=0.0, normalization=normalization)
    rgb = _vgg(input_shape=(SIDE, SIDE, 3), pooling="avg", dropout=0.0,
               normalization=normalization)
    names = [layer.name for layer in grey.layers]
    assert "grey_to_rgb" in names
    assert ("normalize" in names) == (normalization != "none")
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in grey.layers)
    for layer in rgb.layers:
        if layer.weights:
            layer.set_weights(grey.get_layer(layer.name).get_weights())
    x = _images()
    np.testing.assert_allclose(grey.predict(x, verbose=0),
                               rgb.predict(np.repeat(x, 3, axis=-1), verbose=0),
                               rtol=tol, atol=tol)


def test_registered_variants():
    assert {"vgg16_finetune", "vgg16_view"} <= set(heartcv.list_models("vgg16_*"))
    assert heartcv.get_spec("vgg16_finetune").task == "multiclass"
    assert heartcv.get_spec("vgg16_finetune").parameters()["backbone_weights"] == "imagenet"
    spec = heartcv.get_spec("vgg16_view")  # frontal/lateral, as the CHD and synthetic data
    assert spec.task == "multiclass" and spec.parameters()["num_classes"] == 2
    model = heartcv.build_model("vgg16_view", input_shape=(SIDE, SIDE, 1), backbone_weights=None,
                                pooling="avg", hidden_units=())
    assert model.output_shape == (None, 2)
    assert model.get_layer("predictions").activation.__name__ == "softmax"
    assert "head_dropout" in [layer.name for layer in model.layers]  # dropout with no hidden layer


ILL_CASES = [
    ({"trainable_layers": 14}, r"Expected `trainable_layers` as an int in \[0, 13\]. "
                               r"Received: trainable_layers=14"),
    ({"trainable_layers": -1}, r"Received: trainable_layers=-1"),
    ({"trainable_layers": True}, r"Received: trainable_layers=True"),
    ({"trainable_layers": "3"}, r"Received: trainable_layers='3'"),
    ({"num_classes": 0}, r"Expected `num_classes` >= 1"),
    ({"dropout": 1.0}, r"Expected `dropout` in \[0, 1\). Received: dropout=1.0"),
    ({"pooling": "gap"}, r"Expected `pooling` in .*Received: pooling='gap'"),
    ({"hidden_units": (8, 0)}, r"Expected `hidden_units` .*Received: hidden_units=\(8, 0\)"),
    ({"hidden_units": "8"}, r"Received: hidden_units='8'"),
    ({"input_shape": (32, 32, 2)}, r"Expected `input_shape` with 1 \(grey\) or 3 channels"),
    ({"input_shape": (16, 16, 3)}, r"height and width >= 32"),
    ({"input_shape": (None, None, 3)}, r"pooling='flatten' needs a fixed input size"),
    ({"input_shape": (32, 32)}, r"Expected `input_shape` as \(height, width, channels\)"),
    ({"classifier_activation": "relu"}, r"Expected `classifier_activation`"),
    ({"backbone_weights": "/nowhere/vgg16.h5"},
     r"Backbone weights file not found: /nowhere/vgg16.h5"),
    ({"width": 0.0}, r"Expected `width` in \(0, 1\]. Received: width=0.0"),
    ({"width": 0.5, "backbone_weights": "imagenet"}, r"Pretrained VGG16 weights need the original"),
    ({"normalization": "percentil"}, r"Expected `normalization` in \('percentile', 'histeq', "
                                     r"'clahe', 'percentile_histeq', 'none'\). Did you mean 'percentile'\? "
                                     r"Received: normalization='percentil'"),
]


@pytest.mark.parametrize("kwargs, message", ILL_CASES)
def test_illegal_arguments(kwargs, message):
    exc = FileNotFoundError if str(kwargs.get("backbone_weights")).startswith("/") else ValueError
    with pytest.raises(exc, match=message):
        _vgg(**kwargs)


@pytest.mark.parametrize("kwargs", [{}, {"width": 0.125, "batchnorm": True}])
def test_normalize_layer_first_weightless_and_exposure_invariant(kwargs):
    """``normalize`` (percentile) right after the input, before grey→RGB and preprocess; no
    weights, so the parameter count equals the paper's model (normalization="none")."""
    model = _vgg(**kwargs)
    none = _vgg(normalization="none", **kwargs)
    names = [layer.name for layer in model.layers]
    assert names[:2] == ["image", "normalize"] and "normalize" not in [l.name for l in none.layers]
    assert names.index("normalize") < names.index("preprocess")
    if "grey_to_rgb" in names:
        assert names.index("normalize") < names.index("grey_to_rgb")
    layer = model.get_layer("normalize")
    assert layer.method == "percentile" and not layer.weights
    assert model.count_params() == none.count_params()
    x = _images(seed=4)
    np.testing.assert_allclose(model.predict(0.45 * x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-3, atol=1e-4)


def test_fully_convolutional_with_global_pooling():
    model = _vgg(input_shape=(None, None, 3), pooling="max")
    for side in (32, 64):
        x = np.random.default_rng(side).uniform(0, 255, (1, side, side, 3)).astype("float32")
        assert model.predict(x, verbose=0).shape == (1, 3)


def test_imagenet_offline_message(offline_keras_home):
    """Offline, the default 'imagenet' names the file and how to pass a local path or None."""
    with pytest.raises(WeightsUnavailableError) as info:
        heartcv.build_model("vgg16_finetune", input_shape=(SIDE, SIDE, 3))
    msg = str(info.value)
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in msg
    assert str(offline_keras_home / "models") in msg
    assert "backbone_weights=/path/to/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in msg
    assert "backbone_weights=None" in msg


def test_local_weights_file(tmp_path):
    """A local copy of the VGG16 weights is loaded, then only block5 stays trainable."""
    src = keras.applications.VGG16(include_top=False, weights=None, input_shape=(SIDE, SIDE, 3))
    path = tmp_path / "vgg16_notop.weights.h5"
    src.save_weights(str(path))
    model = _vgg(input_shape=(SIDE, SIDE, 3), backbone_weights=str(path))
    for name in ("block1_conv1", "block5_conv3"):
        for a, b in zip(src.get_layer(name).get_weights(), model.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert not model.get_layer("block1_conv1").trainable
    assert model.get_layer("block5_conv1").trainable


# ------------------------------------------------------------------------ MaskBackground


def test_mask_background_hand_computed():
    images = np.array([[10.0, 20.0], [30.0, 40.0]], "float32").reshape(1, 2, 2, 1)
    mask = np.array([[1.0, 0.0], [0.5, 0.25]], "float32").reshape(1, 2, 2, 1)
    soft = np.asarray(MaskBackground(scale=0.2)([images, mask])).ravel()
    # images * m + 0.2 * images * (1 - m)
    np.testing.assert_allclose(soft, [10.0, 0.2 * 20, 30 * 0.5 + 0.2 * 30 * 0.5,
                                      40 * 0.25 + 0.2 * 40 * 0.75], rtol=1e-6)
    hard = np.asarray(MaskBackground(scale=0.2, threshold=0.4)([images, mask])).ravel()
    np.testing.assert_allclose(hard, [10.0, 4.0, 30.0, 8.0], rtol=1e-6)
    black = np.asarray(MaskBackground(scale=0.0, threshold=0.5)([images, mask])).ravel()
    np.testing.assert_allclose(black, [10.0, 0.0, 0.0, 0.0])  # 0.5 is not > 0.5


def test_mask_background_broadcasts_one_channel_mask():
    images = np.full((1, 2, 2, 3), 100.0, "float32")
    images[..., 1] = 50.0
    mask = np.array([1.0, 0.0, 0.0, 1.0], "float32").reshape(1, 2, 2, 1)
    out = np.asarray(MaskBackground(scale=0.5)([images, mask]))
    np.testing.assert_allclose(out[0, 0, 0], [100.0, 50.0, 100.0])
    np.testing.assert_allclose(out[0, 0, 1], [50.0, 25.0, 50.0])


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": -0.1}, r"Expected `scale` in \[0, 1\]. Received: scale=-0.1"),
    ({"scale": 1.5}, r"Received: scale=1.5"),
    ({"scale": True}, r"Received: scale=True"),
    ({"scale": "0.2"}, r"Received: scale='0.2'"),
    ({"threshold": 0.0},
     r"Expected `threshold` to be None or in \(0, 1\). Received: threshold=0.0"),
    ({"threshold": 1.0}, r"Received: threshold=1.0"),
])
def test_mask_background_illegal_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MaskBackground(**kwargs)


@pytest.mark.parametrize("images, mask, message", [
    ((4, 8, 8, 3), (4, 8, 4, 1), r"same width"),
    ((4, 8, 8, 3), (4, 6, 8, 1), r"same height"),
    ((4, 8, 8, 3), (4, 8, 8, 2), r"1 channel or as many as the images"),
    ((4, 8, 8), (4, 8, 8, 1), r"rank 4"),
])
def test_mask_background_shape_checks(images, mask, message):
    with pytest.raises(ValueError, match=message):
        MaskBackground()([keras.Input(batch_shape=images), keras.Input(batch_shape=mask)])


def test_mask_background_config_round_trip():
    layer = MaskBackground(scale=0.3, threshold=0.5, name="mb")
    again = MaskBackground.from_config(layer.get_config())
    assert (again.scale, again.threshold, again.name) == (0.3, 0.5, "mb")
    assert keras.saving.get_registered_name(MaskBackground) == "heartcv>MaskBackground"


# ------------------------------------------------------------------------ mask_images


def test_mask_images_hand_computed_uint8_and_grey():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (5, SIDE, SIDE), dtype=np.uint8)
    x[x == 128] = 127  # sigmoid(0) = 0.5 sits on the threshold
    out = mask_images(_threshold_segmenter(), x, scale=0.2, threshold=0.5, batch_size=2)
    assert out.dtype == np.uint8 and out.shape == x.shape
    f = x.astype(np.float64)
    np.testing.assert_array_equal(out, np.rint(np.where(f > 128, f, 0.2 * f)).astype(np.uint8))


def test_mask_images_float_rgb():
    x = _images(3, n=4)
    out = mask_images(_threshold_segmenter(3), x, scale=0.2, batch_size=3)
    assert out.dtype == np.float32 and out.shape == x.shape
    heart = (x[..., :1] > 128)
    np.testing.assert_allclose(out, np.where(heart, x, 0.2 * x), rtol=1e-6)


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"batch_size": 0}, ValueError,
     r"Expected `batch_size` as an int >= 1. Received: batch_size=0"),
    ({"images": np.zeros((2, 16, 16, 1))}, ValueError,
     r"Expected `images` of shape \(N, 32, 32, 1\)"),
    ({"images": np.zeros((2, SIDE, SIDE, 3))}, ValueError,
     r"Received: images.shape=\(2, 32, 32, 3\)"),
    ({"images": np.zeros((SIDE, SIDE))}, ValueError, r"numeric \(N, H, W\) or \(N, H, W, C\)"),
    ({"scale": 2.0}, ValueError, r"Received: scale=2.0"),
    ({"segmenter": "unet.h5"}, TypeError, r"Expected `segmenter` to be a functional keras.Model"),
])
def test_mask_images_illegal_arguments(kwargs, exc, message):
    args = {"segmenter": _threshold_segmenter(), "images": np.zeros((2, SIDE, SIDE, 1)), **kwargs}
    with pytest.raises(exc, match=message):
        mask_images(**args)


# ------------------------------------------------------------------------ VGG+Mask chain


@pytest.fixture(scope="module")
def pair():
    return _segmenter(), _vgg(num_classes=3)


@pytest.mark.parametrize("threshold", [0.5, None])
def test_chain_equals_mask_images_then_classifier(pair, threshold):
    segmenter, classifier = pair
    chained = chain_mask_classifier(segmenter, classifier, scale=0.2, threshold=threshold)
    x = _images(n=4, seed=3)
    masks = segmenter.predict(x, verbose=0)
    assert 0.05 < masks.mean() < 0.95 and masks.std() > 0.01  # the masks are not trivial
    expected = classifier.predict(mask_images(segmenter, x, scale=0.2, threshold=threshold),
                                  verbose=0)
    np.testing.assert_allclose(chained.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    # the classifier alone on unmasked images differs: the mask does something
    assert np.abs(classifier.predict(x, verbose=0) - expected).max() > 1e-6


def test_chain_is_flat_and_keeps_weights(pair):
    segmenter, classifier = pair
    chained = chain_mask_classifier(segmenter, classifier)
    names = [layer.name for layer in chained.layers]
    assert not any(isinstance(layer, keras.Model) for layer in chained.layers)
    assert set(VGG16_CONV_LAYERS) <= set(names)
    assert {"segmenter_enc_conv", "segmenter_enc_bn", "segmenter_predictions"} <= set(names)
    assert names[-1] == "predictions" and chained.input.name == "image"
    # the mask is applied to [0, 255] images, before the classifier's preprocessing
    assert names.index("mask_background") < names.index("grey_to_rgb") < names.index("preprocess")
    for source, prefix in ((segmenter, "segmenter_"), (classifier, "")):
        for layer in source.layers[1:]:  # not the InputLayer
            copy = chained.get_layer(prefix + layer.name)
            for a, b in zip(layer.get_weights(), copy.get_weights()):
                np.testing.assert_array_equal(a, b)
    # segmenter frozen, the classifier's own trainable pattern kept, the inputs untouched
    assert _weighted(chained) == _weighted(classifier)
    assert chained.get_layer("segmenter_enc_conv").trainable is False
    assert segmenter.get_layer("enc_conv").trainable is True
    unfrozen = chain_mask_classifier(segmenter, classifier, freeze_segmenter=False)
    assert {"segmenter_enc_conv", "segmenter_enc_bn"} <= _weighted(unfrozen)


def test_chain_gradcam_target_is_classifier_block5(pair):
    from heartcv.explain._common import default_target_layer

    chained = chain_mask_classifier(*pair)
    assert default_target_layer(chained) == "block5_conv3"


def test_chain_save_load_round_trip(pair, tmp_path):
    chained = chain_mask_classifier(*pair, threshold=None)
    x = _images(n=2, seed=5)
    ref = chained.predict(x, verbose=0)
    for ext in (".h5", ".keras"):
        path = heartcv.save_model(chained, tmp_path / f"vgg_mask{ext}")
        loaded = keras.models.load_model(path)  # no custom_objects
        np.testing.assert_allclose(loaded.predict(x, verbose=0), ref, rtol=1e-6, atol=1e-7)
        assert [layer.name for layer in loaded.layers] == [layer.name for layer in chained.layers]
        assert loaded.get_layer("mask_background").scale == 0.2
        assert _weighted(loaded) == _weighted(chained)


def test_chain_of_normalised_unet_and_classifier(tmp_path):
    """Both models normalise: the segmenter's ``normalize`` is copied as
    ``segmenter_normalize``, the classifier keeps its own after ``mask_background``."""
    segmenter = heartcv.build_model("unet", input_shape=(SIDE, SIDE, 1), base_filters=2,
                                    depth=2, dropout=0.0)
    classifier = _vgg(num_classes=3)
    chained = chain_mask_classifier(segmenter, classifier, threshold=None)
    names = [layer.name for layer in chained.layers]
    assert names.index("segmenter_normalize") < names.index("segmenter_predictions") \
        < names.index("mask_background") < names.index("normalize") < names.index("grey_to_rgb")
    x = _images(n=2, seed=6)
    ref = chained.predict(x, verbose=0)
    expected = classifier.predict(mask_images(segmenter, x, threshold=None), verbose=0)
    np.testing.assert_allclose(ref, expected, rtol=1e-5, atol=1e-6)
    path = heartcv.save_model(chained, tmp_path / "vgg_mask.h5")
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-6)
    assert loaded.get_layer("segmenter_normalize").method == "percentile"


@pytest.mark.parametrize("make, exc, message", [
    (lambda s, c: ("seg", c), TypeError, r"Expected `segmenter` to be a functional keras.Model"),
    (lambda s, c: (s, _vgg(input_shape=(SIDE, SIDE, 3))), ValueError,
     r"same input_shape. Received: segmenter input \(32, 32, 1\), classifier input \(32, 32, 3\)"),
    (lambda s, c: (_segmenter(channels=3, out_channels=2), _vgg(input_shape=(SIDE, SIDE, 3))),
     ValueError, r"1 channel or as many as the images"),
])
def test_chain_illegal_arguments(pair, make, exc, message):
    segmenter, classifier = make(*pair)
    with pytest.raises(exc, match=message):
        chain_mask_classifier(segmenter, classifier)


def test_chain_bad_scale(pair):
    with pytest.raises(ValueError, match=r"Received: scale=-1"):
        chain_mask_classifier(*pair, scale=-1)


@pytest.mark.slow
def test_vgg16_view_learns_frontal_vs_lateral():
    """From scratch on synthetic radiographs, split by patient: clearly above chance."""
    from heartcv.data.synthetic import generate_chest_xrays

    data = generate_chest_xrays(n_patients=80, images_per_patient=2, size=SIDE, task="view", seed=0)
    x, y = data["images"].astype("float32"), data["labels"]
    test = np.isin(data["patient_id"], np.unique(data["patient_id"])[-20:])
    keras.utils.set_random_seed(0)
    model = heartcv.build_model("vgg16_view", input_shape=(SIDE, SIDE, 1), backbone_weights=None,
                                trainable_layers=13, pooling="avg", hidden_units=(32,), dropout=0.0)
    model.compile(keras.optimizers.Adam(1e-4), "categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[~test], y[~test], epochs=4, batch_size=16, verbose=0)
    _, accuracy = model.evaluate(x[test], y[test], verbose=0)
    assert accuracy > 0.85

"""Acquisition-shift augmentation layers: arguments, identity at inference, what each does to
the image statistics, seeds, configs, saving, tf.data, and their build_augmenter keys."""

import math

import cv2
import keras
import numpy as np
import pytest

import heartcv  # noqa: F401  (registers the package's layers)
from heartcv.config import AugmentConfig, load_config
from heartcv.data.augment import AUGMENT_KEYS, augmenter_from_config, build_augmenter
from heartcv.layers import (
    RandomContrastRange,
    RandomExposure,
    RandomGamma,
    RandomGaussianBlur,
    RandomGaussianNoise,
    RandomResolutionLoss,
)

LAYERS = [
    RandomGamma,
    RandomContrastRange,
    RandomExposure,
    RandomGaussianNoise,
    RandomGaussianBlur,
    RandomResolutionLoss,
]
RANGE_ARG = {
    RandomGamma: "gamma_range",
    RandomContrastRange: "factor_range",
    RandomExposure: "factor_range",
    RandomGaussianNoise: "stddev_range",
    RandomGaussianBlur: "sigma_range",
    RandomResolutionLoss: "factor_range",
}


def images(n=4, size=48, seed=0):
    """Smooth, textured float32 images in [30, 230]: room on both sides before clipping."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 1), np.float32)
    for i in range(n):
        img = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 2)
        img = (img - img.min()) / (img.max() - img.min())
        out[i, ..., 0] = 30 + 200 * img
    return out


def run(layer, x, training=True):
    return keras.ops.convert_to_numpy(layer(x, training=training))


def drawn(layer, x, key):
    t = layer.get_random_transformation(x, training=True)
    return keras.ops.convert_to_numpy(t[key]).reshape(-1)


# ------------------------------------------------------------------------------- arguments

ILL_CASES = [
    (RandomGamma, dict(gamma_range=(0.0, 2.0)), ValueError, r"`gamma_range` values > 0.0"),
    (RandomGamma, dict(gamma_range=(2.0, 0.5)), ValueError, r"lower <= upper"),
    (RandomGamma, dict(gamma_range=1.5), ValueError, r"a \(lower, upper\) pair"),
    (RandomContrastRange, dict(factor_range=(-0.1, 1.0)), ValueError, r"values >= 0.0"),
    (RandomExposure, dict(factor_range=(0.5, "1")), ValueError, r"pair of numbers"),
    (RandomExposure, dict(factor_range=(0.5, math.inf)), ValueError, r"pair of numbers"),
    (RandomGaussianNoise, dict(stddev_range=(-1.0, 5.0)), ValueError, r"`stddev_range` values"),
    (RandomGaussianBlur, dict(sigma_range=(0.0, 1.0, 2.0)), ValueError, r"Received: sigma_range"),
    (RandomResolutionLoss, dict(factor_range=(0.5, 2.0)), ValueError, r"values >= 1.0"),
    (RandomGamma, dict(value_range=(255, 0)), ValueError, r"min < max. Received: value_range"),
    (RandomExposure, dict(seed=1.5), TypeError, r"Expected `seed` to be an int or None"),
]


@pytest.mark.parametrize("cls, kwargs, error, match", ILL_CASES)
def test_bad_arguments(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


def test_defaults_cover_the_failures_they_target():
    assert 0.45 >= RandomExposure().factor_range[0]  # the film dimmed to 45 %
    assert RandomGaussianNoise().stddev_range[1] >= 12.0  # noise sigma 12 grey levels
    assert RandomGamma().gamma_range == [0.5, 2.0]
    assert RandomResolutionLoss().factor_range == [1.0, 4.0]
    assert RandomGaussianBlur().radius == 6  # ceil(3 * 2.0)


# ------------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize("cls", LAYERS)
def test_identity_at_inference_and_masks_untouched(cls):
    x = images()
    layer = cls(seed=0)
    np.testing.assert_array_equal(run(layer, x, training=False), x)
    assert layer.get_random_transformation(x, training=False) is None
    masks = (x > 120).astype(np.float32)
    out = layer({"images": x, "segmentation_masks": masks}, training=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out["segmentation_masks"]), masks)
    moved = keras.ops.convert_to_numpy(out["images"])
    assert np.abs(moved - x).mean() > 0.5  # the image did change
    assert moved.min() >= 0.0 and moved.max() <= 255.0
    # In a model, predict runs with training=False: the identity.
    model = keras.Sequential([keras.Input((None, None, 1)), cls(seed=0)])
    np.testing.assert_allclose(model.predict(x, verbose=0), x)


@pytest.mark.parametrize("cls", LAYERS)
def test_same_seed_same_output(cls):
    x = images()
    a, b, c = run(cls(seed=7), x), run(cls(seed=7), x), run(cls(seed=8), x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# The statistic each layer moves, per image (the mean stays for contrast, blur, resolution).
STATISTIC = {
    RandomGamma: lambda out, x: out.mean(),
    RandomExposure: lambda out, x: out.mean(),
    RandomContrastRange: lambda out, x: out.std(),
    RandomGaussianNoise: lambda out, x: (out - x).std(),
    RandomGaussianBlur: lambda out, x: np.abs(out - x).mean(),
    RandomResolutionLoss: lambda out, x: np.abs(out - x).mean(),
}


@pytest.mark.parametrize("cls", LAYERS)
def test_one_parameter_per_image(cls):
    x = np.repeat(images(1), 6, axis=0)  # six copies of one image
    out = run(cls(seed=1), x)
    stats = [STATISTIC[cls](o, i) for o, i in zip(out, x)]
    assert np.unique(np.round(stats, 3)).size == 6


@pytest.mark.parametrize("cls", LAYERS)
def test_unbatched_image(cls):
    x = images(1)[0]
    out = run(cls(seed=0), x)
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.abs(out - x).mean() > 0.1


def test_gamma_power_law_and_log_uniform_draws():
    x = images()
    np.testing.assert_allclose(run(RandomGamma((2.0, 2.0)), x), 255 * (x / 255) ** 2, rtol=1e-5)
    assert (run(RandomGamma((0.5, 0.5)), x) > x).all()  # brightens mid-tones
    g = drawn(RandomGamma(seed=0), np.zeros((2000, 2, 2, 1), np.float32), "gamma")
    assert g.min() >= 0.5 - 1e-6 and g.max() <= 2.0 + 1e-6
    assert abs(np.log(g).mean()) < 0.05  # log-uniform: gamma and 1 / gamma alike
    assert 0.45 < (g < 1).mean() < 0.55


def test_contrast_scales_the_spread_about_the_image_mean():
    x = images()
    out = run(RandomContrastRange((0.5, 0.5)), x)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 0.5 * x.std(axis=(1, 2, 3)), rtol=1e-4)
    f = drawn(RandomContrastRange(seed=0), x, "factor")
    assert ((0.5 <= f) & (f <= 1.5)).all()
    assert run(RandomContrastRange((3.0, 3.0)), x).max() == 255.0  # clipped


def test_exposure_dims_to_45_percent():
    x = images()
    out = run(RandomExposure((0.45, 0.45)), x)
    np.testing.assert_allclose(out.max(axis=(1, 2, 3)), 0.45 * x.max(axis=(1, 2, 3)), rtol=1e-5)
    f = drawn(RandomExposure(seed=0), np.zeros((500, 2, 2, 1), np.float32), "factor")
    assert f.min() >= 0.4 and f.max() <= 1.2 and (f < 0.5).any()
    assert run(RandomExposure((2.0, 2.0)), x).max() == 255.0  # clipped


def test_noise_level_in_grey_levels():
    x = np.full((4, 64, 64, 1), 128.0, np.float32)
    out = run(RandomGaussianNoise((12.0, 12.0), seed=0), x)
    np.testing.assert_allclose((out - x).std(axis=(1, 2, 3)), 12.0, rtol=0.05)
    assert abs((out - x).mean()) < 0.5
    np.testing.assert_array_equal(run(RandomGaussianNoise((0.0, 0.0)), x), x)
    s = drawn(RandomGaussianNoise(seed=0), x, "stddev")
    assert ((0 <= s) & (s <= 15)).all()


def test_blur_matches_opencv_for_a_fixed_sigma():
    x = images()
    layer = RandomGaussianBlur((1.5, 1.5))
    k = 2 * layer.radius + 1
    ref = np.stack([cv2.GaussianBlur(img[..., 0], (k, k), 1.5, borderType=cv2.BORDER_REFLECT_101)
                    for img in x])[..., None]
    np.testing.assert_allclose(run(layer, x), ref, atol=1e-3)
    np.testing.assert_allclose(run(RandomGaussianBlur((0.0, 0.0)), x), x)
    # Per-image sigma: a wider blur removes more high-frequency energy.
    lap = [np.abs(cv2.Laplacian(run(RandomGaussianBlur((s, s)), x[:1])[0, ..., 0], cv2.CV_32F))
           .mean() for s in (0.5, 1.0, 2.0)]
    assert lap[0] > lap[1] > lap[2]


@pytest.mark.parametrize("factor, size", [(4.0, (48, 48)), (2.5, (60, 50)), (1.7, (47, 33))])
def test_resolution_loss_matches_opencv_round_trip(factor, size):
    h, w = size
    x = images(2, max(size))[:, :h, :w]
    small = (max(1, round(w / factor)), max(1, round(h / factor)))
    ref = np.stack([
        cv2.resize(cv2.resize(img[..., 0], small, interpolation=cv2.INTER_AREA), (w, h),
                   interpolation=cv2.INTER_LINEAR) for img in x])[..., None]
    np.testing.assert_allclose(run(RandomResolutionLoss((factor, factor)), x), ref, atol=1e-3)
    np.testing.assert_allclose(run(RandomResolutionLoss((1.0, 1.0)), x), x, atol=1e-4)


# ------------------------------------------------------------------------- configs, saving


@pytest.mark.parametrize("cls", LAYERS)
def test_config_round_trip(cls):
    arg = RANGE_ARG[cls]
    value = [1.0, 3.0] if cls is not RandomGaussianNoise else [2.0, 9.0]
    layer = cls(**{arg: value}, value_range=(0.0, 1.0), seed=5, name="shift")
    config = layer.get_config()
    assert config[arg] == value and config["value_range"] == [0.0, 1.0]
    assert config["seed"] == 5
    clone = cls.from_config(config)
    assert clone.get_config() == config
    x = images() / 255.0
    np.testing.assert_array_equal(run(clone, x), run(cls.from_config(config), x))


@pytest.mark.parametrize("fmt", ["h5", "keras"])
def test_saved_in_a_model_and_reloaded(tmp_path, fmt):
    model = keras.Sequential(
        [keras.Input((32, 32, 1))] + [cls(seed=i) for i, cls in enumerate(LAYERS)]
    )
    path = tmp_path / f"model.{fmt}"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert [type(lay) for lay in reloaded.layers] == LAYERS
    for lay, ref in zip(reloaded.layers, model.layers):
        assert lay.get_config() == ref.get_config()
    x = images(2, 32)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), x)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a tf.data test")
def test_inside_tf_data_with_an_unknown_batch_size():
    import tensorflow as tf

    augmenter = build_augmenter(gamma_range=[0.5, 2.0], contrast_range=[0.7, 1.3],
                                exposure_range=[0.4, 1.2], noise_std_range=[0.0, 15.0],
                                blur_sigma_range=[0.0, 2.0], resolution_range=[1.0, 4.0], seed=0)
    x = images(5, 32)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(2).map(
        lambda b: augmenter(b, training=True))
    out = np.concatenate([b.numpy() for b in ds])
    assert out.shape == x.shape
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 255
    assert np.abs(out - x).mean() > 1.0


# ------------------------------------------------------------------------- build_augmenter

SHIFT_KEYS = {
    "exposure_range": (RandomExposure, [0.4, 1.2]),
    "gamma_range": (RandomGamma, [0.5, 2.0]),
    "contrast_range": (RandomContrastRange, [0.5, 1.5]),
    "blur_sigma_range": (RandomGaussianBlur, [0.0, 2.0]),
    "resolution_range": (RandomResolutionLoss, [1.0, 4.0]),
    "noise_std_range": (RandomGaussianNoise, [0.0, 15.0]),
}


def test_build_augmenter_appends_image_only_layers_in_order():
    kwargs = {key: value for key, (_, value) in SHIFT_KEYS.items()}
    aug = build_augmenter(rotation_range=5.0, **kwargs, seed=10)
    assert [type(lay) for lay in aug.layers][1:] == [cls for cls, _ in SHIFT_KEYS.values()]
    assert [lay.name for lay in aug.layers][1:] == [
        "augment_exposure", "augment_gamma", "augment_contrast", "augment_blur",
        "augment_resolution", "augment_noise"]
    assert [lay.seed for lay in aug.layers] == list(range(10, 17))
    assert aug.layers[2].gamma_range == [0.5, 2.0]
    x = images()
    masks = (x > 120).astype(np.float32)
    only_shifts = build_augmenter(**kwargs, seed=0)
    out = only_shifts({"images": x, "segmentation_masks": masks}, training=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out["segmentation_masks"]), masks)
    assert np.abs(keras.ops.convert_to_numpy(out["images"]) - x).mean() > 1.0


@pytest.mark.parametrize("key", list(SHIFT_KEYS))
def test_each_key_alone_and_identity_ranges_are_off(key):
    cls, value = SHIFT_KEYS[key]
    aug = build_augmenter(**{key: value})
    assert [type(lay) for lay in aug.layers] == [cls]
    identity = [0.0, 0.0] if key in ("blur_sigma_range", "noise_std_range") else [1.0, 1.0]
    assert build_augmenter(**{key: identity}) is None
    assert build_augmenter(**{key: None}) is None


AUG_ILL_CASES = [
    (dict(gamma_range=[0.0, 2.0]), r"`gamma_range` values > 0.0"),
    (dict(contrast_range=[1.5, 0.5]), r"Expected `contrast_range` with lower <= upper"),
    (dict(exposure_range=0.45), r"Expected `exposure_range` to be a \(lower, upper\) pair"),
    (dict(noise_std_range=[-2, 5]), r"`noise_std_range` values >= 0.0"),
    (dict(blur_sigma_range=[0, "2"]), r"Received: blur_sigma_range"),
    (dict(resolution_range=[0.5, 2]), r"`resolution_range` values >= 1.0"),
]


@pytest.mark.parametrize("kwargs, match", AUG_ILL_CASES)
def test_build_augmenter_names_the_bad_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_augmenter(**kwargs)


def test_config_keys_reach_the_augmenter():
    assert set(SHIFT_KEYS) <= set(AUGMENT_KEYS)
    cfg = load_config(None, ["data.augment.enabled=true", "data.augment.gamma_range=[0.5, 2.0]",
                             "data.augment.exposure_range=[0.4, 1.2]"])
    assert cfg.data.augment.gamma_range == (0.5, 2.0)
    assert cfg.data.augment.noise_std_range is None
    aug = augmenter_from_config(cfg.data.augment, seed=3)
    assert [type(lay) for lay in aug.layers] == [RandomExposure, RandomGamma]
    assert augmenter_from_config(AugmentConfig()) is None  # the defaults stay off
    aug = augmenter_from_config({"noise_std_range": [12.0, 12.0]})
    assert [type(lay) for lay in aug.layers] == [RandomGaussianNoise]


@pytest.mark.parametrize("cls", LAYERS)
def test_replicated_grey_stays_grey(cls):
    x = np.repeat(images(2), 3, axis=-1)
    out = run(cls(seed=2), x)
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-4)
    np.testing.assert_allclose(out[..., 0], out[..., 2], atol=1e-4)

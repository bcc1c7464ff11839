"""IntensityNormalization: percentile / histeq / CLAHE against NumPy and OpenCV, invariance to
dimming, unknown spatial size, saving and reloading, the JAX backend."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import cv2
import keras
import numpy as np
import pytest

import heartcv  # noqa: F401  (registers the package's layers)
from heartcv.data.synthetic import generate_chest_xrays
from heartcv.layers import ImagePreprocessing, IntensityNormalization
from heartcv.layers.intensity_normalization import METHODS


@pytest.fixture(scope="module")
def films():
    """Four synthetic chest films, uint8 (4, 128, 128, 1)."""
    return generate_chest_xrays(n_patients=2, images_per_patient=2, size=128, seed=0)["images"]


def smooth(h, w, seed=0):
    """A smooth uint8 grey image with structure at several scales."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (h, w)).astype(np.float32), (0, 0), 5)
    img = (img - img.min()) / (img.max() - img.min()) * 170 + 40
    img += 30 * np.sin(np.arange(w) / 13.0)[None, :]
    return np.clip(img, 0, 255).astype(np.uint8)


def norm(x, **kwargs):
    return keras.ops.convert_to_numpy(IntensityNormalization(**kwargs)(x))


ILL_CASES = [
    (dict(method="clahee"), ValueError, r"Did you mean 'clahe'\? Received: method='clahee'"),
    (dict(method="zscore"), ValueError, r"Expected `method` in"),
    (dict(lower=-1.0), ValueError, r"0 <= lower < upper <= 100. Received: lower=-1.0"),
    (dict(upper=100.5), ValueError, r"Received: lower=1.0, upper=100.5"),
    (dict(lower=50, upper=50), ValueError, r"lower < upper"),
    (dict(lower="1"), TypeError, r"Expected `lower` to be a number"),
    (dict(upper=True), TypeError, r"Expected `upper` to be a number"),
    (dict(clip_limit=0.0), ValueError, r"Expected `clip_limit` > 0. Received: clip_limit=0.0"),
    (dict(tile_grid=0), ValueError, r"Expected `tile_grid` to be an int >= 1"),
    (dict(tile_grid=2.5), ValueError, r"Received: tile_grid=2.5"),
]


@pytest.mark.parametrize("kwargs, error, match", ILL_CASES)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        IntensityNormalization(**kwargs)


def test_rank_must_be_four():
    with pytest.raises(ValueError, match=r"Expected images of shape \(N, H, W, C\)"):
        IntensityNormalization()(np.zeros((8, 8, 1), np.float32))


def test_percentile_matches_numpy(films):
    out = norm(films, method="percentile", lower=2.0, upper=98.0)
    lo, hi = np.percentile(films.astype(np.float64), [2, 98], axis=(1, 2, 3), keepdims=True)
    ref = np.clip((films - lo) / (hi - lo) * 255.0, 0, 255)
    assert out.dtype == np.float32 and out.shape == films.shape
    np.testing.assert_allclose(out, ref, atol=1e-3)
    assert out.min() == 0.0 and out.max() == 255.0


def test_percentile_is_invariant_to_dimming_and_offset(films):
    ref = norm(films)
    # Exact for a float scaling and offset ...
    np.testing.assert_allclose(norm(films.astype(np.float32) * 0.45 + 20.0), ref, atol=1e-2)
    # ... and within a couple of grey levels once the dimmed film is stored as uint8.
    for shifted in (np.rint(films * 0.45), np.rint(films * 0.6 + 50)):
        diff = np.abs(norm(shifted.astype(np.uint8)) - ref)
        assert diff.mean() < 1.5
        assert np.percentile(diff, 99) < 4.0
        assert diff.max() < 6.0
    # Without normalisation the dimmed film is ~90 grey levels away (the phantom's mean
    # brightness times 0.55): 15x the largest difference allowed above.
    assert np.abs(films - np.rint(films * 0.45)).mean() > 80


def test_histeq_equals_opencv(films):
    images = np.concatenate([films, np.stack([smooth(128, 128, s) for s in (1, 2)])[..., None]])
    out = norm(images, method="histeq")
    ref = np.stack([cv2.equalizeHist(img[..., 0]) for img in images])[..., None]
    np.testing.assert_array_equal(out, ref.astype(np.float32))


def test_histeq_is_invariant_to_offset_and_nearly_to_dimming(films):
    x = films.astype(np.float32) * 0.8  # room for an offset without clipping
    ref = norm(x, method="histeq")
    np.testing.assert_array_equal(norm(x + 40.0, method="histeq"), ref)  # exact
    diff = np.abs(norm(np.rint(films * 0.45).astype(np.uint8), method="histeq") - norm(
        films, method="histeq"))
    # Dimming merges neighbouring grey levels; only the merged levels move.
    assert diff.mean() < 3.0
    assert np.median(diff) <= 2.0


@pytest.mark.parametrize(
    "size, clip_limit, tiles",
    [((128, 128), 2.0, 8), ((100, 120), 2.0, 8), ((96, 80), 4.0, 4), ((64, 64), 1.0, 2)],
)
def test_clahe_close_to_opencv(size, clip_limit, tiles):
    images = np.stack([smooth(*size, seed=s) for s in range(2)])
    out = norm(images[..., None], method="clahe", clip_limit=clip_limit, tile_grid=tiles)[..., 0]
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles))
    ref = np.stack([clahe.apply(img) for img in images]).astype(np.float32)
    assert np.corrcoef(out.ravel(), ref.ravel())[0, 1] >= 0.95
    # In fact the same up to OpenCV's final rounding to integers.
    assert np.abs(out - ref).max() <= 0.5 + 1e-3
    assert np.abs(out - images).mean() > 5  # and it did change the image


@pytest.mark.parametrize("method", METHODS)
def test_constant_images_stay_finite(method):
    x = np.stack([np.full((32, 32, 1), v, np.uint8) for v in (0, 77, 255)])
    out = norm(x, method=method)
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 255
    if method == "percentile":
        np.testing.assert_array_equal(out, 0.0)
    if method in ("histeq", "none"):  # a constant channel keeps its value, as in OpenCV
        np.testing.assert_array_equal(out, x.astype(np.float32))


def test_percentile_falls_back_to_min_max_when_percentiles_coincide():
    x = np.zeros((1, 20, 20, 1), np.float32)
    x[0, :2, :2] = 100.0  # 1 % of the pixels: the 1st and 99th percentiles are both 0
    out = norm(x)
    assert out.max() == 255.0 and out.min() == 0.0


@pytest.mark.parametrize("method", ["percentile", "histeq", "clahe"])
def test_replicated_grey_gives_the_grey_result(films, method):
    grey = norm(films, method=method)
    rgb = norm(np.repeat(films, 3, axis=-1), method=method)
    # Percentiles pool the channels: 3 n samples interpolate at slightly other ranks than n.
    atol = 1.0 if method == "percentile" else 1e-3
    for c in range(3):
        np.testing.assert_allclose(rgb[..., c : c + 1], grey, atol=atol)


def test_unknown_spatial_size_and_uint8_input():
    inputs = keras.Input((None, None, 1), dtype="uint8")
    model = keras.Model(inputs, IntensityNormalization("clahe")(inputs))
    for h, w in ((64, 64), (72, 100)):
        x = smooth(h, w)[None, :, :, None]
        out = model.predict(x, verbose=0)
        assert out.shape == (1, h, w, 1)
        np.testing.assert_allclose(out, norm(x, method="clahe"), atol=1e-3)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a TensorFlow graph test")
@pytest.mark.parametrize("method", METHODS)
def test_fully_dynamic_shapes_in_a_tf_graph(method):
    import tensorflow as tf

    layer = IntensityNormalization(method)
    graph_fn = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, 1))])
    for h, w in ((40, 48), (33, 50)):
        x = np.stack([smooth(h, w, s) for s in range(2)])[..., None].astype(np.float32)
        np.testing.assert_allclose(graph_fn(x).numpy(), norm(x, method=method), atol=1e-3)


@pytest.mark.parametrize("method", METHODS)
def test_config_round_trip(method):
    layer = IntensityNormalization(method, lower=2.5, upper=97.0, clip_limit=3.0, tile_grid=4)
    config = layer.get_config()
    clone = IntensityNormalization.from_config(config)
    assert clone.get_config() == config
    assert (config["method"], config["lower"], config["upper"]) == (method, 2.5, 97.0)
    assert (config["clip_limit"], config["tile_grid"]) == (3.0, 4)


@pytest.mark.parametrize("fmt", ["h5", "keras"])
def test_save_and_reload_without_custom_objects(tmp_path, films, fmt):
    inputs = keras.Input((None, None, 1))
    x = IntensityNormalization("percentile", name="norm_percentile")(inputs)
    x = IntensityNormalization("clahe", tile_grid=4, name="norm_clahe")(x)
    outputs = ImagePreprocessing("unit", name="predictions")(x)
    model = keras.Model(inputs, outputs)
    path = tmp_path / f"model.{fmt}"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        reloaded.predict(films, verbose=0), model.predict(films, verbose=0), atol=1e-6
    )
    assert reloaded.get_layer("norm_clahe").tile_grid == 4


JAX_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import keras
    assert keras.backend.backend() == "jax"
    from heartcv.layers.intensity_normalization import IntensityNormalization
    x = np.load("{path}")
    for m in ("percentile", "histeq", "clahe", "none"):
        np.save("{out}_" + m + ".npy", keras.ops.convert_to_numpy(IntensityNormalization(m)(x)))
    """
)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_backend_gives_the_same_outputs(tmp_path, films):
    path = tmp_path / "x.npy"
    np.save(path, films)
    script = JAX_SCRIPT.format(path=path, out=tmp_path / "out")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=300)
    for m in METHODS:
        np.testing.assert_allclose(np.load(tmp_path / f"out_{m}.npy"), norm(films, method=m),
                                   atol=1e-3)


def test_percentile_histeq_removes_the_grey_level_shape(films):
    """A darker film curve (gamma 2 after dimming) moves the percentile stretch by tens of grey
    levels; the stretch followed by equalisation barely moves."""
    x = films.astype(np.float32)
    dark = np.rint(255.0 * ((x * 0.6) / 255.0) ** 2.0)
    moved_pct = np.abs(norm(dark, method="percentile") - norm(x, method="percentile")).mean()
    moved_eq = np.abs(norm(dark, method="percentile_histeq")
                      - norm(x, method="percentile_histeq")).mean()
    assert moved_pct > 10.0
    assert moved_eq < 0.35 * moved_pct
    # and the linear invariance of the stretch stays (up to the 256-bin quantisation)
    dimmed = np.abs(norm(np.rint(x * 0.45), method="percentile_histeq")
                    - norm(x, method="percentile_histeq")).mean()
    assert dimmed < 4.0

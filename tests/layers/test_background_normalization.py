"""heartcv.layers.BackgroundNormalization: background level out, trace ink to 1, per crop."""

import numpy as np
import pytest

import keras

import heartcv  # noqa: F401  (registers the layer)
from heartcv.layers import BackgroundNormalization


def _crops(n=3, side=28, c=4, seed=0, background=45):
    """Grey background with faint grid lines and a bright random-walk trace, uint8."""
    rng = np.random.default_rng(seed)
    x = np.full((n, side, side, c), background, np.float64)
    x[:, ::7] += 12  # grid lines, between background and trace
    x[:, :, ::7] += 12
    for i in range(n):
        for k in range(c):
            row = np.clip(side // 2 + np.cumsum(rng.integers(-2, 3, side)), 1, side - 2)
            x[i, row, np.arange(side), k] = 200 + rng.integers(0, 25)
            x[i, row + 1, np.arange(side), k] = 180
    x += rng.normal(0, 1.5, x.shape)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _norm(x, **kwargs):
    return np.asarray(BackgroundNormalization(**kwargs)(x.astype("float32")))


def _median(x):
    s = np.sort(x.reshape(len(x), -1, x.shape[-1]), axis=1)
    return s[:, int(round(0.5 * (s.shape[1] - 1)))][:, None, None, :].astype(np.float64)


def test_background_to_zero_ink_to_one():
    x = _crops()
    y = _norm(x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    background = np.abs(x.astype(float) - _median(x)) < 5
    assert np.all(y[background] == 0)  # the paper and its noise
    assert np.all(y[(x >= 12 + 45 - 3) & (x <= 12 + 45 + 3)] == 0)  # grid lines: below the floor
    assert np.all(y[x >= 195] > 0.5)  # the trace
    assert np.isclose(y.reshape(len(x), -1, x.shape[-1]).max(1), 1).all()


@pytest.mark.parametrize("change", ["affine", "black", "brighter"])
def test_changed_background_level_gives_the_same_input(change):
    """The shortcut of the Khan crops: the same trace on another background level."""
    x = _crops(seed=1)
    xf = x.astype(np.float64)
    if change == "affine":  # contrast and background both changed
        other = 20 + 0.7 * xf
    elif change == "black":  # grey background -> black, as in the MI ECGs outside the copy
        b = _median(x)
        other = np.maximum(xf - b, 0) * 255 / (255 - b)
    else:
        other = xf + 25  # no pixel saturates (the trace stays <= 230)
    other = np.clip(np.round(other), 0, 255).astype(np.uint8)
    assert np.abs(other.astype(float) - xf).mean() > 5  # the inputs do differ
    np.testing.assert_allclose(_norm(other), _norm(x), atol=0.02)
    # x / 255 (the paper's scaling) keeps the difference a model can learn
    assert np.abs(other / 255.0 - x / 255.0).mean() > 0.02


def test_constant_and_blank_crops():
    x = np.zeros((2, 8, 8, 3), np.float32)
    x[1] = 77
    y = _norm(x)
    assert np.all(y == 0) and np.isfinite(y).all()


def test_floor_zero_keeps_faint_levels():
    x = _crops(seed=2)
    grid = (x >= 12 + 45 - 3) & (x <= 12 + 45 + 3)
    assert np.all(_norm(x, floor=0.0)[grid] > 0)
    assert np.all(_norm(x, floor=0.2)[grid] == 0)


def test_unknown_height_and_width():
    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, BackgroundNormalization()(inputs))
    x = _crops(n=2, side=20, c=2, seed=3).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), _norm(x), atol=1e-6)


@pytest.mark.parametrize("ext", [".h5", ".keras"])
def test_round_trip(tmp_path, ext):
    inputs = keras.Input((28, 28, 4))
    x = BackgroundNormalization(background_quantile=0.4, ink_quantile=0.98, floor=0.1,
                                min_range=2.0, name="background_norm")(inputs)
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    data = _crops(n=2, seed=4).astype("float32")
    path = tmp_path / f"m{ext}"
    model.save(path)
    loaded = keras.models.load_model(path, compile=False)  # no custom_objects
    layer = loaded.get_layer("background_norm")
    assert isinstance(layer, BackgroundNormalization)
    assert (layer.background_quantile, layer.ink_quantile, layer.floor, layer.min_range) == (
        0.4, 0.98, 0.1, 2.0)
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"background_quantile": -0.1}, ValueError, "background_quantile"),
    ({"background_quantile": 1.0, "ink_quantile": 1.0}, ValueError, "background_quantile"),
    ({"background_quantile": 0.6, "ink_quantile": 0.5}, ValueError, "< `ink_quantile`"),
    ({"ink_quantile": 1.5}, ValueError, "ink_quantile"),
    ({"floor": 1.0}, ValueError, "floor"),
    ({"floor": "0.2"}, TypeError, "floor"),
    ({"min_range": 0}, ValueError, "min_range"),
    ({"ink_quantile": True}, TypeError, "ink_quantile"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        BackgroundNormalization(**kwargs)


def test_rank_checked():
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        BackgroundNormalization()(np.zeros((2, 8, 8), "float32"))

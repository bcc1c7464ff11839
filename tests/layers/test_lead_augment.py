"""Lead-crop augmentation against source cues: RandomLeadBackground, RandomLineThickness,
RandomLeadWarp and build_lead_augmenter."""

import keras
import numpy as np
import pytest

import heartcv  # noqa: F401  (registers the package's layers)
from heartcv.data.lead_augment import LEAD_DEFAULTS, build_lead_augmenter
from heartcv.layers import (BackgroundNormalization, RandomLeadBackground, RandomLeadWarp,
                            RandomLineThickness)


def volumes(n=4, size=28, grey=45, seed=0):
    """Lead volumes: a bright sine trace on a background of level ``grey``, 13 crops."""
    rng = np.random.default_rng(seed)
    x = np.full((n, size, size, 13), float(grey), np.float32)
    cols = np.arange(size)
    for i in range(n):
        for c in range(13):
            rows = (size / 2 + size / 4 * np.sin(cols / 3 + rng.uniform(0, 6))).astype(int)
            x[i, rows, cols, c] = 250.0
    return x


def run(layer, x, training=True):
    return keras.ops.convert_to_numpy(layer(x, training=training))


@pytest.mark.parametrize("layer", [RandomLeadBackground(seed=1), RandomLineThickness(seed=1),
                                   RandomLeadWarp(seed=1)])
def test_identity_at_inference_and_range_when_training(layer):
    x = volumes()
    np.testing.assert_array_equal(run(layer, x, training=False), x)
    y = run(layer, x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 255


def test_background_level_is_randomised_per_crop_and_trace_kept():
    x = np.concatenate([volumes(grey=45), volumes(grey=0)])
    y = run(RandomLeadBackground(level_range=(0, 60), texture_std_range=(0, 0), seed=3), x)
    med = np.median(y.reshape(len(y), -1, 13), axis=1)
    assert med.std() > 5 and med.min() >= 0 and med.max() <= 60
    # whatever the source background, the normalised trace is the same
    bn = BackgroundNormalization()
    np.testing.assert_allclose(run(bn, y[:4]), run(bn, x[:4]), atol=0.05)
    tex = run(RandomLeadBackground(level_range=(20, 20), texture_std_range=(5, 5), seed=3), x)
    assert 3 < np.std(tex[x < 100] - 20) < 7  # the texture lies on the background


def test_line_thickness_dilates_and_erodes():
    x = volumes(n=2)
    thick = run(RandomLineThickness(p_dilate=1.0, p_erode=0.0), x)
    thin = run(RandomLineThickness(p_dilate=0.0, p_erode=1.0), x)
    ink = lambda a: (a > 150).mean()  # noqa: E731
    assert ink(thick) > 2 * ink(x) and ink(thin) < ink(x)


def test_lead_warp_scales_amplitude():
    x = volumes(n=2, grey=0)
    flat = run(RandomLeadWarp(amplitude_range=(0.5, 0.5), shift=0.0), x)
    rows = lambda a: np.ptp(np.nonzero(a[0, ..., 0] > 30)[0])  # noqa: E731
    assert rows(flat) < 0.7 * rows(x)
    same = run(RandomLeadWarp(amplitude_range=(1.0, 1.0), shift=0.0), x)
    np.testing.assert_allclose(same, x, atol=1e-3)


@pytest.mark.parametrize("cls, kwargs, match", [
    (RandomLeadBackground, {"level_range": (-1, 10)}, r"level_range"),
    (RandomLeadBackground, {"texture_std_range": (5, 1)}, r"lower <= upper"),
    (RandomLineThickness, {"p_dilate": 0.8, "p_erode": 0.5}, r"p_dilate \+ p_erode <= 1"),
    (RandomLineThickness, {"p_erode": 2}, r"p_erode"),
    (RandomLeadWarp, {"amplitude_range": (0, 1)}, r"amplitude_range"),
    (RandomLeadWarp, {"shift": 0.7}, r"shift"),
])
def test_arguments_refused(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_builder_seeds_configs_and_saving(tmp_path):
    aug = build_lead_augmenter(**LEAD_DEFAULTS, seed=5)
    assert [type(layer).__name__ for layer in aug.layers] == [
        "RandomLeadBackground", "RandomLineThickness", "RandomLeadWarp"]
    assert len(build_lead_augmenter().layers) == 0
    x = volumes()
    np.testing.assert_array_equal(run(build_lead_augmenter(**LEAD_DEFAULTS, seed=5), x),
                                  run(aug, x))  # seeded
    for layer in aug.layers:
        again = type(layer).from_config(layer.get_config())
        assert again.get_config() == layer.get_config()
    inp = keras.Input((28, 28, 13))
    model = keras.Model(inp, keras.layers.Dense(3, name="predictions")(
        keras.layers.GlobalAveragePooling2D()(aug(inp))))
    path = tmp_path / "m.keras"
    model.save(path)
    back = keras.models.load_model(path)
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)

"""Augmentation: ImageDataGenerator semantics, conversions, masks, custom-layer saving."""

import json

import cv2
import keras
import numpy as np
import pytest

import heartcv  # noqa: F401  (registers the package's layers)
from heartcv.data.augment import (
    augmenter_from_config,
    build_augmenter,
    rotation_factor,
    translation_factor,
    zoom_bounds,
    zoom_factor,
)
from heartcv.layers.random_affine import RandomAffine
from heartcv.layers.random_brightness_factor import RandomBrightnessFactor

ENGINES = ("fused", "keras")


def smooth_images(n=4, size=32, seed=0):
    """Asymmetric, image-like float32 batch in [0, 255]."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 1), np.float32)
    for i in range(n):
        img = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 2)
        img[size // 5 : size // 3, size // 8 : size // 2] += 60  # an off-centre block
        out[i, ..., 0] = np.clip(img, 0, 255)
    return out


def arrow(size=41):
    """A bar from the centre towards +x: its centroid angle is the rotation angle."""
    img = np.zeros((size, size, 1), np.float32)
    c = size // 2
    img[c - 1 : c + 2, c + 3 : c + int(0.35 * size)] = 255.0
    return img


def centroid_angle(img):
    """Angle in degrees of the bright pixels' centroid about the centre, image y downwards."""
    ys, xs = np.nonzero(img[..., 0] > 127)
    c = (img.shape[0] - 1) / 2
    return np.degrees(np.arctan2(-(ys.mean() - c), xs.mean() - c))


def run(aug, x):
    return keras.ops.convert_to_numpy(aug(x, training=True))


# ---------------------------------------------------------------------------------- building


def test_none_when_everything_is_off():
    assert build_augmenter() is None
    assert build_augmenter(zoom_range=[1.0, 1.0], brightness_range=[1.0, 1.0]) is None
    assert augmenter_from_config(None) is None
    assert augmenter_from_config({"enabled": False, "rotation_range": 10}) is None
    assert augmenter_from_config({"rotation_range": 0.0}) is None


def test_conversions():
    assert rotation_factor(90) == 0.25
    assert rotation_factor(0) == 0.0
    assert translation_factor(0.2) == 0.2
    assert zoom_bounds(0.1) == pytest.approx([0.9, 1.1])
    assert zoom_bounds([0.8, 1.25]) == [0.8, 1.25]
    assert zoom_factor(0.2) == (-0.2, 0.2)
    assert zoom_factor([0.5, 1.0]) == (-0.5, 0.0)
    assert zoom_factor([1.2, 1.5]) == (0.2, 0.5)


ILL_CASES = [
    (dict(rotation_range=-1), ValueError, "rotation_range"),
    (dict(width_shift_range=4), ValueError, "pixel shifts are not supported"),
    (dict(height_shift_range=-0.1), ValueError, "height_shift_range"),
    (dict(shear_range=95), ValueError, "shear_range"),
    (dict(zoom_range=1.0), ValueError, "0 < lower <= upper"),
    (dict(zoom_range=[1.2, 0.8]), ValueError, "0 < lower <= upper"),
    (dict(zoom_range=[0.5, 1.0, 2.0]), ValueError, "lower, upper"),
    (dict(brightness_range=0.5), ValueError, "brightness_range"),
    (dict(brightness_range=[1.2, 0.8]), ValueError, "lower <= upper"),
    (dict(fill_mode="nearst"), ValueError, "Did you mean 'nearest'"),
    (dict(engine="fusd"), ValueError, "Did you mean 'fused'"),
    (dict(rotation_range="10"), TypeError, "rotation_range"),
    (dict(seed=1.5), TypeError, "seed"),
    (dict(horizontal_flip="False"), TypeError, "horizontal_flip"),
]


@pytest.mark.parametrize("kwargs, error, match", ILL_CASES)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        build_augmenter(**kwargs)


def test_zoom_factor_beyond_random_zoom_limit():
    with pytest.raises(ValueError, match="RandomZoom"):
        zoom_factor([0.5, 2.5])


def test_config_mapping_and_dataclass():
    import dataclasses

    @dataclasses.dataclass
    class Aug:
        enabled: bool = True
        rotation_range: float = 10.0
        horizontal_flip: bool = True

    aug = augmenter_from_config(Aug(), seed=3)
    assert [type(layer).__name__ for layer in aug.layers] == ["RandomAffine"]
    assert aug.layers[0].seed == 3 and aug.layers[0].horizontal_flip
    assert augmenter_from_config(Aug(enabled=False)) is None
    aug = augmenter_from_config({"horizontal_flip": True, "engine": "keras", "seed": 5})
    assert [type(layer).__name__ for layer in aug.layers] == ["RandomFlip"]
    with pytest.raises(ValueError, match="Did you mean 'rotation_range'"):
        augmenter_from_config({"rotaton_range": 10})
    with pytest.raises(TypeError, match="mapping or a dataclass"):
        augmenter_from_config(["rotation_range"])


def test_engines_build_the_expected_layers():
    params = dict(rotation_range=10, width_shift_range=0.1, height_shift_range=0.1,
                  shear_range=5, zoom_range=0.1, horizontal_flip=True, vertical_flip=True,
                  brightness_range=[0.8, 1.2])
    fused = build_augmenter(**params, seed=0)
    assert [type(x).__name__ for x in fused.layers] == ["RandomAffine", "RandomBrightnessFactor"]
    stock = build_augmenter(**params, seed=0, engine="keras")
    assert [type(x).__name__ for x in stock.layers] == [
        "RandomRotation", "RandomTranslation", "RandomAffine", "RandomZoom",
        "RandomFlip", "RandomFlip", "RandomBrightnessFactor",
    ]
    np.testing.assert_allclose(stock.layers[0].factor, (-10 / 360, 10 / 360))
    np.testing.assert_allclose(stock.layers[3].height_factor, (-0.1, 0.1))
    assert stock.layers[3].height_factor == stock.layers[3].width_factor


# ---------------------------------------------------------------------------- each parameter

SINGLE = [
    dict(rotation_range=30),
    dict(width_shift_range=0.2),
    dict(height_shift_range=0.2),
    dict(shear_range=20),
    dict(zoom_range=0.3),
    dict(horizontal_flip=True),
    dict(vertical_flip=True),
    dict(brightness_range=[0.5, 1.5]),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("params", SINGLE, ids=lambda p: next(iter(p)))
def test_each_parameter_changes_images_deterministically(params, engine):
    x = smooth_images(8)
    a = run(build_augmenter(**params, seed=1, engine=engine), x)
    b = run(build_augmenter(**params, seed=1, engine=engine), x)
    c = run(build_augmenter(**params, seed=2, engine=engine), x)
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and a.dtype == np.float32
    assert not np.allclose(a, x)
    assert not np.allclose(a, c)
    aug = build_augmenter(**params, seed=1, engine=engine)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(aug(x, training=False)), x)


@pytest.mark.parametrize("engine", ENGINES)
def test_flips_are_exact_and_independent(engine):
    x = smooth_images(16)
    out = run(build_augmenter(horizontal_flip=True, vertical_flip=True, seed=0, engine=engine), x)
    kinds = set()
    for xi, oi in zip(x, out):
        refs = (("none", xi), ("h", xi[:, ::-1]), ("v", xi[::-1]), ("hv", xi[::-1, ::-1]))
        for kind, ref in refs:
            if np.allclose(oi, ref, atol=1e-3):
                kinds.add(kind)
                break
        else:
            pytest.fail("an output is not a flip of its input")
    assert len(kinds) >= 3  # both axes flip, and not always together


@pytest.mark.parametrize("engine", ENGINES)
def test_rotation_range_90_rotates_up_to_90_degrees(engine):
    x = np.repeat(arrow()[None], 64, axis=0)
    aug = build_augmenter(rotation_range=90, fill_mode="constant", seed=0, engine=engine)
    angles = np.array([centroid_angle(o) for o in run(aug, x)])
    assert np.all(np.abs(angles) <= 92)
    assert angles.min() < -60 and angles.max() > 60


def test_rotation_factor_matches_a_quarter_turn():
    x = arrow(33)[None]
    stock = keras.layers.RandomRotation((rotation_factor(90),) * 2, interpolation="nearest")
    out = keras.ops.convert_to_numpy(stock(x, training=True))[0]
    assert abs(abs(centroid_angle(out)) - 90) < 2
    np.testing.assert_allclose(out, np.rot90(x[0], k=1), atol=1e-3)


@pytest.mark.parametrize("engine", ENGINES)
def test_zoom_above_one_zooms_out(engine):
    """ImageDataGenerator: zoom 1.5 shows 1.5x more field of view, so objects shrink."""
    img = np.zeros((1, 48, 48, 1), np.float32)
    img[0, 12:36, 12:36] = 255.0
    out = run(build_augmenter(zoom_range=[1.5, 1.5], fill_mode="constant", engine=engine), img)
    area = (out > 127).sum() / (img > 127).sum()
    assert area == pytest.approx(1 / 1.5**2, rel=0.1)


@pytest.mark.parametrize("engine", ENGINES)
def test_shifts_move_along_their_own_axis(engine):
    bar_h = np.zeros((4, 32, 32, 1), np.float32)
    bar_h[:, 10:14, :] = 255.0  # invariant to horizontal shifts
    out = run(build_augmenter(width_shift_range=0.3, seed=0, engine=engine), bar_h)
    np.testing.assert_allclose(out, bar_h, atol=1e-3)
    out = run(build_augmenter(height_shift_range=0.3, seed=0, engine=engine), bar_h)
    assert not np.allclose(out, bar_h)
    bar_v = np.transpose(bar_h, (0, 2, 1, 3))
    out = run(build_augmenter(height_shift_range=0.3, seed=0, engine=engine), bar_v)
    np.testing.assert_allclose(out, bar_v, atol=1e-3)


@pytest.mark.parametrize(
    "params",
    [
        dict(theta=25.0),
        dict(shear=20.0),
        dict(tx=5.0, ty=-7.0),
        dict(zx=1.2, zy=0.8),
        dict(theta=-30.0, tx=3.0, ty=-2.0, shear=10.0, zx=0.9, zy=1.1),
        dict(theta=15.0, shear=5.0, flip_x=True),
        dict(zx=1.1, flip_x=True, flip_y=True),
    ],
)
def test_random_affine_matches_image_data_generator(params):
    """The matrix reproduces Keras' own ``apply_affine_transform`` (+ flips) exactly."""
    # The reference is Keras' legacy implementation of ImageDataGenerator (private module).
    from keras.src.legacy.preprocessing.image import apply_affine_transform

    img = smooth_images(1, 48)[0]
    p = dict(theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0, flip_x=False, flip_y=False)
    p.update(params)
    ref = apply_affine_transform(
        img, theta=p["theta"], tx=p["tx"], ty=p["ty"], shear=p["shear"], zx=p["zx"], zy=p["zy"],
        row_axis=0, col_axis=1, channel_axis=2, fill_mode="nearest", order=1,
    )
    if p["flip_x"]:
        ref = ref[:, ::-1]
    if p["flip_y"]:
        ref = ref[::-1]
    keys = ("theta", "tx", "ty", "shear", "zx", "zy")
    matrix = RandomAffine.matrix(
        *[np.array([p[k]], np.float32) for k in keys], 48, 48,
        np.array([p["flip_x"]]), np.array([p["flip_y"]]),
    )
    out = keras.ops.image.affine_transform(img[None], matrix, fill_mode="nearest")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out)[0], ref, atol=1e-2)


def test_brightness_factor_within_range():
    x = np.full((64, 8, 8, 1), 100.0, np.float32)
    out = run(build_augmenter(brightness_range=[0.5, 1.5], seed=0), x)
    factors = out[:, 0, 0, 0] / 100.0
    assert np.all((factors >= 0.5) & (factors <= 1.5))
    assert factors.max() - factors.min() > 0.5
    assert np.all(out == out[:, :1, :1])  # one factor per image
    bright = run(RandomBrightnessFactor([2.0, 2.0]), np.full((2, 4, 4, 1), 200.0, np.float32))
    np.testing.assert_array_equal(bright, 255.0)  # clipped like PIL
    masks = np.ones((2, 4, 4, 1), np.float32)
    out = RandomBrightnessFactor([0.5, 0.5])({"images": 100 * masks, "segmentation_masks": masks})
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out["images"]), 50 * masks)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out["segmentation_masks"]), masks)


# ------------------------------------------------------------------------------ masks


def blob_masks(n=6, size=64, seed=0):
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size, 1), np.float32)
    for i in range(n):
        c = rng.integers(size // 3, 2 * size // 3, 2)
        axes = tuple(int(a) for a in rng.integers(size // 6, size // 4, 2))
        cv2.ellipse(masks[i, ..., 0], (int(c[0]), int(c[1])), axes, float(rng.uniform(0, 180)),
                    0, 360, 1.0, -1)
    return masks


def iou(a, b):
    return np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1)


@pytest.mark.parametrize("engine, min_iou", [("fused", 0.98), ("keras", 0.85)])
def test_image_and_mask_stay_aligned(engine, min_iou):
    """One warp keeps image and mask aligned (measured IoU >= 0.99); the stock chain
    resamples the mask four times with nearest interpolation and drifts (IoU 0.91-0.98)."""
    masks = blob_masks()
    aug = build_augmenter(rotation_range=30, width_shift_range=0.15, height_shift_range=0.15,
                          shear_range=15, zoom_range=0.2, horizontal_flip=True,
                          vertical_flip=True, fill_mode="constant", seed=0, engine=engine)
    out = aug({"images": 255.0 * masks, "segmentation_masks": masks}, training=True)
    images = keras.ops.convert_to_numpy(out["images"])
    moved = keras.ops.convert_to_numpy(out["segmentation_masks"])
    assert set(np.unique(moved)) <= {0.0, 1.0}
    assert not np.array_equal(moved, masks)
    for img, m in zip(images, moved):
        assert iou(img > 127, m > 0.5) > min_iou


# ------------------------------------------------------------------------ custom layers


@pytest.mark.parametrize(
    "layer",
    [
        RandomAffine(rotation_range=10, width_shift_range=0.1, shear_range=5, zoom_range=[0.9, 1.2],
                     horizontal_flip=True, fill_mode="constant", fill_value=3.0, seed=4),
        RandomBrightnessFactor([0.7, 1.3], value_range=(0, 255), seed=4),
    ],
    ids=["RandomAffine", "RandomBrightnessFactor"],
)
def test_custom_layer_config_round_trip(layer):
    config = layer.get_config()
    json.dumps(config)
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    x = smooth_images(2)
    np.testing.assert_array_equal(run(layer, x), run(clone, x))


LAYER_ILL_CASES = [
    (RandomAffine, dict(fill_mode="mirror"), ValueError, "fill_mode"),
    (RandomAffine, dict(interpolation="cubic"), ValueError, "interpolation"),
    (RandomAffine, dict(horizontal_flip=1), TypeError, "horizontal_flip"),
    (RandomAffine, dict(width_shift_range=1.0), ValueError, "width_shift_range"),
    (RandomBrightnessFactor, dict(factor=0.2), ValueError, "factor"),
    (RandomBrightnessFactor, dict(factor=[0.5, 1.5], value_range=(1, 0)), ValueError,
     "value_range"),
]


@pytest.mark.parametrize("cls, kwargs, error, match", LAYER_ILL_CASES)
def test_custom_layer_bad_arguments(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_custom_layers_survive_save_and_load(tmp_path, fmt):
    inputs = keras.Input((16, 16, 1))
    x = RandomAffine(rotation_range=10, horizontal_flip=True, seed=1)(inputs)
    x = RandomBrightnessFactor([0.8, 1.2], seed=2)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(2, name="predictions")(x)
    model = keras.Model(inputs, outputs)
    path = tmp_path / f"tiny.{fmt}"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers[1:3]] == [
        "RandomAffine", "RandomBrightnessFactor",
    ]
    assert loaded.layers[1].get_config()["rotation_range"] == 10.0
    x = smooth_images(2, 16)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)

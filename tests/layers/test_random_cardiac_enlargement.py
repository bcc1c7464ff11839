"""RandomCardiacEnlargement: the heart grows (or shrinks) with its mask, the lungs move with
the same map, the warp does not fold, the NumPy and Keras paths agree, config round-trips."""

import cv2
import keras
import numpy as np
import pytest

from heartcv.ctr import ctr_from_masks
from heartcv.data.augment import build_augmenter
from heartcv.layers import RandomCardiacEnlargement
from heartcv.layers.random_cardiac_enlargement import heart_box

S = 128


def _chest():
    def ell(c, a):
        m = np.zeros((S, S), np.uint8)
        cv2.ellipse(m, c, a, 0, 0, 360, 1, -1)
        return m.astype(bool)

    right, left = ell((38, 60), (16, 40)), ell((92, 60), (15, 39))
    heart = ell((72, 80), (20, 15)) & ~left & ~right
    masks = np.stack([heart, left, right], -1).astype(np.float32)[None]
    image = np.full((1, S, S, 1), 170, np.float32)
    image[0, left | right] = 70
    image[0, heart] = 210
    return image, masks


def _ctr(masks):
    return ctr_from_masks(masks[0, ..., 0], masks[0, ..., 1], masks[0, ..., 2])["ctr"]


def _warp(scale, thorax=1.0, image=None, masks=None):
    if image is None:
        image, masks = _chest()
    layer = RandomCardiacEnlargement([scale, scale], [thorax, thorax], probability=1.0, seed=0)
    t = layer.get_random_transformation({"images": image, "segmentation_masks": masks})
    return layer, t, layer.transform_numpy(image, t, masks)


def test_heart_box_of_the_heart_channel():
    _, masks = _chest()
    cx, cy, rx, ry = heart_box(masks)[0]
    assert 66 < cx < 78 and 74 < cy < 86 and rx > 5 and ry > 5
    assert np.all(heart_box(np.zeros((2, 8, 8, 3)))[:, 2] == 0)  # no heart: no radial warp


@pytest.mark.parametrize("scale", [0.85, 1.2, 1.5])
def test_ctr_follows_the_heart_scale(scale):
    image, masks = _chest()
    before = _ctr(masks)
    _, _, (warped, warped_masks) = _warp(scale, image=image, masks=masks)
    after = _ctr(warped_masks)
    if scale > 1:
        assert after > before + 0.05 * (scale - 1) / 0.2
    else:
        assert after < before
    # image and masks moved together: the warped heart is where the bright pixels are
    heart = warped_masks[0, ..., 0] > 0.5
    assert warped[0, ..., 0][heart].mean() > 190
    # one-to-one map: heart and lung do not overlap (but for edge pixels where both
    # bilinear samples are exactly 0.5)
    assert np.sum(heart & (warped_masks[0, ..., 1] > 0.5)) <= 0.02 * heart.sum()


def test_identity_when_scales_are_one():
    image, masks = _chest()
    _, _, (warped, warped_masks) = _warp(1.0, image=image, masks=masks)
    np.testing.assert_allclose(warped, image, atol=1e-3)
    np.testing.assert_array_equal(warped_masks, masks)


def test_numpy_and_keras_paths_agree():
    layer, t, (warped, warped_masks) = _warp(1.4, 0.9)
    image, masks = _chest()
    via_ops = keras.ops.convert_to_numpy(layer.transform_images(image, t))
    masks_ops = keras.ops.convert_to_numpy(layer.transform_segmentation_masks(masks, t))
    np.testing.assert_allclose(via_ops, warped, atol=0.05)
    assert np.mean(masks_ops != warped_masks) < 1e-3


def test_radial_map_does_not_fold():
    for s in (0.85, 1.5):
        for ss in (s, 1 + (s - 1) / 2):
            d = np.linspace(0, 6, 4000)
            r = np.clip((d - 0.95 * s) / 0.8, 0, 1)
            g = 1 / ss + (1 - 1 / ss) * r * r * (3 - 2 * r)
            assert np.all(np.diff(d * g) > 0)


def test_config_round_trip_and_bad_arguments():
    layer = RandomCardiacEnlargement([0.9, 1.3], [0.95, 1.05], probability=0.3, seed=3)
    again = RandomCardiacEnlargement.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="heart_scale_range"):
        RandomCardiacEnlargement([0.5, 1.0])
    with pytest.raises(ValueError, match="transition"):
        RandomCardiacEnlargement(transition=0.2)
    with pytest.raises(ValueError, match="probability"):
        RandomCardiacEnlargement(probability=2)


def test_augmenter_keys_build_the_layer_and_run_on_the_dict_form():
    aug = build_augmenter(heart_scale_range=[1.3, 1.3], heart_scale_probability=1.0, seed=0)
    assert [type(l).__name__ for l in aug.layers] == ["RandomCardiacEnlargement"]
    image, masks = _chest()
    out = aug({"images": image, "segmentation_masks": masks}, training=True)
    assert _ctr(keras.ops.convert_to_numpy(out["segmentation_masks"])) > _ctr(masks)

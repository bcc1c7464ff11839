"""RandomAffine's NumPy (OpenCV) path against its keras.ops path, and its argument checks."""

import keras
import numpy as np
import pytest

from heartcv.data.batches import make_dataset
from heartcv.data.synthetic import generate_chest_xrays
from heartcv.layers.random_affine import RandomAffine

FULL = dict(rotation_range=30, width_shift_range=0.2, height_shift_range=0.2, shear_range=15,
            zoom_range=[0.8, 1.25], horizontal_flip=True, vertical_flip=True)


@pytest.fixture(scope="module")
def batch():
    """Synthetic chest X-rays as 5 channels (OpenCV warps 4 at a time) and 2 masks (0/1)."""
    data = generate_chest_xrays(n_patients=3, images_per_patient=2, size=48, seed=0)
    grey = data["images"].astype(np.float32)
    images = np.concatenate([grey, 255 - grey, grey / 2, grey ** 0.5, grey * 0 + 3], axis=-1)
    masks = np.stack([data["heart_masks"], data["lung_masks"]], axis=-1).astype(np.float32)
    return images, masks


def ops_path(layer, images, masks, t):
    return (keras.ops.convert_to_numpy(layer.transform_images(images, t)),
            keras.ops.convert_to_numpy(layer.transform_segmentation_masks(masks, t)))


@pytest.mark.parametrize("fill_mode", ["nearest", "constant", "reflect"])
def test_opencv_path_matches_the_ops_path(batch, fill_mode):
    images, masks = batch
    layer = RandomAffine(**FULL, fill_mode=fill_mode, fill_value=7.0, seed=1)
    assert layer.numpy_fast_path
    t = layer.get_random_transformation(images)
    want_x, want_m = ops_path(layer, images, masks, t)
    got_x, got_m = layer.transform_numpy(images, t, masks)
    assert got_x.dtype == got_m.dtype == np.float32
    np.testing.assert_allclose(got_x, want_x, atol=1e-2)
    assert not np.array_equal(got_m, masks)  # it did move them
    # OpenCV samples on a 1/32-pixel grid, so a mask pixel may flip only where the exact
    # bilinear value is within ~0.02 of the 0.5 threshold (measured: under 0.1% of pixels).
    exact = keras.ops.convert_to_numpy(keras.ops.image.affine_transform(
        masks, t["matrix"], fill_mode=fill_mode, fill_value=0.0))
    flipped = got_m != want_m
    assert flipped.mean() < 2e-3
    assert np.all(np.abs(exact[flipped] - 0.5) < 0.03)
    # NumPy transforms (as inside tf.numpy_function) and single images give the same.
    t_np = {"matrix": keras.ops.convert_to_numpy(t["matrix"])}
    np.testing.assert_array_equal(layer.transform_numpy(images, t_np)[0], got_x)
    one_x, one_m = layer.transform_numpy(images[0], {"matrix": t_np["matrix"][:1]}, masks[0])
    np.testing.assert_array_equal(one_x, got_x[0])
    np.testing.assert_array_equal(one_m, got_m[0])


@pytest.mark.parametrize("kwargs", [dict(fill_mode="wrap"), dict(interpolation="nearest")])
def test_without_fast_path_numpy_runs_the_ops(batch, kwargs):
    images, masks = batch
    layer = RandomAffine(**FULL, **kwargs, seed=2)
    assert not layer.numpy_fast_path
    t = layer.get_random_transformation(images)
    want_x, want_m = ops_path(layer, images, masks, t)
    got_x, got_m = layer.transform_numpy(images, t, masks)
    np.testing.assert_array_equal(got_x, want_x)
    np.testing.assert_array_equal(got_m, want_m)


def test_no_transformation_is_the_identity(batch):
    images, masks = batch
    x, m = RandomAffine(**FULL).transform_numpy(images, None, masks)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(m, masks)
    assert RandomAffine(**FULL).transform_numpy(images, None)[1] is None


def test_pipeline_warps_through_the_layer(batch):
    """tf.data calls the layer's public ``transform_numpy``, once per batch."""
    calls = []

    class Counted(RandomAffine):
        def transform_numpy(self, images, transformation, segmentation_masks=None):
            calls.append(images.shape)
            return super().transform_numpy(images, transformation, segmentation_masks)

    images, masks = batch
    ds = make_dataset(images[..., :1].astype(np.uint8), masks=masks.astype(np.uint8),
                      batch_size=4, channels=1, training=True, augment=Counted(**FULL, seed=0))
    out = [(x.numpy(), m.numpy()) for x, m in ds]
    assert sorted(calls) == [(2, 48, 48, 1), (4, 48, 48, 1)]
    assert all(set(np.unique(m)) <= {0.0, 1.0} for _, m in out)


ILL_CASES = [
    (dict(rotation_range=-1), ValueError, "`rotation_range` >= 0 degrees"),
    (dict(width_shift_range=4), ValueError, "pixel shifts are not supported"),
    (dict(height_shift_range="0.1"), TypeError, "`height_shift_range` to be a number"),
    (dict(shear_range=90), ValueError, r"`shear_range` in \[0, 90\) degrees"),
    (dict(zoom_range=["0.9", 1.1]), TypeError, "`zoom_range` to be a number"),
    (dict(zoom_range=[1.2, 0.8]), ValueError, "0 < lower <= upper"),
    (dict(vertical_flip=0), TypeError, "`vertical_flip` to be a bool"),
    (dict(fill_mode="nearst"), ValueError, "Did you mean 'nearest'"),
    (dict(interpolation="bilinaer"), ValueError, "Did you mean 'bilinear'"),
]


@pytest.mark.parametrize("kwargs, error, match", ILL_CASES)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        RandomAffine(**kwargs)

"""Input pipelines: tf.data from arrays and bundles, PyDataset, class weights."""

import cv2
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from heartcv.data.augment import build_augmenter
from heartcv.data.bundle import write_bundle
from heartcv.data.batches import (
    BundleSequence,
    class_weights,
    dataset_from_bundle,
    label_frequencies,
    make_dataset,
)
from heartcv.data.splits import LeakageError

AUG = dict(rotation_range=20, width_shift_range=0.1, height_shift_range=0.1, shear_range=10,
           zoom_range=0.1, horizontal_flip=True, brightness_range=[0.8, 1.2])
# Brightness moves where a thresholded image's edge falls, so alignment tests leave it out.
GEOMETRIC = {k: v for k, v in AUG.items() if k != "brightness_range"}


def smooth(n, h, w, c=1, seed=0):
    rng = np.random.default_rng(seed)
    out = np.empty((n, h, w, c), np.uint8)
    for i in range(n):
        img = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, c)).astype(np.float32), (0, 0), 2)
        out[i] = np.clip(img.reshape(h, w, c) * 1.5 - 60, 0, 255).astype(np.uint8)
    return out


def blobs(n, size, seed=0):
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        c = rng.integers(size // 3, 2 * size // 3, 2)
        axes = tuple(int(a) for a in rng.integers(size // 6, size // 4, 2))
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(masks[i], (int(c[0]), int(c[1])), axes, angle, 0, 360, 1, -1)
    return masks


def collect(ds):
    xs, ys = [], []
    for batch in ds:
        xs.append(batch[0].numpy())
        ys.append(batch[1].numpy())
    return np.concatenate(xs), np.concatenate(ys)


def iou(a, b):
    return np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1)


def assert_aligned(images, masks):
    """The thresholded image (255 * mask before augmentation) and the mask still coincide.

    After resizing, the image has soft edges and the mask hard ones, so boundary pixels can
    fall either side of the threshold (IoU ~0.96-0.98 at 64 px); centroids agree to < 0.25 px.
    """
    for img, mask in zip(images, masks):
        a, b = img[..., 0] > 127, mask[..., 0] > 0.5
        assert iou(a, b) > 0.95
        offset = np.subtract(ndimage.center_of_mass(a), ndimage.center_of_mass(b))
        assert np.abs(offset).max() < 0.25


# ------------------------------------------------------------------------------ make_dataset


def test_shapes_dtypes_range_and_channel_repetition():
    images = smooth(10, 40, 48)
    y = np.arange(10, dtype=np.float32)[:, None]
    ds = make_dataset(images, y, batch_size=4, image_size=(32, 24), channels=3)
    assert len(ds) == 3
    batches = list(ds)
    assert [int(x.shape[0]) for x, _ in batches] == [4, 4, 2]
    x, t = batches[0]
    assert x.dtype == tf.float32 and t.dtype == tf.float32
    assert tuple(x.shape) == (4, 32, 24, 3) and tuple(t.shape) == (4, 1)
    x = x.numpy()
    assert x.min() >= 0 and x.max() <= 255 and x.max() > 100  # [0, 255], not normalised
    np.testing.assert_array_equal(x[..., 0], x[..., 2])
    ref = tf.image.resize(images[:4].astype(np.float32), (32, 24), antialias=True).numpy()
    np.testing.assert_allclose(x[..., :1], np.round(ref), atol=1.0)
    assert len(make_dataset(images, y, batch_size=4, drop_remainder=True)) == 2


def test_no_resize_keeps_values_and_rgb_to_grey():
    images = smooth(6, 16, 16, c=3)
    x, _ = collect(make_dataset(images, np.zeros(6), batch_size=4, channels=3))
    np.testing.assert_array_equal(x, images.astype(np.float32))
    x = next(iter(make_dataset(images, batch_size=6, channels=1)))
    x = x[0].numpy() if isinstance(x, tuple) else x.numpy()
    assert x.shape == (6, 16, 16, 1)
    grey = tf.image.rgb_to_grayscale(images.astype(np.float32)).numpy()
    np.testing.assert_allclose(x, grey, atol=1e-3)


def test_shuffle_is_seeded_and_changes_every_epoch():
    images = smooth(20, 8, 8)
    y = np.arange(20, dtype=np.float32)

    def orders(seed):
        ds = make_dataset(images, y, batch_size=6, training=True, seed=seed)
        return [collect(ds)[1] for _ in range(2)]

    a, b, c = orders(0), orders(0), orders(1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1])
    assert not np.array_equal(a[0], c[0])
    for order in a + c:
        np.testing.assert_array_equal(np.sort(order), y)
    # images follow their targets through the shuffle
    x, t = collect(make_dataset(images, y, batch_size=6, training=True, seed=0, channels=1))
    np.testing.assert_array_equal(x, images[t.astype(int)].astype(np.float32))


def test_no_shuffle_or_augmentation_when_not_training():
    images = smooth(10, 24, 24)
    y = np.arange(10, dtype=np.float32)
    plain = collect(make_dataset(images, y, batch_size=4, image_size=16))
    with_aug = collect(make_dataset(images, y, batch_size=4, image_size=16, augment=AUG))
    np.testing.assert_array_equal(plain[1], y)
    np.testing.assert_array_equal(plain[0], with_aug[0])


@pytest.mark.parametrize("engine", ["fused", "keras"])
def test_augmentation_is_reproducible_and_matches_the_one_map_path(engine):
    images = smooth(12, 32, 32)
    y = np.arange(12, dtype=np.float32)
    kw = dict(batch_size=4, image_size=24, training=True, seed=3)
    config = dict(AUG, engine=engine)
    plain = collect(make_dataset(images, y, **kw))
    a = collect(make_dataset(images, y, augment=config, **kw))
    b = collect(make_dataset(images, y, augment=config, **kw))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], plain[1])  # same order as without augmentation
    assert not np.allclose(a[0], plain[0])
    # An opaque callable takes the single sequential map: the same layers and seed give the
    # same output as the two-map (draw, then warp in parallel) path.
    aug = build_augmenter(**config, seed=3)
    opaque = collect(
        make_dataset(images, y, augment=lambda x, training: aug(x, training=training), **kw)
    )
    np.testing.assert_allclose(opaque[0], a[0], atol=1e-3)


def test_cache_and_no_cache_give_the_same_batches():
    images = smooth(9, 30, 30)
    y = np.arange(9, dtype=np.float32)
    kw = dict(batch_size=4, image_size=20, training=True, seed=0)
    a = collect(make_dataset(images, y, cache=True, **kw))
    b = collect(make_dataset(images, y, cache=False, **kw))
    c = collect(make_dataset(images, y, cache=True, memory_limit=10, **kw))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[0], c[0])


def test_segmentation_image_and_mask_stay_aligned():
    masks = blobs(8, 96)
    images = (255 * masks)[..., None].astype(np.uint8)
    ds = make_dataset(images, masks=masks, batch_size=4, image_size=64, training=True,
                      augment=dict(GEOMETRIC, vertical_flip=True), seed=0)
    x, m = collect(ds)
    assert x.shape == (8, 64, 64, 3) and m.shape == (8, 64, 64, 1) and m.dtype == np.float32
    assert set(np.unique(m)) <= {0.0, 1.0}
    plain = collect(make_dataset(images, masks=masks, batch_size=4, image_size=64,
                                 training=True, seed=0))
    assert not np.array_equal(m, plain[1])
    assert_aligned(x, m)


def test_make_dataset_passes_many_channels_through():
    """An ECG lead volume (13 channels) is resized and augmented channel by channel."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 16, 16, 13), dtype=np.uint8)
    x, _ = collect(make_dataset(images, np.zeros(6), batch_size=3, image_size=16, channels=13))
    np.testing.assert_array_equal(x, images.astype(np.float32))
    x, _ = collect(make_dataset(images, np.zeros(6), batch_size=3, image_size=8, channels=13,
                                training=True, seed=0, augment={"rotation_range": 10}))
    assert x.shape == (6, 8, 8, 13)


MAKE_ILL_CASES = [
    (dict(images=np.zeros((2, 8, 8), np.float32)), TypeError, "uint8"),
    (dict(images=np.zeros((0, 8, 8), np.uint8)), ValueError, "N > 0"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(image_size=(8,)), ValueError, "image_size"),
    (dict(channels=2), ValueError, "channels"),
    (dict(images=np.zeros((2, 8, 8, 13), np.uint8), channels=3), ValueError, "13 channels"),
    (dict(targets=np.zeros(3)), ValueError, "one target per image"),
    (dict(masks=np.zeros((2, 4, 4), np.uint8)), ValueError, "masks"),
]


@pytest.mark.parametrize("kwargs, error, match", MAKE_ILL_CASES)
def test_make_dataset_bad_arguments(kwargs, error, match):
    args = dict(images=np.zeros((2, 8, 8), np.uint8), batch_size=2)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        make_dataset(args.pop("images"), **args)


@pytest.mark.parametrize("fill_mode", ["nearest", "constant", "reflect"])
def test_opencv_warp_matches_the_layer(fill_mode):
    """The pipelines warp RandomAffine with OpenCV (the layer's transform_numpy); it must equal
    the layer's own ops."""
    from heartcv.layers.random_affine import RandomAffine

    x = smooth(6, 40, 40).astype(np.float32)
    masks = (x > 100).astype(np.float32)
    layer = RandomAffine(30, 0.2, 0.2, 15, 0.2, horizontal_flip=True, vertical_flip=True,
                         fill_mode=fill_mode, fill_value=7.0, seed=0)
    t = layer.get_random_transformation(x)
    assert layer.numpy_fast_path
    got_x, got_m = layer.transform_numpy(x, t, masks)
    np.testing.assert_allclose(got_x, np.asarray(layer.transform_images(x, t)), atol=1e-2)
    np.testing.assert_array_equal(got_m, np.asarray(layer.transform_segmentation_masks(masks, t)))


def test_eager_augmentation_matches_the_augmenter():
    from heartcv.data.batches.transforms import augment_np as _augment_np

    x = smooth(4, 32, 32).astype(np.float32)
    masks = (x > 100).astype(np.float32)
    for engine in ("fused", "keras"):
        params = dict(AUG, engine=engine, seed=5)
        out = build_augmenter(**params)({"images": x, "segmentation_masks": masks})
        got_x, got_m = _augment_np(build_augmenter(**params), x, masks)
        np.testing.assert_allclose(got_x, np.asarray(out["images"]), atol=1e-2)
        np.testing.assert_array_equal(got_m, np.asarray(out["segmentation_masks"]))


# ------------------------------------------------------------------------------ bundles


@pytest.fixture
def bundle(tmp_path):
    n = 30
    split = np.array(["train"] * 18 + ["val"] * 6 + ["test"] * 6)
    labels = (np.arange(n) % 3 == 0).astype(np.float32)[:, None]
    labels[5] = np.nan
    path = tmp_path / "tiny.h5"
    write_bundle(path, smooth(n, 40, 40), labels=labels,
                 patient_id=[f"p{i // 2}" for i in range(n)], split=split,
                 class_names=["Cardiomegaly"], task="binary", source="test")
    return path, labels, split


def test_bundle_split_sizes_and_targets(bundle):
    path, labels, split = bundle
    for name, size in (("train", 18), ("val", 6), ("test", 6)):
        x, y = collect(dataset_from_bundle(path, name, batch_size=4, image_size=32))
        assert x.shape == (size, 32, 32, 3)
        np.testing.assert_array_equal(y, labels[split == name])
    x, y = collect(dataset_from_bundle(path, "train", batch_size=4, image_size=32,
                                       indices=[3, 1, 7]))
    np.testing.assert_array_equal(y, labels[[3, 1, 7]])
    with pytest.raises(ValueError, match="Did you mean 'val'"):
        dataset_from_bundle(path, "vall", batch_size=4, image_size=32)
    with pytest.raises(ValueError, match="inside split 'train'"):
        dataset_from_bundle(path, "train", batch_size=4, image_size=32, indices=[1, 20])
    with pytest.raises(ValueError, match="no masks"):
        dataset_from_bundle(path, "train", batch_size=4, image_size=32, target="masks")


def test_bundle_with_leakage_raises(tmp_path):
    path = tmp_path / "leaky.h5"
    write_bundle(path, smooth(4, 8, 8), labels=np.zeros((4, 1)),
                 patient_id=["a", "b", "c", "a"], split=["train", "train", "test", "test"],
                 class_names=["x"], task="binary", source="t")
    with pytest.raises(LeakageError, match="a"):
        dataset_from_bundle(path, "train", batch_size=2, image_size=8)
    with pytest.raises(LeakageError):
        BundleSequence(path, "test", batch_size=2, image_size=8)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("image_size", [32, None])
def test_streaming_equals_in_memory(bundle, training, image_size):
    path = bundle[0]
    kw = dict(batch_size=4, image_size=image_size, training=training, seed=2,
              augment=AUG if training else None)
    a = collect(dataset_from_bundle(path, "train", **kw))
    b = collect(dataset_from_bundle(path, "train", memory_limit=100, **kw))
    c = collect(dataset_from_bundle(path, "train", cache=False, **kw))
    for other in (b, c):
        np.testing.assert_array_equal(a[0], other[0])
        np.testing.assert_array_equal(a[1], other[1])


def test_segmentation_bundle_streams_masks(tmp_path):
    masks = blobs(12, 96)
    images = (255 * masks)[..., None].astype(np.uint8)
    path = tmp_path / "seg.h5"
    write_bundle(path, images, masks=masks, patient_id=[f"p{i}" for i in range(12)],
                 split=["train"] * 8 + ["test"] * 4, class_names=[], task="segmentation",
                 source="t")
    kw = dict(batch_size=4, image_size=64, training=True, augment=GEOMETRIC, seed=0)
    x, m = collect(dataset_from_bundle(path, "train", **kw))
    xs, ms = collect(dataset_from_bundle(path, "train", memory_limit=100, **kw))
    np.testing.assert_array_equal(x, xs)
    np.testing.assert_array_equal(m, ms)
    assert m.shape == (8, 64, 64, 1)
    assert_aligned(x, m)
    seq = BundleSequence(path, "test", batch_size=4, image_size=64)
    sx, sm = seq[0]
    assert sm.shape == (4, 64, 64, 1) and set(np.unique(sm)) <= {0.0, 1.0}
    assert_aligned(sx, sm)


# ----------------------------------------------------------------------------- PyDataset


def test_bundle_sequence_matches_tf_data(bundle):
    path, labels, split = bundle
    seq = BundleSequence(path, "train", batch_size=4, image_size=32)
    ds = list(dataset_from_bundle(path, "train", batch_size=4, image_size=32))
    assert len(seq) == len(ds) == 5
    for (x, y), (tx, ty) in zip((seq[i] for i in range(len(seq))), ds):
        assert x.shape == tuple(tx.shape) and x.dtype == np.float32
        np.testing.assert_array_equal(y, ty.numpy())
        assert np.abs(x - tx.numpy()).mean() < 2.0  # OpenCV INTER_AREA vs TF antialiased bilinear
    streamed = BundleSequence(path, "train", batch_size=4, image_size=32, memory_limit=100)
    np.testing.assert_array_equal(streamed[1][0], seq[1][0])
    with pytest.raises(IndexError):
        seq[5]


def test_bundle_sequence_shuffles_and_augments(bundle):
    path = bundle[0]
    kw = dict(batch_size=6, image_size=32, training=True, seed=1)
    seq = BundleSequence(path, "train", **kw)
    first = np.concatenate([seq[i][1] for i in range(len(seq))])
    seq.on_epoch_end()
    second = np.concatenate([seq[i][1] for i in range(len(seq))])
    again = BundleSequence(path, "train", **kw)
    np.testing.assert_array_equal(first, np.concatenate([again[i][1] for i in range(len(again))]))
    assert not np.array_equal(first, second) or np.isnan(first).any()
    plain = BundleSequence(path, "train", **kw)[0][0]
    augmented = BundleSequence(path, "train", augment=AUG, **kw)[0][0]
    assert augmented.shape == plain.shape == (6, 32, 32, 3)
    assert not np.allclose(plain, augmented)


# ------------------------------------------------------------------ class weights, frequencies


def test_class_weights_binary_match_sklearn():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0, 0, 0, 1, 0, 1, 0, 0], np.float32)
    expected = compute_class_weight("balanced", classes=np.array([0, 1]), y=y.astype(int))
    weights = class_weights(np.concatenate([y, [np.nan, np.nan]])[:, None], "binary")
    assert weights == pytest.approx({0: expected[0], 1: expected[1]})
    assert weights == pytest.approx({0: 8 / (2 * 6), 1: 8 / (2 * 2)})


def test_class_weights_multiclass_one_hot_and_integers():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0, 1, 1, 2, 2, 2, 2, 0, 1])
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    one_hot = np.eye(3, dtype=np.float32)[y]
    one_hot = np.concatenate([one_hot, np.full((1, 3), np.nan, np.float32)])
    for labels in (one_hot, y):
        w = class_weights(labels, "multiclass")
        assert list(w) == [0, 1, 2]
        np.testing.assert_allclose([w[c] for c in range(3)], expected)


CW_ILL_CASES = [
    (np.zeros((4, 3)), "multilabel", "label_frequencies"),
    (np.array([0, 0, 0, 0]), "binary", r"class\(es\) \[1\]"),
    (np.eye(3)[[0, 0, 2]], "multiclass", r"class\(es\) \[1\]"),
    (np.array([0, 2, 0.5]), "binary", "0, 1 or NaN"),
    (np.zeros((2, 2, 2)), "binary", "shape"),
]


@pytest.mark.parametrize("labels, task, match", CW_ILL_CASES)
def test_class_weights_bad_input(labels, task, match):
    with pytest.raises(ValueError, match=match):
        class_weights(labels, task)


def test_label_frequencies_ignore_nan():
    y = np.array([[1, 0, np.nan], [0, 0, 1], [1, np.nan, 1], [np.nan, 1, 0]], np.float32)
    f = label_frequencies(y)
    np.testing.assert_allclose(f["positive"], [2 / 3, 1 / 3, 2 / 3])
    np.testing.assert_allclose(f["negative"], [1 / 3, 2 / 3, 1 / 3])
    np.testing.assert_array_equal(f["count"], [3, 3, 3])
    with pytest.raises(ValueError, match=r"column\(s\) \[1\]"):
        label_frequencies(np.array([[1, np.nan], [0, np.nan]]))
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        label_frequencies(np.array([[2.0]]))

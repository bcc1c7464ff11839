"""What the batch builder does to a loaded batch: resize, augment, set channels, pack.

Resizing has two implementations, one per path, with the same rule (bilinear, antialiased
when shrinking; masks thresholded at 0.5 with :data:`~heartcv.losses.MISSING_MASK` channels
kept): TensorFlow inside ``tf.data`` and OpenCV for the ``PyDataset``. Augmentation is one
function, :func:`apply_layer`: a layer's drawn transform applied to a batch, by the layer's
NumPy fast path where it has one (``RandomAffine.transform_numpy``: ``cv2.warpAffine``,
wrapped in a ``tf.numpy_function`` inside ``tf.data``) and by its own ops otherwise.
"""

from __future__ import annotations

import cv2
import keras
import numpy as np

from heartcv.losses import MISSING_MASK


class _LazyTensorFlow:
    """``tf`` imported on first use: only the ``tf.data`` path (TensorFlow backend) needs it."""

    def __getattr__(self, name):
        import tensorflow

        return getattr(tensorflow, name)


tf = _LazyTensorFlow()


# ----------------------------------------------------------------------------- resizing


def resize_images_tf(images, size):
    """uint8 (B, H, W, C) → uint8 (B, h, w, C); bilinear, antialiased when shrinking."""
    in_h, in_w = images.shape[1], images.shape[2]
    if (in_h, in_w) == tuple(size):
        return images
    shrink = size[0] < in_h or size[1] < in_w
    x = tf.image.resize(tf.cast(images, tf.float32), size, method="bilinear", antialias=shrink)
    return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)


def resize_masks_tf(masks, size):
    """uint8 {0, 1} masks: bilinear (antialiased when shrinking), then threshold at 0.5;
    :data:`MISSING_MASK` channels stay so."""
    in_h, in_w = masks.shape[1], masks.shape[2]
    if (in_h, in_w) == tuple(size):
        return masks
    shrink = size[0] < in_h or size[1] < in_w
    x = tf.image.resize(tf.cast(masks, tf.float32), size, method="bilinear", antialias=shrink)
    return tf.where(x > 1.0, tf.constant(MISSING_MASK, tf.uint8), tf.cast(x >= 0.5, tf.uint8))


def _cv2_interpolation(in_hw, size):
    return cv2.INTER_AREA if size[0] < in_hw[0] or size[1] < in_hw[1] else cv2.INTER_LINEAR


def _resize_each_cv2(arrays, size, resize_one):
    """``resize_one(array, (W, H), interpolation)`` over a (N, h, w, C) uint8 batch, into a
    (N, H, W, C) uint8 batch; the batch itself when it already has ``size``."""
    if arrays.shape[1:3] == tuple(size):
        return arrays
    interp = _cv2_interpolation(arrays.shape[1:3], size)
    out = np.empty((len(arrays), size[0], size[1], arrays.shape[3]), dtype=np.uint8)
    for i, a in enumerate(arrays):
        out[i] = resize_one(a, (size[1], size[0]), interp).reshape(out.shape[1:])
    return out


def _resize_image_cv2(img, wh, interp):
    return cv2.resize(img, wh, interpolation=interp)


def _resize_mask_cv2(m, wh, interp):
    r = cv2.resize(m.astype(np.float32), wh, interpolation=interp)
    return np.where(r > 1.0, MISSING_MASK, r >= 0.5)


def resize_images_cv2(images, size):
    return _resize_each_cv2(images, size, _resize_image_cv2)


def resize_masks_cv2(masks, size):
    return _resize_each_cv2(masks, size, _resize_mask_cv2)


# ------------------------------------------------------------------------- augmentation
# A layer may apply its transform to NumPy batches faster than with its own ops
# (``RandomAffine``: OpenCV); it says so with a true ``numpy_fast_path`` and offers
# ``transform_numpy(images, transformation, segmentation_masks=None) -> (images, masks)``.


def _numpy_fast_path(layer):
    return bool(getattr(layer, "numpy_fast_path", False))


def two_phase_layers(augmenter, seg):
    """The augmenter's layers when each can draw and apply its transform separately."""
    if augmenter is None:
        return None
    layers = augmenter.layers if isinstance(augmenter, keras.Sequential) else [augmenter]
    needed = ("get_random_transformation", "transform_images") + (
        ("transform_segmentation_masks",) if seg else ()
    )
    if layers and all(all(hasattr(lay, m) for m in needed) for lay in layers):
        return layers
    return None


def _apply_fast_path_tf(layer, x, masks, transformation):
    """The layer's NumPy fast path inside ``tf.data`` (a ``tf.numpy_function``)."""
    seg = masks is not None
    inputs = [tf.cast(x, tf.float32)] + ([tf.cast(masks, tf.float32)] if seg else [])

    def run(*arrays):
        batches, flat = arrays[: len(inputs)], arrays[len(inputs) :]
        t = tf.nest.pack_sequence_as(transformation, list(flat))
        images, warped = layer.transform_numpy(batches[0], t, batches[1] if seg else None)
        return [images, warped] if seg else [images]

    out = tf.numpy_function(
        run, inputs + tf.nest.flatten(transformation), [tf.float32] * len(inputs), stateful=False
    )
    for tensor, like in zip(out, inputs):
        tensor.set_shape(like.shape)
    return out[0], (out[1] if seg else None)


def apply_layer(layer, x, masks, transformation, *, graph):
    """Apply one drawn transform to a batch (and its masks): the one augment step of both
    paths; ``graph``: inside ``tf.data`` (tensors) rather than eagerly on NumPy arrays."""
    if _numpy_fast_path(layer):
        if graph:
            return _apply_fast_path_tf(layer, x, masks, transformation)
        return layer.transform_numpy(x, transformation, masks)
    out = layer.transform_images(x, transformation, training=True)
    if masks is not None:
        masks = layer.transform_segmentation_masks(masks, transformation, training=True)
    if graph:
        return out, masks
    as_np = keras.ops.convert_to_numpy
    return as_np(out), (None if masks is None else as_np(masks))


def draw(layers, x, masks):
    """Each layer's random transform for one batch (drawn in batch order: seeded runs repeat)."""
    data = x if masks is None else {"images": x, "segmentation_masks": masks}
    return tuple(lay.get_random_transformation(data, training=True) for lay in layers)


def run_opaque(augmenter, x, masks):
    """An augmenter whose layers cannot draw and apply separately, called as a whole."""
    if masks is None:
        return augmenter(x, training=True), None
    out = augmenter({"images": x, "segmentation_masks": masks}, training=True)
    return out["images"], out["segmentation_masks"]


def augment_np(augmenter, x, masks):
    """Run the augmenter eagerly on NumPy batches (NumPy fast paths where layers have one)."""
    layers = two_phase_layers(augmenter, masks is not None)
    if not layers:
        x, masks = run_opaque(augmenter, x, masks)
        as_np = keras.ops.convert_to_numpy
        return as_np(x), (None if masks is None else as_np(masks))
    for layer in layers:
        (t,) = draw([layer], x, masks)
        x, masks = apply_layer(layer, x, masks, t, graph=False)
    return x, masks


# ----------------------------------------------------------------------- channels, packing


def _to_channels(x, channels, repeat, to_grey):
    """``x`` as is with ``channels`` channels, a grey ``x`` repeated, else ``to_grey(x)``."""
    have = x.shape[-1]
    if have == channels:
        return x
    if have == 1:
        return repeat(x, channels, axis=-1)
    return to_grey(x)


def _rgb_to_grey_np(x):
    weights = np.asarray([0.2989, 0.5870, 0.1140], dtype=np.float32)
    return (x @ weights)[..., None].astype(x.dtype)


def to_channels_tf(x, channels):
    return _to_channels(x, channels, tf.repeat, tf.image.rgb_to_grayscale)


def to_channels_np(x, channels):
    return _to_channels(x, channels, np.repeat, _rgb_to_grey_np)


def pack(batch: dict, image_key="image"):
    """A loaded batch as Keras takes it: ``(inputs, y[, sample_weight])`` or ``(inputs,)``;
    ``inputs`` is the images, or ``{image_key: images, **extras}`` with extra inputs."""
    extras = {k[len("extra:"):]: v for k, v in batch.items() if k.startswith("extra:")}
    inputs = {image_key: batch["images"], **extras} if extras else batch["images"]
    y = batch.get("masks", batch.get("targets"))
    if y is None:
        return (inputs,)
    if "weights" in batch:
        return inputs, y, batch["weights"]
    return inputs, y

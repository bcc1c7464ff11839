"""Input pipelines: ``tf.data`` from arrays or HDF5 bundles, a ``PyDataset``, class weights.

Every pipeline yields float32 images in [0, 255] (models carry their own preprocessing
layer, so nothing is normalised here), resized to ``image_size`` (bilinear, antialiased
when shrinking) and with ``channels`` channels (grey is repeated). Targets are float32;
segmentation yields ``(image, mask)`` with masks ``(B, H, W, M)`` in {0, 1}. A mask channel
an image has no reference for holds :data:`heartcv.losses.MISSING_MASK` (255) in every pixel
instead; resizing keeps it, and after augmentation (which moves and thresholds masks) the
channel is set back to it, so the loss can leave it out.

How a batch is made (:func:`make_dataset`, :func:`dataset_from_bundle`):

1. ``range(N)`` → seeded shuffle of *indices* (training only; a new order every epoch,
   the same sequence of orders every run) → ``batch``.
2. One parallel ``map`` reads the batch's rows: from the cache (the images resized once
   to uint8 when the dataset is made, if ``cache=True`` and it fits in ``memory_limit``),
   from the in-memory array, or from the HDF5 file (one h5py handle per process) — then
   resizes what was not cached.
3. Training only: the augmenter (:mod:`heartcv.data.augment`) on the float batch, image and
   mask together. Its layers' random parameters are drawn by a sequential ``map`` (so the
   random stream follows batch order and a seeded run repeats exactly) and the transforms
   are applied in a parallel ``map``: a layer with a NumPy fast path runs it in a
   ``tf.numpy_function`` (``RandomAffine.transform_numpy``: ``cv2.warpAffine``, about 4x
   faster on CPU than ``keras.ops.image.affine_transform`` and within 3e-3 grey levels of
   it for 1, 3 or 4 channels, tested; see its docstring), other layers use their own ops.
   Then grey → ``channels``; ``prefetch``.

Shuffling indices rather than images keeps the shuffle buffer tiny and makes the
in-memory and streaming paths give identical batches. For backends other than TensorFlow,
:class:`BundleSequence` and :class:`ArraySequence` (``keras.utils.PyDataset``) serve the same
batches with OpenCV, and :func:`make_dataset` / :func:`dataset_from_bundle` return them
(:func:`uses_tf_data`): under ``KERAS_BACKEND=jax`` this module never imports TensorFlow, so
it runs where TensorFlow is not installed. Their loader threads or processes:
``HEARTCV_DATA_WORKERS`` (default 1, batches made in the training loop's thread) and
``HEARTCV_DATA_MULTIPROCESSING=1`` (worker processes instead of threads). Keras forks those
processes; JAX warns that forking its multithreaded process may deadlock, and the augmenter
draws its random parameters with Keras (JAX) ops inside the workers, so under JAX augmented
training is safer with threads (tested: 2 forked workers feeding a 2-step fit without
augmentation, ``tests/jax/test_jax.py``).
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import NamedTuple

import cv2
import keras
import numpy as np

from heartcv.data.augment import augmenter_from_config
from heartcv.data.bundle import open_bundle
from heartcv.data.splits import assert_disjoint
from heartcv.losses import MISSING_MASK

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "ArraySequence",
    "BundleSequence",
    "class_weights",
    "dataset_from_bundle",
    "label_frequencies",
    "make_dataset",
    "uses_tf_data",
]


class _LazyTensorFlow:
    """``tf`` imported on first use: only the ``tf.data`` path (TensorFlow backend) needs it."""

    def __getattr__(self, name):
        import tensorflow

        return getattr(tensorflow, name)


tf = _LazyTensorFlow()


def uses_tf_data() -> bool:
    """Whether :func:`make_dataset` / :func:`dataset_from_bundle` build ``tf.data`` pipelines
    (the TensorFlow backend) rather than ``PyDataset`` sequences (any other backend)."""
    return keras.backend.backend() == "tensorflow"


def _loader_options() -> dict:
    """``PyDataset`` worker options from ``HEARTCV_DATA_WORKERS`` / ``..._MULTIPROCESSING``."""
    raw = os.environ.get("HEARTCV_DATA_WORKERS", "1")
    try:
        workers = int(raw)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ValueError(f"Expected HEARTCV_DATA_WORKERS to be an int >= 1. "
                         f"Received: HEARTCV_DATA_WORKERS={raw!r}")
    multi = os.environ.get("HEARTCV_DATA_MULTIPROCESSING", "0")
    if multi not in ("0", "1"):
        raise ValueError(f"Expected HEARTCV_DATA_MULTIPROCESSING to be 0 or 1. "
                         f"Received: HEARTCV_DATA_MULTIPROCESSING={multi!r}")
    return {"workers": workers, "use_multiprocessing": multi == "1" and workers > 1}

DEFAULT_MEMORY_LIMIT = 4 * 2**30
"""Bytes a split may take in memory (at the bundle's resolution) before it is streamed."""

_TARGETS = ("auto", "labels", "masks")
_CHUNK = 256


# --------------------------------------------------------------------------------------------
# argument checks


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Expected `{name}` to be a positive int. Received: {name}={value!r}")
    return int(value)


def _as_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (
        not isinstance(image_size, (tuple, list))
        or len(image_size) != 2
        or not all(isinstance(v, (int, np.integer)) and v > 0 for v in image_size)
    ):
        raise ValueError(
            f"Expected `image_size` to be None, a positive int or a (height, width) pair. "
            f"Received: image_size={image_size!r}"
        )
    return int(image_size[0]), int(image_size[1])


def _check_channels(channels, source_channels):
    """1 ↔ 3 converts (grey repeated, RGB → luminance); any other count passes through as is
    (e.g. the 13 lead crops of an ECG volume)."""
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
        raise ValueError(f"Expected `channels` to be a positive int. Received: channels={channels!r}")
    if channels != source_channels and {channels, source_channels} != {1, 3}:
        raise ValueError(
            f"Expected `channels` equal to the images' channels, or 1 and 3 (grey ↔ RGB). "
            f"Received: channels={channels!r} for images with {source_channels} channels"
        )


def _as_images(images, name="images"):
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise TypeError(f"Expected `{name}` to be uint8. Received: {name}.dtype={arr.dtype}")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[0] == 0:
        raise ValueError(
            f"Expected `{name}` of shape (N, H, W[, C]) with N > 0. "
            f"Received: {name}.shape={arr.shape}"
        )
    return arr


def _resolve_augment(augment, seed):
    if augment is None or callable(augment):
        return augment
    return augmenter_from_config(augment, seed=seed)


# --------------------------------------------------------------------------------------------
# row sources


def _read_rows(dataset, rows):
    """``dataset[rows]`` for sorted unique ``rows``, reading contiguous runs as slices."""
    out = np.empty((len(rows),) + tuple(dataset.shape[1:]), dtype=dataset.dtype)
    if not len(rows):
        return out
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(rows)]])
    for s, e in zip(starts, stops):
        out[s:e] = dataset[int(rows[s]) : int(rows[e - 1]) + 1]
    return out


def _read_any(dataset, rows):
    """``dataset[rows]`` for any order of ``rows`` (h5py needs sorted unique indices)."""
    uniq, inverse = np.unique(np.asarray(rows, dtype=np.int64), return_inverse=True)
    data = _read_rows(dataset, uniq)
    if len(uniq) == len(rows) and np.array_equal(uniq, rows):
        return data
    return data[inverse.reshape(-1)]


class _ArrayRows:
    def __init__(self, array):
        self.array = array
        self.shape = array.shape[1:]

    def read(self, idx):
        return self.array[idx]


class _BundleRows:
    """Rows ``rows`` of a bundle's ``images`` or ``masks``; one h5py handle per process."""

    def __init__(self, path, field, rows, shape):
        self.path = Path(path)
        self.field = field
        self.rows = np.asarray(rows, dtype=np.int64)
        self.shape = tuple(shape)
        self._pid = None
        self._bundle = None
        self._lock = threading.Lock()

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(_pid=None, _bundle=None, _lock=None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _dataset(self):
        with self._lock:
            if self._pid != os.getpid():
                self._bundle = open_bundle(self.path)
                self._pid = os.getpid()
        return getattr(self._bundle, self.field)

    def read(self, idx):
        return _read_any(self._dataset(), self.rows[idx])


def _with_channel(masks):
    return masks if masks.ndim == 4 else masks[..., None]


def _has_unlabelled(mask_rows) -> bool:
    """Whether in-memory masks hold :data:`MISSING_MASK` channels (bundle masks are 0/1)."""
    return isinstance(mask_rows, _ArrayRows) and bool(np.any(mask_rows.array > 1))


# --------------------------------------------------------------------------------------------
# resizing (TensorFlow for tf.data, OpenCV for the PyDataset)


def _resize_images_tf(images, size):
    """uint8 (B, H, W, C) → uint8 (B, h, w, C); bilinear, antialiased when shrinking."""
    in_h, in_w = images.shape[1], images.shape[2]
    if (in_h, in_w) == tuple(size):
        return images
    shrink = size[0] < in_h or size[1] < in_w
    x = tf.image.resize(tf.cast(images, tf.float32), size, method="bilinear", antialias=shrink)
    return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)


def _resize_masks_tf(masks, size):
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


def _resize_images_cv2(images, size):
    if images.shape[1:3] == tuple(size):
        return images
    interp = _cv2_interpolation(images.shape[1:3], size)
    out = np.empty((len(images), size[0], size[1], images.shape[3]), dtype=np.uint8)
    for i, img in enumerate(images):
        out[i] = cv2.resize(img, (size[1], size[0]), interpolation=interp).reshape(out.shape[1:])
    return out


def _resize_masks_cv2(masks, size):
    if masks.shape[1:3] == tuple(size):
        return masks
    interp = _cv2_interpolation(masks.shape[1:3], size)
    out = np.empty((len(masks), size[0], size[1], masks.shape[3]), dtype=np.uint8)
    for i, m in enumerate(masks):
        r = cv2.resize(m.astype(np.float32), (size[1], size[0]), interpolation=interp)
        out[i] = np.where(r > 1.0, MISSING_MASK, r >= 0.5).reshape(out.shape[1:])
    return out


def _unlabelled_np(masks):
    """``(B, 1, 1, M)`` True where a float mask channel is :data:`MISSING_MASK`."""
    return masks.max(axis=(1, 2), keepdims=True) > 1.0


def _relabel_np(masks, unlabelled):
    """Set the channels flagged ``unlabelled`` (before augmentation) back to the sentinel."""
    return np.where(unlabelled, np.float32(MISSING_MASK), masks).astype(np.float32)


# A layer may apply its transform to NumPy batches faster than with its own ops
# (``RandomAffine``: OpenCV); it says so with a true ``numpy_fast_path`` and offers
# ``transform_numpy(images, transformation, segmentation_masks=None) -> (images, masks)``.


def _numpy_fast_path(layer):
    return bool(getattr(layer, "numpy_fast_path", False))


def _apply_layer_tf(layer, x, masks, transformation):
    """Apply one drawn transform inside tf.data (the layer's NumPy fast path if it has one)."""
    if not _numpy_fast_path(layer):
        x = layer.transform_images(x, transformation, training=True)
        if masks is not None:
            masks = layer.transform_segmentation_masks(masks, transformation, training=True)
        return x, masks

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


def _augment_np(augmenter, x, masks):
    """Run the augmenter eagerly on NumPy batches (NumPy fast paths where layers have one)."""
    layers = _two_phase_layers(augmenter, masks is not None)
    if not layers:
        if masks is None:
            return keras.ops.convert_to_numpy(augmenter(x, training=True)), None
        out = augmenter({"images": x, "segmentation_masks": masks}, training=True)
        return (
            keras.ops.convert_to_numpy(out["images"]),
            keras.ops.convert_to_numpy(out["segmentation_masks"]),
        )
    for layer in layers:
        data = x if masks is None else {"images": x, "segmentation_masks": masks}
        t = layer.get_random_transformation(data, training=True)
        if _numpy_fast_path(layer):
            x, masks = layer.transform_numpy(x, t, masks)
        else:
            x = keras.ops.convert_to_numpy(layer.transform_images(x, t, training=True))
            if masks is not None:
                masks = keras.ops.convert_to_numpy(
                    layer.transform_segmentation_masks(masks, t, training=True)
                )
    return x, masks


def _to_channels_tf(x, channels):
    have = x.shape[-1]
    if have == channels:
        return x
    if have == 1:
        return tf.repeat(x, channels, axis=-1)
    return tf.image.rgb_to_grayscale(x)


def _to_channels_np(x, channels):
    have = x.shape[-1]
    if have == channels:
        return x
    if have == 1:
        return np.repeat(x, channels, axis=-1)
    weights = np.asarray([0.2989, 0.5870, 0.1140], dtype=np.float32)
    return (x @ weights)[..., None].astype(x.dtype)


# --------------------------------------------------------------------------------------------
# tf.data


def _materialise(source, n, size, resize):
    """All ``n`` rows of ``source`` resized into one uint8 array.

    Chunks of ``_CHUNK`` rows are read and resized by a parallel ``tf.data`` map, so reading
    (NumPy/h5py) and resizing (TensorFlow) overlap and use every core.
    """
    h, w = size
    shape = tuple(source.shape)
    store = np.empty((n, h, w, shape[-1]), dtype=np.uint8)

    def read(start, stop):
        return source.read(np.arange(start, stop))

    def load(start):
        stop = tf.minimum(start + _CHUNK, n)
        chunk = tf.numpy_function(read, [start, stop], tf.uint8, stateful=False)
        chunk.set_shape((None,) + shape)
        return start, resize(chunk, size)

    chunks = tf.data.Dataset.range(0, n, _CHUNK)
    chunks = chunks.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    for start, chunk in chunks.as_numpy_iterator():
        store[start : start + len(chunk)] = chunk
    return store


def _build(
    image_rows,
    n,
    *,
    targets,
    mask_rows,
    batch_size,
    size,
    channels,
    training,
    augment,
    seed,
    cache,
    drop_remainder,
    prefetch,
    memory_limit,
):
    in_h, in_w, in_c = image_rows.shape
    _check_channels(channels, in_c)
    size = size or (in_h, in_w)
    resize_needed = size != (in_h, in_w)
    augmenter = _resolve_augment(augment, seed) if training else None
    n_mask = None if mask_rows is None else (mask_rows.shape[2] if len(mask_rows.shape) == 3 else 1)
    # masks with MISSING_MASK channels: their flags ride along and are put back at the end
    partial = _has_unlabelled(mask_rows)

    def read_masks(idx):
        return _with_channel(mask_rows.read(idx))

    # 1. where rows come from: a resized uint8 cache, or the source (resized per batch)
    out_bytes = n * size[0] * size[1] * (in_c + (n_mask or 0))
    image_fn, mask_fn, resize_in_graph = image_rows.read, read_masks, resize_needed
    if cache and resize_needed and out_bytes <= memory_limit:
        store = _materialise(image_rows, n, size, _resize_images_tf)
        image_fn, resize_in_graph = store.__getitem__, False
        if mask_rows is not None:
            mask_store = _materialise(
                _ArrayLike(read_masks, (in_h, in_w, n_mask)), n, size, _resize_masks_tf
            )
            mask_fn = mask_store.__getitem__

    y_array = None if targets is None else np.asarray(targets, dtype=np.float32)
    seg = mask_rows is not None

    def read(idx):
        out = [image_fn(idx)]
        if seg:
            out.append(mask_fn(idx))
        elif y_array is not None:
            out.append(y_array[idx])
        return tuple(out)

    tout = [tf.uint8] + ([tf.uint8] if seg else [tf.float32] if y_array is not None else [])
    batch_dim = batch_size if drop_remainder else None
    src_hw = (in_h, in_w) if resize_in_graph else size

    def load(idx):
        parts = tf.numpy_function(read, [idx], tout, stateful=False)
        images = parts[0]
        images.set_shape((batch_dim, src_hw[0], src_hw[1], in_c))
        if resize_in_graph:
            images = _resize_images_tf(images, size)
        x = tf.cast(images, tf.float32)
        if seg:
            masks = parts[1]
            masks.set_shape((batch_dim, src_hw[0], src_hw[1], n_mask))
            if resize_in_graph:
                masks = _resize_masks_tf(masks, size)
            if partial:
                return x, tf.cast(masks, tf.float32), tf.reduce_max(masks, axis=(1, 2)) > 1
            return x, tf.cast(masks, tf.float32)
        if y_array is not None:
            y = parts[1]
            y.set_shape((batch_dim,) + y_array.shape[1:])
            return x, y
        return (x,)

    def augment_batch(x, *rest):
        if seg:
            d = augmenter({"images": x, "segmentation_masks": rest[0]}, training=True)
            return (d["images"], d["segmentation_masks"], *rest[1:])
        return (augmenter(x, training=True),) + rest

    layers = _two_phase_layers(augmenter, seg)

    def sample(x, *rest):
        data = {"images": x, "segmentation_masks": rest[0]} if seg else x
        return (x,) + rest + (tuple(lay.get_random_transformation(data) for lay in layers),)

    def transform(x, *rest):
        *rest, transformations = rest
        masks = rest[0] if seg else None
        for lay, t in zip(layers, transformations):
            x, masks = _apply_layer_tf(lay, x, masks, t)
        return (x, masks, *rest[1:]) if seg else (x, *rest)

    def finish(x, *rest):
        x = _to_channels_tf(x, channels)
        if partial:
            masks, unlabelled = rest
            rest = (tf.where(unlabelled[:, None, None, :], float(MISSING_MASK), masks),)
        return (x,) + rest if rest else x

    ds = tf.data.Dataset.range(n)
    if training:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if layers:
        # Random parameters are drawn one batch at a time, in batch order, so a seeded run
        # is reproducible; the warps (the costly part) then run in parallel.
        ds = ds.map(sample, num_parallel_calls=None)
        ds = ds.map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    elif augmenter is not None:
        # An opaque augmenter runs one batch at a time for the same reason.
        ds = ds.map(augment_batch, num_parallel_calls=None)
    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds


def _two_phase_layers(augmenter, seg):
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


class _ArrayLike:
    """A row source from a function (used to resize masks through :func:`_materialise`)."""

    def __init__(self, fn, shape):
        self.read = fn
        self.shape = shape


def make_dataset(
    images,
    targets=None,
    *,
    batch_size,
    image_size=None,
    channels=3,
    training=False,
    augment=None,
    seed=0,
    cache=True,
    masks=None,
    drop_remainder=False,
    prefetch=True,
    memory_limit=DEFAULT_MEMORY_LIMIT,
):
    """A ``tf.data.Dataset`` of batches from in-memory uint8 images.

    Args:
        images: uint8 ``(N, H, W, C)`` (or ``(N, H, W)``), C = 1 or 3.
        targets: ``(N,)`` or ``(N, K)`` labels (NaN kept), or ``None``.
        batch_size: images per batch.
        image_size: ``(height, width)`` or an int; ``None`` keeps the input size.
        channels: 1 or 3 output channels (grey is repeated; RGB → grey by luminance).
        training: shuffle (seeded, new order each epoch) and augment.
        augment: an augmenter (a callable such as :func:`heartcv.data.augment.build_augmenter`'s
            result), or a mapping/dataclass for :func:`~heartcv.data.augment.augmenter_from_config`
            (seeded with ``seed``); used only when ``training``.
        seed: shuffle seed (and augmenter seed when ``augment`` is a config).
        cache: keep the images resized once to uint8 in memory when they fit in
            ``memory_limit`` (otherwise resize every batch).
        masks: segmentation masks ``(N, H, W)`` or ``(N, H, W, M)`` in {0, 1}; then the
            dataset yields ``(image, mask)`` with float32 masks ``(B, h, w, M)``. A channel
            filled with :data:`~heartcv.losses.MISSING_MASK` (no reference for that image)
            comes out filled with it, resized and augmented or not.
        drop_remainder: drop the last incomplete batch.
        prefetch: end with ``prefetch(AUTOTUNE)``.
        memory_limit: bytes allowed for the resized cache.

    Returns:
        ``tf.data.Dataset`` of ``(images, targets)``, ``(images, masks)`` or ``images``
        alone; images float32 ``(B, h, w, channels)`` in [0, 255]. Under another Keras
        backend, an :class:`ArraySequence` of the same batches (OpenCV resizing).

    Raises:
        TypeError: images not uint8.
        ValueError: shapes or sizes that do not agree, bad ``channels``/``image_size``.
    """
    if not uses_tf_data():
        return ArraySequence(images, targets, batch_size=batch_size, image_size=image_size,
                             channels=channels, training=training, augment=augment, seed=seed,
                             cache=cache, masks=masks, drop_remainder=drop_remainder,
                             memory_limit=memory_limit, **_loader_options())
    images = _as_images(images)
    n = len(images)
    batch_size = _positive_int("batch_size", batch_size)
    mask_rows = _check_arrays(images, targets, masks)
    return _build(
        _ArrayRows(images),
        n,
        targets=targets,
        mask_rows=mask_rows,
        batch_size=batch_size,
        size=_as_size(image_size),
        channels=channels,
        training=training,
        augment=augment,
        seed=seed,
        cache=cache,
        drop_remainder=drop_remainder,
        prefetch=prefetch,
        memory_limit=memory_limit,
    )


def _check_arrays(images, targets, masks):
    """Validate :func:`make_dataset`'s targets / masks against ``images``; the mask rows."""
    n = len(images)
    if targets is not None and masks is not None:
        raise ValueError("Expected `targets` or `masks`, not both. Received: both")
    if targets is not None and len(targets) != n:
        raise ValueError(
            f"Expected one target per image ({n}). Received: len(targets)={len(targets)}"
        )
    if masks is None:
        return None
    masks = np.asarray(masks)
    if masks.shape[:3] != images.shape[:3] or masks.ndim not in (3, 4):
        raise ValueError(
            f"Expected `masks` of shape (N, H, W[, M]) matching images {images.shape[:3]}. "
            f"Received: masks.shape={masks.shape}"
        )
    return _ArrayRows(masks.astype(np.uint8, copy=False))


# --------------------------------------------------------------------------------------------
# bundles


class _Selection(NamedTuple):
    rows: np.ndarray
    targets: np.ndarray | None
    use_masks: bool
    image_shape: tuple
    mask_shape: tuple | None


def _select(bundle, split, indices, target):
    """Check leakage and pick the rows and targets of one split of an open bundle."""
    assert_disjoint(bundle.patient_id, bundle.split)
    if target not in _TARGETS:
        raise ValueError(f"Expected `target` in {_TARGETS}. Received: target={target!r}")
    if target == "auto":
        target = "masks" if bundle.task == "segmentation" else "labels"
    if target == "masks" and bundle.masks is None:
        raise ValueError(f"Bundle {bundle.path} has no masks. Received: target='masks'")
    if target == "labels" and bundle.labels is None:
        raise ValueError(f"Bundle {bundle.path} has no labels. Received: target='labels'")
    if indices is None:
        if split is None:
            raise ValueError(
                "Expected a `split` name or `indices`. Received: split=None, indices=None"
            )
        rows = bundle.indices(split)
    else:
        rows = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(bundle)
        if len(rows) and (rows.min() < 0 or rows.max() >= n):
            raise ValueError(
                f"Expected `indices` in [0, {n}) for {bundle.path}. "
                f"Received: indices with min {rows.min()}, max {rows.max()}"
            )
        if split is not None:
            outside = rows[bundle.split[rows] != split]
            if len(outside):
                raise ValueError(
                    f"Expected `indices` inside split {split!r}. Received: index {int(outside[0])} "
                    f"of split {bundle.split[outside[0]]!r}"
                )
    if not len(rows):
        raise ValueError(
            f"No samples in split {split!r} of {bundle.path}. Received: split={split!r}"
        )
    targets = bundle.labels[rows] if target == "labels" else None
    use_masks = target == "masks"
    mask_shape = None
    if use_masks:
        ms = bundle.masks.shape
        mask_shape = (ms[1], ms[2], ms[3] if len(ms) == 4 else 1)
    return _Selection(rows, targets, use_masks, tuple(bundle.images.shape[1:]), mask_shape)


def _split_bytes(sel, size=None):
    h, w = size or sel.image_shape[:2]
    per = h * w * (sel.image_shape[-1] + (sel.mask_shape[-1] if sel.mask_shape else 0))
    return len(sel.rows) * per


def _will_cache(sel, size, memory_limit):
    """Whether :func:`_build` will keep a resized cache for this selection."""
    return size is not None and size != sel.image_shape[:2] and (
        _split_bytes(sel, size) <= memory_limit
    )


def _bundle_rows(path, split, indices, target, size, cache, memory_limit):
    """Select a split's rows and where they come from: ``(sel, cached, images, masks)``.

    A resized cache that fits in ``memory_limit`` is built later chunk by chunk from the file
    (never holding the split at full size); otherwise a split that fits is read once into
    memory; else its rows stream from the file. ``masks`` is None without masks.
    """
    with open_bundle(path) as b:
        sel = _select(b, split, indices, target)
        cached = bool(cache and _will_cache(sel, size, memory_limit))
        if not cached and _split_bytes(sel) <= memory_limit:
            images = _ArrayRows(_read_any(b.images, sel.rows))
            masks = _ArrayRows(_read_any(b.masks, sel.rows)) if sel.use_masks else None
            return sel, cached, images, masks
    images = _BundleRows(path, "images", sel.rows, sel.image_shape)
    masks = _BundleRows(path, "masks", sel.rows, sel.mask_shape) if sel.use_masks else None
    return sel, cached, images, masks


def dataset_from_bundle(
    path,
    split,
    *,
    batch_size,
    image_size,
    channels=3,
    training=False,
    augment=None,
    seed=0,
    cache=True,
    indices=None,
    target="auto",
    drop_remainder=False,
    prefetch=True,
    memory_limit=DEFAULT_MEMORY_LIMIT,
):
    """A ``tf.data.Dataset`` of one split of an HDF5 bundle (see :mod:`heartcv.data.bundle`).

    Checks that no patient appears in two splits of the bundle (``LeakageError``). A split
    whose images (and masks) take at most ``memory_limit`` bytes at the bundle's resolution
    is read into memory once; a larger one is streamed from the file every epoch (one h5py
    handle per process), unless ``cache`` and its resized copy fits in ``memory_limit``,
    which is then built in one streaming pass.

    Args:
        path: bundle file.
        split: ``"train"``, ``"val"``, ``"test"``; may be ``None`` when ``indices`` is given.
        batch_size: images per batch.
        image_size: ``(height, width)`` or an int; ``None`` keeps the bundle's size.
        channels: 1 or 3 output channels.
        training: shuffle (seeded) and augment.
        augment: augmenter or augmentation config (see :func:`make_dataset`).
        seed: shuffle (and config augmenter) seed.
        cache: keep the resized uint8 images in memory when they fit.
        indices: bundle rows to use instead of the whole split (e.g. a cross-validation fold);
            they must lie in ``split`` when both are given.
        target: ``"labels"``, ``"masks"`` or ``"auto"`` (masks for segmentation bundles).
        drop_remainder: drop the last incomplete batch.
        prefetch: end with ``prefetch(AUTOTUNE)``.
        memory_limit: bytes; see above.

    Returns:
        ``tf.data.Dataset`` of ``(images, labels)`` (labels ``(B, K)`` float32, NaN unknown)
        or ``(images, masks)``; under another Keras backend, a :class:`BundleSequence`.

    Raises:
        FileNotFoundError, heartcv.data.bundle.BundleError: the bundle cannot be read.
        heartcv.data.splits.LeakageError: a patient is in more than one split.
        ValueError: unknown split or target, empty selection.
    """
    if not uses_tf_data():
        return BundleSequence(path, split, batch_size=batch_size, image_size=image_size,
                              channels=channels, training=training, augment=augment, seed=seed,
                              cache=cache, indices=indices, target=target,
                              drop_remainder=drop_remainder, memory_limit=memory_limit,
                              **_loader_options())
    batch_size = _positive_int("batch_size", batch_size)
    size = _as_size(image_size)
    sel, _, image_rows, mask_rows = _bundle_rows(path, split, indices, target, size, cache,
                                                 memory_limit)
    common = dict(
        batch_size=batch_size,
        size=size,
        channels=channels,
        training=training,
        augment=augment,
        seed=seed,
        cache=cache,
        drop_remainder=drop_remainder,
        prefetch=prefetch,
        memory_limit=memory_limit,
    )
    return _build(image_rows, len(sel.rows), targets=sel.targets, mask_rows=mask_rows, **common)


# --------------------------------------------------------------------------------------------
# PyDataset for non-TensorFlow backends


class _RowsSequence(keras.utils.PyDataset):
    """Batches of uint8 rows as a ``PyDataset`` (shared by :class:`BundleSequence` and
    :class:`ArraySequence`)."""

    def _setup(self, image_rows, mask_rows, targets, n, image_shape, cached, *, batch_size,
               image_size, channels, training, augment, seed, drop_remainder):
        self.batch_size = _positive_int("batch_size", batch_size)
        self.training = bool(training)
        self.seed = seed
        self.drop_remainder = bool(drop_remainder)
        size = _as_size(image_size)
        self._cached, self._images, self._masks = cached, image_rows, mask_rows
        _check_channels(channels, image_shape[-1])
        self.channels = channels
        self.size = size or tuple(image_shape[:2])
        self.n = n
        self.targets = targets
        self.use_masks = mask_rows is not None
        if self._cached:
            chunks = [np.arange(s, min(s + _CHUNK, self.n)) for s in range(0, self.n, _CHUNK)]
            self._images = _ArrayRows(np.concatenate([self._load_images(c) for c in chunks]))
            if self._masks is not None:
                self._masks = _ArrayRows(np.concatenate([self._load_masks(c) for c in chunks]))
        self.augmenter = _resolve_augment(augment, seed) if self.training else None
        self._epoch = 0
        self._order = self._make_order()

    def _load_images(self, idx):
        return _resize_images_cv2(self._images.read(idx), self.size)

    def _load_masks(self, idx):
        return _resize_masks_cv2(_with_channel(self._masks.read(idx)), self.size)

    def _make_order(self):
        if not self.training:
            return np.arange(self.n)
        return np.random.default_rng([int(self.seed), self._epoch]).permutation(self.n)

    def __len__(self):
        if self.drop_remainder:
            return self.n // self.batch_size
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index out of range [0, {len(self)}). Received: index={index}")
        idx = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        if self._cached:
            x = self._images.read(idx)
            m = self._masks.read(idx) if self._masks is not None else None
        else:
            x = self._load_images(idx)
            m = self._load_masks(idx) if self._masks is not None else None
        x = x.astype(np.float32)
        m = None if m is None else m.astype(np.float32)
        if self.augmenter is not None:
            unlabelled = None if m is None else _unlabelled_np(m)
            x, m = _augment_np(self.augmenter, x, m)
            if unlabelled is not None and unlabelled.any():
                m = _relabel_np(m, unlabelled)
        x = _to_channels_np(x, self.channels)
        if m is not None:
            return x, m
        if self.targets is not None:
            return x, self.targets[idx]
        return (x,)

    def on_epoch_end(self):
        self._epoch += 1
        self._order = self._make_order()

class BundleSequence(_RowsSequence):
    """The batches of :func:`dataset_from_bundle` as a ``keras.utils.PyDataset``.

    For Keras backends other than TensorFlow, where a ``tf.data`` pipeline would run the
    augmentation layers in TensorFlow anyway. Resizing uses OpenCV (``INTER_AREA`` when
    shrinking, ``INTER_LINEAR`` otherwise), so values differ from the ``tf.data`` path by a
    few grey levels; shapes, order (without shuffling) and targets are the same.
    Augmentation draws each layer's random transform eagerly (any backend) and applies it
    as the ``tf.data`` path does (``RandomAffine.transform_numpy``'s OpenCV warp, the
    layers' ops otherwise).
    The shuffle is NumPy's (seeded by ``(seed, epoch)``), not tf.data's, so the training
    order differs from :func:`dataset_from_bundle`'s. With ``workers > 1`` the augmenter's
    random stream is shared by threads, so augmented batches are not reproducible.

    Args:
        path, split, batch_size, image_size, channels, training, augment, seed, cache,
            indices, target, drop_remainder, memory_limit: as :func:`dataset_from_bundle`.
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` for ``PyDataset``.
    """

    def __init__(
        self,
        path,
        split,
        *,
        batch_size,
        image_size,
        channels=3,
        training=False,
        augment=None,
        seed=0,
        cache=True,
        indices=None,
        target="auto",
        drop_remainder=False,
        memory_limit=DEFAULT_MEMORY_LIMIT,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _positive_int("batch_size", batch_size)
        self.path = Path(path)
        size = _as_size(image_size)
        sel, cached, images, masks = _bundle_rows(path, split, indices, target, size, cache,
                                                  memory_limit)
        self._setup(images, masks, sel.targets, len(sel.rows), sel.image_shape, cached,
                    batch_size=batch_size, image_size=image_size, channels=channels,
                    training=training, augment=augment, seed=seed,
                    drop_remainder=drop_remainder)


class ArraySequence(_RowsSequence):
    """The batches of :func:`make_dataset` (in-memory uint8 images) as a ``PyDataset``.

    What :func:`make_dataset` returns under a Keras backend other than TensorFlow; same
    arguments, resizing, augmentation and batch order rules as :class:`BundleSequence`
    (``prefetch`` does not apply). ``**kwargs``: ``workers``, ``use_multiprocessing``,
    ``max_queue_size`` for ``PyDataset``.
    """

    def __init__(
        self,
        images,
        targets=None,
        *,
        batch_size,
        image_size=None,
        channels=3,
        training=False,
        augment=None,
        seed=0,
        cache=True,
        masks=None,
        drop_remainder=False,
        memory_limit=DEFAULT_MEMORY_LIMIT,
        **kwargs,
    ):
        super().__init__(**kwargs)
        images = _as_images(images)
        n = len(images)
        mask_rows = _check_arrays(images, targets, masks)
        size = _as_size(image_size)
        per = images.shape[-1] + (0 if masks is None else (mask_rows.shape[-1]
                                                             if len(mask_rows.shape) == 3 else 1))
        cached = bool(cache and size is not None and size != images.shape[1:3]
                      and n * size[0] * size[1] * per <= memory_limit)
        y = None if targets is None or masks is not None else np.asarray(targets, np.float32)
        self._setup(_ArrayRows(images), mask_rows, y, n, images.shape[1:], cached,
                    batch_size=batch_size, image_size=image_size, channels=channels,
                    training=training, augment=augment, seed=seed,
                    drop_remainder=drop_remainder)


# --------------------------------------------------------------------------------------------
# class weights and label frequencies


def class_weights(labels, task):
    """``{class: weight}`` for ``Model.fit(class_weight=...)``, scikit-learn's "balanced" rule.

    ``weight_c = n / (n_classes * n_c)`` over the samples with a known label. Compute it from
    the training split only.

    Args:
        labels: binary: ``(N,)`` or ``(N, 1)`` 0/1; multiclass: one-hot ``(N, K)`` or
            integer ``(N,)``. Rows with NaN are ignored.
        task: ``"binary"`` or ``"multiclass"``.

    Returns:
        dict mapping class index to float weight.

    Raises:
        ValueError: a multilabel/segmentation task (Keras would argmax the targets; use
            :func:`label_frequencies` with a weighted loss), a class with no sample, or values
            other than 0/1 for binary.
    """
    if task not in ("binary", "multiclass"):
        raise ValueError(
            "Expected `task` 'binary' or 'multiclass' (Keras argmaxes `class_weight` for "
            "multi-label targets; use `label_frequencies` and a weighted loss). "
            f"Received: task={task!r}"
        )
    y = np.asarray(labels, dtype=np.float64)
    if task == "binary":
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(
                f"Expected binary `labels` of shape (N,) or (N, 1). "
                f"Received: labels.shape={y.shape}"
            )
        y = y[~np.isnan(y)]
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("Expected binary `labels` of 0, 1 or NaN. Received: other values")
        classes, n_classes = y.astype(np.int64), 2
    elif y.ndim == 2:
        y = y[~np.isnan(y).any(axis=1)]
        classes, n_classes = np.argmax(y, axis=1), y.shape[1]
    elif y.ndim == 1:
        y = y[~np.isnan(y)]
        if len(y) and (np.any(y < 0) or np.any(y != np.round(y))):
            raise ValueError("Expected integer class `labels` >= 0. Received: other values")
        classes = y.astype(np.int64)
        n_classes = int(classes.max()) + 1 if len(classes) else 0
    else:
        raise ValueError(
            f"Expected multiclass `labels` of shape (N,) or (N, K). "
            f"Received: labels.shape={y.shape}"
        )
    counts = np.bincount(classes, minlength=n_classes)
    if not len(classes) or (counts == 0).any():
        missing = np.flatnonzero(counts == 0).tolist() if len(classes) else list(range(n_classes))
        raise ValueError(
            f"Expected every class to have a labelled sample. "
            f"Received: no samples of class(es) {missing}"
        )
    n = len(classes)
    return {int(c): float(n / (n_classes * counts[c])) for c in range(n_classes)}


def label_frequencies(labels):
    """Positive and negative frequency of each label, NaN (unknown) ignored.

    For the weighted binary cross-entropy of multi-label chest X-ray classification
    (Rajpurkar et al. 2017, CheXNet): positives weighted by ``negative`` and negatives by
    ``positive``. Compute it from the training split only.

    Args:
        labels: ``(N, K)`` (or ``(N,)``) of 0, 1 or NaN.

    Returns:
        dict with float64 arrays ``"positive"`` and ``"negative"`` (``(K,)``, summing to 1
        per label) and int ``"count"`` (known values per label).

    Raises:
        ValueError: values other than 0/1/NaN, or a label with no known value.
    """
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise ValueError(f"Expected `labels` of shape (N, K). Received: labels.shape={y.shape}")
    known = ~np.isnan(y)
    if not np.isin(y[known], (0.0, 1.0)).all():
        raise ValueError("Expected `labels` of 0, 1 or NaN. Received: other values")
    count = known.sum(axis=0)
    if (count == 0).any():
        raise ValueError(
            f"Expected every label to have a known value. Received: none for label column(s) "
            f"{np.flatnonzero(count == 0).tolist()}"
        )
    positive = np.nansum(y, axis=0) / count
    return {"positive": positive, "negative": 1.0 - positive, "count": count}

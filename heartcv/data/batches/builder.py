"""The one batch builder: :func:`batches` over :class:`~heartcv.data.batches.rows.Rows`.

:func:`batches` returns a ``tf.data.Dataset`` under the TensorFlow backend and a
``keras.utils.PyDataset`` otherwise (:func:`uses_tf_data`); :func:`make_dataset` (in-memory
arrays) and :func:`dataset_from_bundle` (a bundle split) build the rows and call it.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from heartcv.data.batches import checks
from heartcv.data.batches.pydataset import RowBatches, cache_cv2
from heartcv.data.batches.rows import ArrayRows, Rows, bundle_rows
from heartcv.data.batches.tfdata import cache_tf, tf_batches

DEFAULT_MEMORY_LIMIT = 4 * 2**30
"""Bytes a split may take in memory (at the bundle's resolution) before it is streamed."""

ENGINES = ("auto", "tf.data", "pydataset")


def uses_tf_data() -> bool:
    """Whether :func:`batches` (and :func:`make_dataset` / :func:`dataset_from_bundle`) build
    ``tf.data`` pipelines (the TensorFlow backend) rather than ``PyDataset`` sequences."""
    return keras.backend.backend() == "tensorflow"


def _prepare(rows: Rows, *, batch_size, image_size, channels, training, augment, seed, cache,
             memory_limit, cache_fn):
    """Check the options, build the resized cache if asked and it fits; the engine's options."""
    batch_size = checks.positive_int("batch_size", batch_size)
    size = checks.as_size(image_size)
    in_h, in_w, in_c = rows.images.shape
    checks.check_channels(channels, in_c)
    size = size or (in_h, in_w)
    if cache and size != (in_h, in_w) and rows.nbytes(size) <= memory_limit:
        rows = cache_fn(rows, size)
    augmenter = checks.resolve_augment(augment, seed) if training else None
    return rows, dict(batch_size=batch_size, size=size, channels=channels, training=training,
                      augmenter=augmenter, seed=seed)


def batches(rows: Rows, *, batch_size, image_size=None, channels=3, training=False,
            augment=None, seed=0, cache=True, drop_remainder=False, prefetch=True,
            memory_limit=DEFAULT_MEMORY_LIMIT, engine="auto", **loader):
    """Batches of ``rows``: float32 images in [0, 255] with their targets, masks, extra inputs
    and sample weights, as Keras' ``fit`` / ``predict`` take them.

    Args:
        rows: the row source (:class:`~heartcv.data.batches.rows.Rows`).
        batch_size: rows per batch.
        image_size: ``(height, width)`` or an int; ``None`` keeps the rows' size.
        channels: output channels (1 ↔ 3 convert; any other count must equal the rows').
        training: shuffle (seeded, new order each epoch) and augment.
        augment: an augmenter (callable) or an augmentation config; training only.
        seed: shuffle seed (and augmenter seed when ``augment`` is a config).
        cache: keep the images resized once to uint8 in memory when they fit.
        drop_remainder: drop the last incomplete batch.
        prefetch: end the ``tf.data`` pipeline with ``prefetch(AUTOTUNE)``.
        memory_limit: bytes allowed for the resized cache.
        engine: ``"auto"`` (``tf.data`` under TensorFlow, else ``PyDataset``), ``"tf.data"``
            or ``"pydataset"``.
        **loader: ``workers``, ``use_multiprocessing``, ``max_queue_size`` of the
            ``PyDataset`` (default: ``HEARTCV_DATA_WORKERS``, ``..._MULTIPROCESSING``).

    Returns:
        ``tf.data.Dataset`` or :class:`~heartcv.data.batches.pydataset.RowBatches` of
        ``(inputs, y[, sample_weight])`` (or the inputs alone without targets); ``inputs`` is
        the images, or ``{rows.image_key: images, **rows.extras}``.
    """
    if engine not in ENGINES:
        raise ValueError(f"Expected `engine` in {ENGINES}. Received: engine={engine!r}")
    if engine == "auto":
        engine = "tf.data" if uses_tf_data() else "pydataset"
    common = dict(batch_size=batch_size, image_size=image_size, channels=channels,
                  training=training, augment=augment, seed=seed, cache=cache,
                  memory_limit=memory_limit)
    if engine == "tf.data":
        rows, opts = _prepare(rows, cache_fn=cache_tf, **common)
        return tf_batches(rows, drop_remainder=drop_remainder, prefetch=prefetch, **opts)
    rows, opts = _prepare(rows, cache_fn=cache_cv2, **common)
    return RowBatches(rows, drop_remainder=drop_remainder, **opts,
                      **(loader or checks.loader_options()))


def array_rows(images, targets=None, *, masks=None, extras=None, sample_weights=None,
               image_key="image") -> Rows:
    """:class:`Rows` of in-memory uint8 images (checked) and their per-row data."""
    images = checks.as_images(images)
    masks = checks.check_arrays(images, targets, masks)
    extras, sample_weights = checks.check_inputs(len(images), extras, sample_weights)
    return Rows(ArrayRows(images), len(images), targets=None if masks is not None else targets,
                masks=None if masks is None else ArrayRows(masks), extras=extras,
                sample_weights=sample_weights, image_key=image_key,
                partial=masks is not None and bool(np.any(masks > 1)))


def _float_targets(targets):
    """:func:`make_dataset`'s targets are float32 (integer labels too)."""
    return None if targets is None else np.asarray(targets, np.float32)


def make_dataset(images, targets=None, *, batch_size, image_size=None, channels=3,
                 training=False, augment=None, seed=0, cache=True, masks=None,
                 drop_remainder=False, prefetch=True, memory_limit=DEFAULT_MEMORY_LIMIT):
    """A ``tf.data.Dataset`` of batches from in-memory uint8 images (:func:`batches`).

    Args:
        images: uint8 ``(N, H, W, C)`` (or ``(N, H, W)``).
        targets: ``(N,)`` or ``(N, K)`` labels (NaN kept), or ``None``.
        masks: segmentation masks ``(N, H, W)`` or ``(N, H, W, M)`` in {0, 1}; then the
            dataset yields ``(image, mask)`` with float32 masks ``(B, h, w, M)``. A channel
            filled with :data:`~heartcv.losses.MISSING_MASK` (no reference for that image)
            comes out filled with it, resized and augmented or not.
        batch_size, image_size, channels, training, augment, seed, cache, drop_remainder,
            prefetch, memory_limit: as :func:`batches`.

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
                             memory_limit=memory_limit, **checks.loader_options())
    rows = array_rows(images, _float_targets(targets), masks=masks)
    return batches(rows, batch_size=batch_size, image_size=image_size, channels=channels,
                   training=training, augment=augment, seed=seed, cache=cache,
                   drop_remainder=drop_remainder, prefetch=prefetch, memory_limit=memory_limit,
                   engine="tf.data")


def dataset_from_bundle(path, split, *, batch_size, image_size, channels=3, training=False,
                        augment=None, seed=0, cache=True, indices=None, target="auto",
                        drop_remainder=False, prefetch=True, memory_limit=DEFAULT_MEMORY_LIMIT):
    """A ``tf.data.Dataset`` of one split of an HDF5 bundle (see :mod:`heartcv.data.bundle`).

    Checks that no patient appears in two splits of the bundle (``LeakageError``). A split
    whose images (and masks) take at most ``memory_limit`` bytes at the bundle's resolution
    is read into memory once; a larger one is streamed from the file every epoch (one h5py
    handle per process), unless ``cache`` and its resized copy fits in ``memory_limit``,
    which is then built in one streaming pass.

    Args:
        path: bundle file.
        split: ``"train"``, ``"val"``, ``"test"``; may be ``None`` when ``indices`` is given.
        indices: bundle rows to use instead of the whole split (e.g. a cross-validation fold);
            they must lie in ``split`` when both are given.
        target: ``"labels"``, ``"masks"`` or ``"auto"`` (masks for segmentation bundles).
        batch_size, image_size, channels, training, augment, seed, cache, drop_remainder,
            prefetch, memory_limit: as :func:`batches`.

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
                              **checks.loader_options())
    checks.positive_int("batch_size", batch_size)
    rows = bundle_rows(path, split, indices, target, checks.as_size(image_size), cache,
                       memory_limit)
    return batches(rows, batch_size=batch_size, image_size=image_size, channels=channels,
                   training=training, augment=augment, seed=seed, cache=cache,
                   drop_remainder=drop_remainder, prefetch=prefetch, memory_limit=memory_limit,
                   engine="tf.data")


class BundleSequence(RowBatches):
    """The batches of :func:`dataset_from_bundle` as a ``keras.utils.PyDataset`` (what it
    returns under Keras backends other than TensorFlow; see
    :mod:`heartcv.data.batches.pydataset`). Same arguments; ``**kwargs``: ``workers``,
    ``use_multiprocessing``, ``max_queue_size`` for ``PyDataset``."""

    def __init__(self, path, split, *, batch_size, image_size, channels=3, training=False,
                 augment=None, seed=0, cache=True, indices=None, target="auto",
                 drop_remainder=False, memory_limit=DEFAULT_MEMORY_LIMIT, **kwargs):
        checks.positive_int("batch_size", batch_size)
        self.path = Path(path)
        rows = bundle_rows(path, split, indices, target, checks.as_size(image_size), cache,
                           memory_limit)
        rows, opts = _prepare(rows, batch_size=batch_size, image_size=image_size,
                              channels=channels, training=training, augment=augment, seed=seed,
                              cache=cache, memory_limit=memory_limit, cache_fn=cache_cv2)
        super().__init__(rows, drop_remainder=drop_remainder, **opts, **kwargs)


class ArraySequence(RowBatches):
    """The batches of :func:`make_dataset` (in-memory uint8 images) as a ``PyDataset``: what
    it returns under a Keras backend other than TensorFlow (``prefetch`` does not apply).
    ``**kwargs``: ``workers``, ``use_multiprocessing``, ``max_queue_size`` for ``PyDataset``."""

    def __init__(self, images, targets=None, *, batch_size, image_size=None, channels=3,
                 training=False, augment=None, seed=0, cache=True, masks=None,
                 drop_remainder=False, memory_limit=DEFAULT_MEMORY_LIMIT, **kwargs):
        rows = array_rows(images, _float_targets(targets), masks=masks)
        rows, opts = _prepare(rows, batch_size=batch_size, image_size=image_size,
                              channels=channels, training=training, augment=augment, seed=seed,
                              cache=cache, memory_limit=memory_limit, cache_fn=cache_cv2)
        super().__init__(rows, drop_remainder=drop_remainder, **opts, **kwargs)

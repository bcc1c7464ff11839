"""The ``tf.data`` path of the batch builder (the TensorFlow backend).

1. ``range(N)`` → seeded shuffle of *indices* (training only; a new order every epoch, the
   same sequence of orders every run) → ``batch``.
2. One parallel ``map`` reads the batch's rows with :meth:`Rows.load` (in a
   ``tf.numpy_function``) from the resized cache, the in-memory array or the HDF5 file, and
   resizes what was not cached.
3. Training only: the augmenter on the float batch, image and mask together; its layers'
   random parameters are drawn by a sequential ``map`` (so the random stream follows batch
   order and a seeded run repeats exactly) and applied by :func:`apply_layer` in a parallel
   ``map``. Then grey → ``channels``; the batch packed for Keras; ``prefetch``.
"""

from __future__ import annotations

import numpy as np

from heartcv.data.batches.rows import CHUNK, Rows
from heartcv.data.batches.transforms import (apply_layer, draw, pack, resize_images_tf,
                                             resize_masks_tf, run_opaque, tf, to_channels_tf,
                                             two_phase_layers)
from heartcv.losses import MISSING_MASK


class _Reader:
    """A row source from a function (the masks, through :func:`materialise`)."""

    def __init__(self, fn, shape):
        self.read = fn
        self.shape = shape


def materialise(source, n, size, resize):
    """All ``n`` rows of ``source`` resized into one uint8 array.

    Chunks of ``CHUNK`` rows are read and resized by a parallel ``tf.data`` map, so reading
    (NumPy/h5py) and resizing (TensorFlow) overlap and use every core.
    """
    h, w = size
    shape = tuple(source.shape)
    store = np.empty((n, h, w, shape[-1]), dtype=np.uint8)

    def read(start, stop):
        return source.read(np.arange(start, stop))

    def load(start):
        stop = tf.minimum(start + CHUNK, n)
        chunk = tf.numpy_function(read, [start, stop], tf.uint8, stateful=False)
        chunk.set_shape((None,) + shape)
        return start, resize(chunk, size)

    chunks = tf.data.Dataset.range(0, n, CHUNK)
    chunks = chunks.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    for start, chunk in chunks.as_numpy_iterator():
        store[start : start + len(chunk)] = chunk
    return store


def cache_tf(rows: Rows, size) -> Rows:
    """``rows`` with images (and masks) resized once into memory."""
    images = materialise(rows.images, rows.n, size, resize_images_tf)
    masks = None
    if rows.masks is not None:
        masks = materialise(_Reader(rows.masks.read, rows.masks.shape), rows.n, size,
                            resize_masks_tf)
    return rows.cached(images, masks)


def _loader(rows: Rows, size, batch_dim):
    """The parallel ``map`` function: :meth:`Rows.load` → a dict of float tensors."""
    names = rows.fields()
    specs = rows.specs()
    resize = tuple(rows.images.shape[:2]) != tuple(size)

    def load(idx):
        parts = tf.numpy_function(rows.load, [idx], [tf.as_dtype(d) for d, _ in specs],
                                  stateful=False)
        batch = {}
        for name, part, (_, shape) in zip(names, parts, specs):
            part.set_shape((batch_dim,) + tuple(shape))
            batch[name] = part
        images = resize_images_tf(batch["images"], size) if resize else batch["images"]
        batch["images"] = tf.cast(images, tf.float32)
        if "masks" in batch:
            masks = resize_masks_tf(batch["masks"], size) if resize else batch["masks"]
            if rows.partial:
                batch["unlabelled"] = tf.reduce_max(masks, axis=(1, 2)) > 1
            batch["masks"] = tf.cast(masks, tf.float32)
        return batch

    return load


def _augment_maps(ds, augmenter, seg):
    """Add the augmentation maps: draw in order, apply in parallel (or an opaque augmenter)."""
    layers = two_phase_layers(augmenter, seg)
    if layers:
        def sample(batch):
            return {**batch, "transformations": draw(layers, batch["images"], batch.get("masks"))}

        def transform(batch):
            batch = dict(batch)
            x, masks = batch["images"], batch.get("masks")
            for lay, t in zip(layers, batch.pop("transformations")):
                x, masks = apply_layer(lay, x, masks, t, graph=True)
            batch["images"] = x
            if seg:
                batch["masks"] = masks
            return batch

        # Random parameters are drawn one batch at a time, in batch order, so a seeded run
        # is reproducible; the warps (the costly part) then run in parallel.
        ds = ds.map(sample, num_parallel_calls=None)
        return ds.map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def augment_batch(batch):
        batch = dict(batch)
        batch["images"], masks = run_opaque(augmenter, batch["images"], batch.get("masks"))
        if seg:
            batch["masks"] = masks
        return batch

    # An opaque augmenter runs one batch at a time for the same reason.
    return ds.map(augment_batch, num_parallel_calls=None)


def tf_batches(rows: Rows, *, batch_size, size, channels, augmenter, training, seed,
               drop_remainder, prefetch):
    """A ``tf.data.Dataset`` of packed batches of ``rows`` (already cached if asked)."""
    batch_dim = batch_size if drop_remainder else None
    image_key = rows.image_key

    def finish(batch):
        batch = dict(batch)
        batch["images"] = to_channels_tf(batch["images"], channels)
        unlabelled = batch.pop("unlabelled", None)
        if unlabelled is not None:
            batch["masks"] = tf.where(unlabelled[:, None, None, :], float(MISSING_MASK),
                                      batch["masks"])
        out = pack(batch, image_key)
        return out[0] if len(out) == 1 else out

    ds = tf.data.Dataset.range(rows.n)
    if training:
        ds = ds.shuffle(rows.n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(_loader(rows, size, batch_dim), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
    if augmenter is not None:
        ds = _augment_maps(ds, augmenter, rows.masks is not None)
    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds

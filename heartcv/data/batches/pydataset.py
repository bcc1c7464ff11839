"""The ``PyDataset`` path of the batch builder (Keras backends other than TensorFlow).

The same batches as the ``tf.data`` path from the same :meth:`Rows.load` and
:func:`apply_layer`; resizing uses OpenCV (``INTER_AREA`` when shrinking, ``INTER_LINEAR``
otherwise), so values differ from the ``tf.data`` path by a few grey levels; shapes, order
(without shuffling) and targets are the same. The shuffle is NumPy's (seeded by
``(seed, epoch)``), not tf.data's, so the training order differs. With ``workers > 1`` the
augmenter's random stream is shared by threads, so augmented batches are not reproducible.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from heartcv.data.batches.rows import CHUNK, Rows
from heartcv.data.batches.transforms import (augment_np, pack, resize_images_cv2,
                                             resize_masks_cv2, to_channels_np)
from heartcv.losses import MISSING_MASK


def cache_cv2(rows: Rows, size) -> Rows:
    """``rows`` with images (and masks) resized once into memory, chunk by chunk."""
    chunks = [np.arange(s, min(s + CHUNK, rows.n)) for s in range(0, rows.n, CHUNK)]
    images = np.concatenate([resize_images_cv2(rows.images.read(c), size) for c in chunks])
    masks = None
    if rows.masks is not None:
        masks = np.concatenate([resize_masks_cv2(rows.masks.read(c), size) for c in chunks])
    return rows.cached(images, masks)


class RowBatches(keras.utils.PyDataset):
    """Batches of :class:`Rows` as a ``keras.utils.PyDataset``.

    Args:
        rows: the row source (already cached if asked).
        batch_size, size, channels, training, augmenter, seed, drop_remainder: as
            :func:`heartcv.data.batches.batches` (``size`` a ``(height, width)`` pair).
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` for ``PyDataset``.
    """

    def __init__(self, rows: Rows, *, batch_size, size, channels, training, augmenter, seed,
                 drop_remainder, **kwargs):
        super().__init__(**kwargs)
        self.rows = rows
        self.n = rows.n
        self.batch_size = int(batch_size)
        self.size = tuple(size)
        self.channels = channels
        self.training = bool(training)
        self.augmenter = augmenter
        self.seed = seed
        self.drop_remainder = bool(drop_remainder)
        self.targets = rows.targets
        self.use_masks = rows.masks is not None
        self._epoch = 0
        self._order = self._make_order()

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
        batch = dict(zip(self.rows.fields(), self.rows.load(idx)))
        x = resize_images_cv2(batch["images"], self.size).astype(np.float32)
        m = batch.get("masks")
        if m is not None:
            m = resize_masks_cv2(m, self.size).astype(np.float32)
        if self.augmenter is not None:
            unlabelled = None if m is None else m.max(axis=(1, 2), keepdims=True) > 1.0
            x, m = augment_np(self.augmenter, x, m)
            if unlabelled is not None and unlabelled.any():
                m = np.where(unlabelled, np.float32(MISSING_MASK), m).astype(np.float32)
        batch["images"] = to_channels_np(x, self.channels)
        if m is not None:
            batch["masks"] = m
        return pack(batch, self.rows.image_key)

    def on_epoch_end(self):
        self._epoch += 1
        self._order = self._make_order()

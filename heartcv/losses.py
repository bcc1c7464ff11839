"""Losses, all registered (package ``heartcv``) so saved models reload without custom_objects.

Partial labels: a segmentation target channel holding :data:`MISSING_MASK` (any value above
1) is a structure that image has no reference mask for. :class:`DiceLoss`,
:class:`BCEDiceLoss` and the Dice/IoU metrics of :mod:`heartcv.metrics` leave such channels
out image by image (weight 0), so the channels that are labelled score as they would alone;
without unlabelled channels the values are the same as before, bit for bit.
"""

from __future__ import annotations

import keras
from keras import ops

MISSING_MASK = 255
"""The target value of a mask channel an image has no reference for (uint8 masks hold 0/1).

Written by :func:`heartcv.data.sources.select_structures` for a structure a bundle lacks
and kept through resizing and augmentation by :mod:`heartcv.data.batches`; read as "any
value above 1" (:func:`labelled_channels`), so interpolation near the image edge cannot turn
an unlabelled channel into a labelled one."""


@keras.saving.register_keras_serializable(package="heartcv")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Per-label weighted BCE for multi-label targets (unknown labels, NaN, are ignored).

    For label k: ``L = -(w⁺_k · y log p + w⁻_k · (1 - y) log(1 - p))`` averaged over the
    known entries. Following the cxr14 transfer-learning paper (and CheXNet), the positive
    weight is the label's negative frequency and the negative weight its positive frequency,
    both computed on the training split only (``heartcv.data.batches.label_frequencies``).

    Args:
        positive_weights: list of K floats (w⁺).
        negative_weights: list of K floats (w⁻).
        epsilon: clipping of probabilities.
    """

    def __init__(self, positive_weights, negative_weights, epsilon=1e-7,
                 name="weighted_binary_crossentropy", reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        self.positive_weights = [float(w) for w in positive_weights]
        self.negative_weights = [float(w) for w in negative_weights]
        if len(self.positive_weights) != len(self.negative_weights):
            raise ValueError(
                "Expected `positive_weights` and `negative_weights` of equal length. Received: "
                f"{len(self.positive_weights)} and {len(self.negative_weights)}"
            )
        self.epsilon = float(epsilon)

    @classmethod
    def from_frequencies(cls, positive_frequency, **kwargs):
        """w⁺ = 1 - f, w⁻ = f from per-label positive frequencies f (training split)."""
        f = [float(x) for x in positive_frequency]
        return cls([1.0 - x for x in f], f, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.clip(ops.cast(y_pred, "float32"), self.epsilon, 1.0 - self.epsilon)
        known = ops.logical_not(ops.isnan(y_true))
        y = ops.where(known, y_true, ops.zeros_like(y_true))
        wp = ops.convert_to_tensor(self.positive_weights, dtype="float32")
        wn = ops.convert_to_tensor(self.negative_weights, dtype="float32")
        loss = -(wp * y * ops.log(y_pred) + wn * (1.0 - y) * ops.log(1.0 - y_pred))
        mask = ops.cast(known, "float32")
        return ops.sum(loss * mask, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)

    def get_config(self):
        return {**super().get_config(), "positive_weights": self.positive_weights,
                "negative_weights": self.negative_weights, "epsilon": self.epsilon}


def labelled_channels(y_true):
    """Float 1/0 per image and channel: 1 where the target channel is a reference mask.

    ``y_true`` ``(B, H, W, K)`` gives ``(B, 1, 1, K)``; other ranks (``(B, H, W)``: one
    structure) give one weight per image, ``(B, 1, 1)``. A channel is unlabelled when any of
    its values is above 1 (:data:`MISSING_MASK`).
    """
    y_true = ops.cast(y_true, "float32")
    rank = len(y_true.shape)
    axes = tuple(range(1, rank - 1)) if rank >= 4 else tuple(range(1, rank))
    return ops.cast(ops.max(y_true, axis=axes, keepdims=True) <= 1.0, "float32")


def _soft_dice(y_true, y_pred, smooth):
    """Soft Dice per image over every labelled channel together (unlabelled ones weigh 0)."""
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    weight = labelled_channels(y_true)
    # x * 1.0 is exact: with every channel labelled the sums are those of the plain Dice
    y_true, y_pred = y_true * weight, y_pred * weight
    axes = tuple(range(1, len(y_pred.shape)))
    inter = ops.sum(y_true * y_pred, axis=axes)
    denom = ops.sum(y_true, axis=axes) + ops.sum(y_pred, axis=axes)
    return (2.0 * inter + smooth) / (denom + smooth)


@keras.saving.register_keras_serializable(package="heartcv")
class DiceLoss(keras.losses.Loss):
    """1 − soft Dice per image (Milletari et al., V-Net, 2016).

    Target channels holding :data:`MISSING_MASK` are left out of that image's Dice (an image
    with none labelled scores 0 loss)."""

    def __init__(self, smooth=1.0, name="dice_loss", reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        self.smooth = float(smooth)

    def call(self, y_true, y_pred):
        return 1.0 - _soft_dice(y_true, y_pred, self.smooth)

    def get_config(self):
        return {**super().get_config(), "smooth": self.smooth}


@keras.saving.register_keras_serializable(package="heartcv")
class BCEDiceLoss(keras.losses.Loss):
    """Binary cross-entropy + ``dice_weight`` × Dice loss, per image.

    Partial labels: the cross-entropy of an image is the mean over its labelled channels
    (target channels holding :data:`MISSING_MASK` weigh 0), the Dice that of
    :class:`DiceLoss`; an image with every channel labelled gets exactly the plain loss.
    """

    def __init__(self, dice_weight=1.0, smooth=1.0, name="bce_dice_loss",
                 reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        self.dice_weight = float(dice_weight)
        self.smooth = float(smooth)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        weight = ops.broadcast_to(labelled_channels(y_true), ops.shape(y_true))
        target = y_true * weight  # unlabelled channels: 0, finite cross-entropy, weight 0
        axes = tuple(range(1, len(y_pred.shape)))
        pixels = ops.binary_crossentropy(target, y_pred)
        plain = ops.mean(ops.mean(pixels, axis=-1), axis=axes[:-1])  # keras' BCE, then mean
        masked = ops.sum(pixels * weight, axis=axes) / ops.maximum(ops.sum(weight, axis=axes), 1.0)
        # equal when every channel is labelled; choosing `plain` there keeps it bit-identical
        bce = ops.where(ops.min(weight, axis=axes) > 0, plain, masked)
        return bce + self.dice_weight * (1.0 - _soft_dice(y_true, y_pred, self.smooth))

    def get_config(self):
        return {**super().get_config(), "dice_weight": self.dice_weight, "smooth": self.smooth}

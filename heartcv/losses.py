"""Losses, all registered (package ``heartcv``) so saved models reload without custom_objects."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="heartcv")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Per-label weighted BCE for multi-label targets (unknown labels, NaN, are ignored).

    For label k: ``L = -(w⁺_k · y log p + w⁻_k · (1 - y) log(1 - p))`` averaged over the
    known entries. Following the cxr14 transfer-learning paper (and CheXNet), the positive
    weight is the label's negative frequency and the negative weight its positive frequency,
    both computed on the training split only (``heartcv.data.pipeline.label_frequencies``).

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


def _soft_dice(y_true, y_pred, smooth):
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    axes = tuple(range(1, len(y_pred.shape)))
    inter = ops.sum(y_true * y_pred, axis=axes)
    denom = ops.sum(y_true, axis=axes) + ops.sum(y_pred, axis=axes)
    return (2.0 * inter + smooth) / (denom + smooth)


@keras.saving.register_keras_serializable(package="heartcv")
class DiceLoss(keras.losses.Loss):
    """1 − soft Dice per image (Milletari et al., V-Net, 2016)."""

    def __init__(self, smooth=1.0, name="dice_loss", reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        self.smooth = float(smooth)

    def call(self, y_true, y_pred):
        return 1.0 - _soft_dice(y_true, y_pred, self.smooth)

    def get_config(self):
        return {**super().get_config(), "smooth": self.smooth}


@keras.saving.register_keras_serializable(package="heartcv")
class BCEDiceLoss(keras.losses.Loss):
    """Binary cross-entropy + ``dice_weight`` × Dice loss, per image."""

    def __init__(self, dice_weight=1.0, smooth=1.0, name="bce_dice_loss",
                 reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        self.dice_weight = float(dice_weight)
        self.smooth = float(smooth)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        bce = ops.mean(keras.losses.binary_crossentropy(y_true, y_pred),
                       axis=tuple(range(1, len(y_pred.shape) - 1)))
        return bce + self.dice_weight * (1.0 - _soft_dice(y_true, y_pred, self.smooth))

    def get_config(self):
        return {**super().get_config(), "dice_weight": self.dice_weight, "smooth": self.smooth}

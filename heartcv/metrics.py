"""Segmentation metrics, registered (package ``heartcv``).

Partial labels (:data:`heartcv.losses.MISSING_MASK`): unlabelled target channels are left out
of each image's score, and an image with no labelled channel is left out of the mean.
"""

from __future__ import annotations

import keras
from keras import ops

from heartcv.losses import labelled_channels


class _LabelledMean(keras.metrics.MeanMetricWrapper):
    """A per-image metric averaged over the images with at least one labelled channel.

    ``fn(y_true, y_pred, threshold)`` scores masks thresholded at ``threshold``.
    """

    def __init__(self, fn, threshold, name, dtype):
        super().__init__(fn=fn, name=name, dtype=dtype, threshold=threshold)
        self.threshold = float(threshold)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}

    def update_state(self, y_true, y_pred, sample_weight=None):
        weight = labelled_channels(y_true)
        known = ops.cast(ops.max(ops.reshape(weight, (ops.shape(weight)[0], -1)), axis=-1) > 0,
                         self.dtype)  # (B,); all ones without unlabelled channels
        if sample_weight is not None:
            known = known * ops.cast(sample_weight, self.dtype)
        return super().update_state(y_true, y_pred, sample_weight=known)


@keras.saving.register_keras_serializable(package="heartcv")
class DiceCoefficient(_LabelledMean):
    """Mean per-image Dice of masks thresholded at ``threshold``."""

    def __init__(self, threshold=0.5, name="dice", dtype=None, **kwargs):
        super().__init__(_dice, threshold, name, dtype)


@keras.saving.register_keras_serializable(package="heartcv")
class MaskIoU(_LabelledMean):
    """Mean per-image intersection over union of masks thresholded at ``threshold``."""

    def __init__(self, threshold=0.5, name="iou", dtype=None, **kwargs):
        super().__init__(_iou, threshold, name, dtype)


def _binarise(y_true, y_pred, threshold):
    weight = labelled_channels(y_true)  # unlabelled channels: empty in both, so not counted
    t = ops.cast(ops.cast(y_true, "float32") > 0.5, "float32") * weight
    p = ops.cast(ops.cast(y_pred, "float32") > threshold, "float32") * weight
    axes = tuple(range(1, len(y_pred.shape)))
    return t, p, axes


def _dice(y_true, y_pred, threshold=0.5):
    t, p, axes = _binarise(y_true, y_pred, threshold)
    inter = ops.sum(t * p, axis=axes)
    denom = ops.sum(t, axis=axes) + ops.sum(p, axis=axes)
    return ops.where(denom > 0, 2.0 * inter / ops.maximum(denom, 1.0), ops.ones_like(denom))


def _iou(y_true, y_pred, threshold=0.5):
    t, p, axes = _binarise(y_true, y_pred, threshold)
    inter = ops.sum(t * p, axis=axes)
    union = ops.sum(ops.maximum(t, p), axis=axes)
    return ops.where(union > 0, inter / ops.maximum(union, 1.0), ops.ones_like(union))

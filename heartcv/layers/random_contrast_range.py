"""``RandomContrastRange``: random contrast about each image's own mean."""

import keras
from keras import ops

from heartcv.layers._acquisition_shift import FactorRangeLayer


@keras.saving.register_keras_serializable(package="heartcv")
class RandomContrastRange(FactorRangeLayer):
    """Stretch or compress each image about its mean by a random factor, then clip.

    ``x' = clip((x - m) * f + m, *value_range)`` with ``m`` the image's mean over height,
    width and channels and ``f ~ U(factor_range)``, one per image: ``f < 1`` flattens the
    contrast (a softer technique, more scatter), ``f > 1`` steepens it. Unlike
    ``keras.layers.RandomContrast`` (per-channel means, a symmetric ``1 +- factor`` range)
    the range is given directly and the mean is the image's. The identity (as float) when
    ``training`` is false; masks in the dict form pass through unchanged.

    Args:
        factor_range: ``(lower, upper)`` with ``0 <= lower <= upper``.
        value_range: ``(min, max)`` of the pixel values (default ``(0, 255)``).
        seed: integer seed of the layer's random stream.
    """

    def __init__(self, factor_range=(0.5, 1.5), value_range=(0.0, 255.0), seed=None, **kwargs):
        super().__init__(factor_range, low=0.0, value_range=value_range, seed=seed, **kwargs)

    def _apply(self, images, transformation):
        mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
        return self._clip((images - mean) * transformation["factor"] + mean)

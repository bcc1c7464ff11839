"""``RandomExposure``: random dim or bright acquisitions (a multiplicative exposure)."""

import keras

from heartcv.layers._acquisition_shift import FactorRangeLayer


@keras.saving.register_keras_serializable(package="heartcv")
class RandomExposure(FactorRangeLayer):
    """Scale each image's intensities above ``value_range[0]`` by a random factor, then clip.

    ``x' = clip(lo + (x - lo) * f, *value_range)``, ``f ~ U(factor_range)`` per image
    (``lo = value_range[0]``, so with the default range ``x' = clip(f * x, 0, 255)``). The
    default ``(0.4, 1.2)`` covers a film dimmed to 45 % of its range (a JSRT U-Net trained
    without it scores Dice 0.000 on such films) and a slightly over-exposed one. Same rule
    as :class:`RandomBrightnessFactor` (ImageDataGenerator's ``brightness_range``), here
    with an acquisition-shift default and ``value_range``-relative scaling. The identity (as
    float) when ``training`` is false; masks in the dict form pass through unchanged.

    Args:
        factor_range: ``(lower, upper)`` with ``0 <= lower <= upper``.
        value_range: ``(min, max)`` of the pixel values (default ``(0, 255)``).
        seed: integer seed of the layer's random stream.
    """

    def __init__(self, factor_range=(0.4, 1.2), value_range=(0.0, 255.0), seed=None, **kwargs):
        super().__init__(factor_range, low=0.0, value_range=value_range, seed=seed, **kwargs)

    def _apply(self, images, transformation):
        lo = self.value_range[0]
        return self._clip(lo + (images - lo) * transformation["factor"])

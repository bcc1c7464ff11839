"""``RandomGamma``: a random power-law (gamma) change of the grey-level curve."""

import math

import keras
from keras import ops

from heartcv.layers._acquisition_shift import AcquisitionShiftLayer, check_range


@keras.saving.register_keras_serializable(package="heartcv")
class RandomGamma(AcquisitionShiftLayer):
    """Raise each image's normalised intensities to a random power, one ``gamma`` per image.

    ``x' = lo + (hi - lo) * ((x - lo) / (hi - lo)) ** gamma`` with ``(lo, hi) = value_range``
    and ``log(gamma) ~ U(log gamma_range[0], log gamma_range[1])`` (log-uniform, so
    ``gamma`` and ``1 / gamma`` are equally likely in a symmetric range). ``gamma < 1``
    brightens the mid-tones, ``gamma > 1`` darkens them; ``lo`` and ``hi`` stay fixed. It
    mimics another detector response or display look-up table. Inputs are clipped to
    ``value_range`` first. The identity (as float) when ``training`` is false; masks in the
    dict form pass through unchanged.

    Args:
        gamma_range: ``(lower, upper)`` with ``0 < lower <= upper``.
        value_range: ``(min, max)`` of the pixel values (default ``(0, 255)``).
        seed: integer seed of the layer's random stream.
    """

    def __init__(self, gamma_range=(0.5, 2.0), value_range=(0.0, 255.0), seed=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, **kwargs)
        self.gamma_range = check_range("gamma_range", gamma_range, low=0.0, low_inclusive=False)

    def _draw(self, images, batch, seed):
        log_range = [math.log(self.gamma_range[0]), math.log(self.gamma_range[1])]
        return {"gamma": ops.exp(self._uniform(batch, log_range, seed))}

    def _apply(self, images, transformation):
        lo, hi = self.value_range
        unit = (self._clip(images) - lo) / (hi - lo)
        return lo + (hi - lo) * ops.power(unit, transformation["gamma"])

    def get_config(self):
        return {**super().get_config(), "gamma_range": list(self.gamma_range)}

"""``RandomLeadWarp``: a lead crop's amplitude scaled and the trace shifted a little."""

import keras
from keras import ops

from heartcv.layers._acquisition_shift import AcquisitionShiftLayer, check_range


@keras.saving.register_keras_serializable(package="heartcv")
class RandomLeadWarp(AcquisitionShiftLayer):
    """Scale the trace's amplitude (vertically, about the centre row) and shift it a little.

    Another ECG machine's gain or another crop box changes how tall the trace is and where it
    sits. One draw per image (all its lead crops alike): amplitude ``a ~ U(amplitude_range)``
    and shifts ``dx, dy ~ U(-shift, shift)`` as fractions of the width and height, applied as
    one bilinear resampling (``keras.ops.image.affine_transform``, ``fill_mode="nearest"``,
    so the background extends to the edges). The identity (as float) when ``training`` is
    false.

    Args:
        amplitude_range: ``(lower, upper)`` vertical scale factors, ``lower > 0``.
        shift: the largest shift as a fraction of the side, in [0, 0.5].
        value_range: ``(min, max)`` of the pixel values (default ``(0, 255)``).
        seed: integer seed of the layer's random stream.
    """

    def __init__(self, amplitude_range=(0.8, 1.25), shift=0.08, value_range=(0.0, 255.0),
                 seed=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, **kwargs)
        self.amplitude_range = check_range("amplitude_range", amplitude_range, low=0.0,
                                           low_inclusive=False)
        if isinstance(shift, bool) or not isinstance(shift, (int, float)) or not 0 <= shift <= 0.5:
            raise ValueError(f"Expected `shift` in [0, 0.5]. Received: shift={shift!r}")
        self.shift = float(shift)

    def _draw(self, images, batch, seed):
        s = (-self.shift, self.shift)
        return {"amplitude": self._uniform(batch, self.amplitude_range, seed),
                "dx": self._uniform(batch, s, seed), "dy": self._uniform(batch, s, seed)}

    def _apply(self, images, transformation):
        h, w = images.shape[1], images.shape[2]
        a = ops.reshape(transformation["amplitude"], (-1,))
        dx = ops.reshape(transformation["dx"], (-1,)) * w
        dy = ops.reshape(transformation["dy"], (-1,)) * h
        c = (h - 1) / 2.0
        one, zero = ops.ones_like(a), ops.zeros_like(a)
        # output (x, y) samples input (x - dx, (y - dy - c) / a + c)
        transform = ops.stack([one, zero, -dx, zero, 1.0 / a, c - (dy + c) / a, zero, zero],
                              axis=-1)
        out = ops.image.affine_transform(images, transform, interpolation="bilinear",
                                         fill_mode="nearest")
        return self._clip(out)

    def get_config(self):
        return {**super().get_config(), "amplitude_range": list(self.amplitude_range),
                "shift": self.shift}

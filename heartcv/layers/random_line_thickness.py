"""``RandomLineThickness``: the trace drawn thinner or thicker (grey erosion or dilation)."""

import keras
from keras import ops

from heartcv.layers._acquisition_shift import AcquisitionShiftLayer


@keras.saving.register_keras_serializable(package="heartcv")
class RandomLineThickness(AcquisitionShiftLayer):
    """Thicken or thin a bright trace on a dark background, one choice per image.

    Another printer, scanner or resize draws the ECG line with another width (the lead crops
    are dilated 3 x 3 once by ``heartcv prep ecg_khan --leads``). Each image is, with
    probability ``p_dilate``, dilated (3 x 3 grey maximum, per channel), with probability
    ``p_erode`` eroded (3 x 3 grey minimum), and otherwise left as it is. The identity (as
    float) when ``training`` is false.

    Args:
        p_dilate: probability of a 3 x 3 dilation, in [0, 1].
        p_erode: probability of a 3 x 3 erosion, in [0, 1]; ``p_dilate + p_erode <= 1``.
        value_range: ``(min, max)`` of the pixel values (default ``(0, 255)``).
        seed: integer seed of the layer's random stream.
    """

    def __init__(self, p_dilate=1 / 3, p_erode=1 / 3, value_range=(0.0, 255.0), seed=None,
                 **kwargs):
        super().__init__(value_range=value_range, seed=seed, **kwargs)
        for name, p in (("p_dilate", p_dilate), ("p_erode", p_erode)):
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise ValueError(f"Expected `{name}` in [0, 1]. Received: {name}={p!r}")
        if p_dilate + p_erode > 1:
            raise ValueError(f"Expected `p_dilate + p_erode <= 1`. Received: p_dilate="
                             f"{p_dilate}, p_erode={p_erode}")
        self.p_dilate, self.p_erode = float(p_dilate), float(p_erode)

    def _draw(self, images, batch, seed):
        return {"u": self._uniform(batch, (0.0, 1.0), seed)}

    def _apply(self, images, transformation):
        x = self._clip(images)
        dilated = ops.max_pool(x, pool_size=3, strides=1, padding="same")
        eroded = -ops.max_pool(-x, pool_size=3, strides=1, padding="same")
        u = transformation["u"]
        out = ops.where(u < self.p_dilate, dilated, x)
        return ops.where((u >= self.p_dilate) & (u < self.p_dilate + self.p_erode), eroded, out)

    def get_config(self):
        return {**super().get_config(), "p_dilate": self.p_dilate, "p_erode": self.p_erode}

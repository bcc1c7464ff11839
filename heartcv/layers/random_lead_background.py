"""``RandomLeadBackground``: each lead crop's background moved to a random grey, with texture."""

import keras
from keras import ops

from heartcv.layers._acquisition_shift import AcquisitionShiftLayer, check_range


@keras.saving.register_keras_serializable(package="heartcv")
class RandomLeadBackground(AcquisitionShiftLayer):
    """Move every lead crop's background to a random level and add background texture.

    Against the source cue of the ECG lead crops (issue 23: the MI crops of one copy sit on a
    grey background, MI ECGs elsewhere on black). For each image and each channel (lead
    crop) with background ``b`` (the crop's median, as ``BackgroundNormalization`` takes it):
    ``t = max(x - b, 0) / (hi - b)`` (the trace, 0 on the background, 1 at the brightest
    ink), then ``x' = L + t * (hi - L) + (1 - t) * n``, ``L ~ U(level_range)`` per crop and
    ``n`` Gaussian noise of standard deviation ``s ~ U(texture_std_range)`` per image (paper
    grain, scanner noise, faint grid remnants), clipped to ``value_range``. The trace keeps
    its shape; the identity (as float) when ``training`` is false.

    Args:
        level_range: ``(lower, upper)`` background levels, within ``value_range``.
        texture_std_range: ``(lower, upper)`` noise standard deviations (>= 0).
        value_range: ``(min, max)`` of the pixel values (default ``(0, 255)``).
        seed: integer seed of the layer's random stream.
    """

    def __init__(self, level_range=(0.0, 60.0), texture_std_range=(0.0, 6.0),
                 value_range=(0.0, 255.0), seed=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, **kwargs)
        self.level_range = check_range("level_range", level_range, low=self.value_range[0],
                                       high=self.value_range[1])
        self.texture_std_range = check_range("texture_std_range", texture_std_range, low=0.0)

    def _draw(self, images, batch, seed):
        channels = images.shape[-1]
        level = keras.random.uniform((batch, 1, 1, channels), minval=self.level_range[0],
                                     maxval=self.level_range[1], dtype="float32", seed=seed)
        std = self._uniform(batch, self.texture_std_range, seed)
        noise = keras.random.normal(ops.shape(images), dtype="float32", seed=seed)
        return {"level": level, "noise": noise * std}

    def _apply(self, images, transformation):
        lo, hi = self.value_range
        x = self._clip(images)
        shape = ops.shape(x)
        flat = ops.sort(ops.reshape(x, (shape[0], -1, shape[-1])), axis=1)
        n = flat.shape[1] if flat.shape[1] is not None else ops.shape(flat)[1]
        b = ops.expand_dims(flat[:, (n - 1) // 2], 1)[:, :, None, :]  # (N, 1, 1, C) median
        t = ops.maximum(x - b, 0.0) / ops.maximum(hi - b, 1.0)
        level = transformation["level"]
        out = level + t * (hi - level) + (1.0 - t) * transformation["noise"]
        return ops.clip(out, lo, hi)

    def get_config(self):
        return {**super().get_config(), "level_range": list(self.level_range),
                "texture_std_range": list(self.texture_std_range)}

"""``BackgroundNormalization``: per-crop background to 0, trace ink to 1, inside the model."""

import keras
from keras import ops


def _fraction(name, value, *, low=0.0, high=1.0, open_low=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"Expected `{name}` to be a number. Received: {name}={value!r}")
    if not ((low < value) if open_low else (low <= value)) or not value <= high:
        bracket = "(" if open_low else "["
        raise ValueError(f"Expected `{name}` in {bracket}{low}, {high}]. "
                         f"Received: {name}={value!r}")
    return float(value)


@keras.saving.register_keras_serializable(package="heartcv")
class BackgroundNormalization(keras.layers.Layer):
    """Map every crop's background to 0 and its trace's ink to 1, whatever the scan did.

    Lead crops of ECG printouts (bright trace on a dark background after the paper's
    inversion) differ in their background level from one source to another: in the Khan
    et al. ``leads28`` copy the MI crops sit on a grey background (almost no zero pixels),
    other MI ECGs of the same public set on black (more than half zero). A model given
    ``x / 255`` can learn that level instead of the trace. Per sample and channel (one
    channel = one lead crop), this layer takes

    - ``background`` = the ``background_quantile`` quantile of the crop's pixels (the median
      by default: the paper and grid cover most of a lead crop, the trace a few per cent),
    - ``ink`` = the ``ink_quantile`` quantile (the trace's brightness),

    and returns ``clip((x - background) / max(ink - background, min_range), 0, 1)``, then,
    when ``floor > 0``, ``clip((y - floor) / (1 - floor), 0, 1)``, which zeroes faint
    residue between the background and the trace (grid lines, JPEG noise) so that what is
    left is the trace.

    Quantiles commute with non-decreasing maps, so for any map ``f`` of the grey levels that
    is non-decreasing, and affine with a positive slope between the background and the ink
    (``a + s * x``; ``max(x - background, 0) * k``, the grey→black background of the MI
    example above; a brightness shift), the output is *exactly* the same, up to rounding of
    the input (tested). A constant crop (blank lead) maps to 0.

    Input: ``(N, H, W, C)`` float or uint8, any range (the ECG models get [0, 255]);
    ``H`` and ``W`` may be unknown. Output: float ``(N, H, W, C)`` in [0, 1], in place of
    ``ImagePreprocessing("unit")``.

    Args:
        background_quantile: quantile in [0, 1) taken as the background level (0.5).
        ink_quantile: quantile in (background_quantile, 1] taken as the trace's ink (0.99).
        floor: fraction in [0, 1) of the background→ink range below which a pixel is set
            to 0 (0.2; 0 keeps every level above the background).
        min_range: smallest ``ink - background`` divided by, in input units (1.0), so a
            near-constant crop is not blown up to noise.

    Reference:
        Not from a paper: heartcv's answer to the background shortcut of the Khan et al.
        crops (experiments/ecg_images_5class/README.md, "Shortcut probe").
    """

    def __init__(self, background_quantile=0.5, ink_quantile=0.99, floor=0.2, min_range=1.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.background_quantile = _fraction("background_quantile", background_quantile)
        self.ink_quantile = _fraction("ink_quantile", ink_quantile)
        if not self.background_quantile < self.ink_quantile:
            raise ValueError(
                "Expected `background_quantile` < `ink_quantile`. Received: "
                f"background_quantile={background_quantile}, ink_quantile={ink_quantile}")
        if self.background_quantile == 1.0:
            raise ValueError("Expected `background_quantile` < 1. Received: "
                             f"background_quantile={background_quantile}")
        self.floor = _fraction("floor", floor)
        if self.floor >= 1.0:
            raise ValueError(f"Expected `floor` in [0, 1). Received: floor={floor!r}")
        self.min_range = _fraction("min_range", min_range, high=float("inf"), open_low=True)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"Expected crops of shape (N, H, W, C). Received: input_shape={input_shape}")
        self.built = True

    def _levels(self, x):
        """``(background, ink)``, each ``(N, 1, 1, C)``: the two quantiles per crop."""
        shape = ops.shape(x)
        flat = ops.reshape(ops.transpose(x, (0, 3, 1, 2)), (shape[0], shape[3], -1))
        ordered = ops.sort(flat, axis=-1)
        n = shape[1] * shape[2]
        if isinstance(n, int):
            picks = [int(round(q * (n - 1))) for q in (self.background_quantile,
                                                       self.ink_quantile)]
        else:
            last = ops.cast(n - 1, "float32")
            picks = [ops.cast(ops.round(q * last), "int32")
                     for q in (self.background_quantile, self.ink_quantile)]
        levels = [ops.take(ordered, i, axis=-1) for i in picks]  # (N, C) each
        return [ops.expand_dims(ops.expand_dims(v, 1), 1) for v in levels]

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        background, ink = self._levels(x)
        span = ops.maximum(ink - background, ops.cast(self.min_range, self.compute_dtype))
        y = ops.clip((x - background) / span, 0.0, 1.0)
        if self.floor > 0:
            y = ops.clip((y - self.floor) / (1.0 - self.floor), 0.0, 1.0)
        return y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"background_quantile": self.background_quantile,
                       "ink_quantile": self.ink_quantile, "floor": self.floor,
                       "min_range": self.min_range})
        return config

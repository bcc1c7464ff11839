"""``RandomResolutionLoss``: downsample by a random factor and back, per image."""

import keras
from keras import ops

from heartcv.layers._acquisition_shift import FactorRangeLayer


def _area_matrix(size, small):
    """``(N, size, size)``: row ``k < small`` averages input pixels over ``[k s, (k+1) s)``.

    ``s = size / small`` per image; rows ``k >= small`` are zero (unused). This is
    ``cv2.INTER_AREA`` downsampling, with fractional pixel overlaps for non-integer ``s``.
    """
    s = ops.reshape(ops.cast(size, "float32") / small, (-1, 1, 1))
    k = ops.cast(ops.arange(size), "float32")[None, :, None]
    j = ops.cast(ops.arange(size), "float32")[None, None, :]
    overlap = ops.minimum(j + 1.0, (k + 1.0) * s) - ops.maximum(j, k * s)
    valid = ops.cast(k < ops.reshape(small, (-1, 1, 1)), "float32")
    return ops.maximum(overlap, 0.0) / s * valid


def _linear_matrix(size, small):
    """``(N, size, size)``: bilinear upsampling from ``small`` back to ``size`` pixels.

    Half-pixel centres and clamped borders, as ``cv2.INTER_LINEAR`` (and
    ``keras.ops.image.resize(..., "bilinear")`` when upsampling).
    """
    small = ops.reshape(small, (-1, 1, 1))
    i = ops.cast(ops.arange(size), "float32")[None, :, None]
    k = ops.cast(ops.arange(size), "float32")[None, None, :]
    u = ops.clip((i + 0.5) * small / ops.cast(size, "float32") - 0.5, 0.0, small - 1.0)
    return ops.maximum(1.0 - ops.abs(u - k), 0.0) * ops.cast(k < small, "float32")


@keras.saving.register_keras_serializable(package="heartcv")
class RandomResolutionLoss(FactorRangeLayer):
    """Lose detail by area-downsampling each image by a random factor and resizing it back.

    ``f ~ U(factor_range)`` per image (per image, not per batch): the image is averaged
    down to ``max(1, round(H / f))`` x ``max(1, round(W / f))`` pixels (area interpolation,
    like ``cv2.INTER_AREA``) and bilinearly upsampled to ``H`` x ``W`` (like
    ``cv2.INTER_LINEAR``), so the output keeps the input's shape; ``f = 1`` is the identity.
    Static shapes despite per-image sizes: both resizes are linear maps, applied as
    ``(H, H)`` and ``(W, W)`` matrices built per image (rows beyond the small size are zero):
    about ``N (H^3 + W^3 + H W C (H + W))`` multiply-adds per batch (well under a second for
    16 images of 256 x 256 on one CPU core). ``factor_range=(1, 4)`` spans a
    1024-px film stored at 256 px. For an integer factor that divides the size the result
    equals OpenCV's area-down / bilinear-up round trip (tested). The identity (as float)
    when ``training`` is false; masks in the dict form pass through unchanged.

    Args:
        factor_range: ``(lower, upper)`` with ``1 <= lower <= upper``.
        value_range: ``(min, max)`` of the pixel values (default ``(0, 255)``).
        seed: integer seed of the layer's random stream.
    """

    def __init__(self, factor_range=(1.0, 4.0), value_range=(0.0, 255.0), seed=None, **kwargs):
        super().__init__(factor_range, low=1.0, value_range=value_range, seed=seed, **kwargs)

    def _resample(self, size, factor):
        small = ops.maximum(ops.round(ops.cast(size, "float32") / factor), 1.0)
        return ops.einsum("nik,nkj->nij", _linear_matrix(size, small), _area_matrix(size, small))

    def _apply(self, images, transformation):
        factor = ops.reshape(transformation["factor"], (-1,))
        _, h, w, _ = ops.shape(images)
        rows = self._resample(h, factor)  # (N, H, H)
        cols = self._resample(w, factor)  # (N, W, W)
        out = ops.einsum("nih,nhwc->niwc", rows, images)
        out = ops.einsum("njw,niwc->nijc", cols, out)
        return self._clip(out)

"""``RandomGaussianBlur``: Gaussian blur of a random width per image."""

import math

import keras
from keras import ops

from heartcv.layers._acquisition_shift import AcquisitionShiftLayer, check_range


def kernel_radius(max_sigma):
    """Half-width of the kernel for ``max_sigma``: ``ceil(3 * max_sigma)`` (0 for no blur)."""
    return int(math.ceil(3.0 * max_sigma - 1e-9)) if max_sigma > 0 else 0


@keras.saving.register_keras_serializable(package="heartcv")
class RandomGaussianBlur(AcquisitionShiftLayer):
    """Blur each image with a separable Gaussian whose sigma is drawn per image.

    ``sigma ~ U(sigma_range)`` pixels, one per image (per image, not per batch). The kernel
    has a fixed size ``2 r + 1`` with ``r = ceil(3 * sigma_range[1])``, so shapes are static;
    each image's 1-D weights ``exp(-t^2 / (2 sigma^2))`` are normalised to sum 1 (sigma = 0
    is the identity). The convolution runs along height, then width, as a per-sample
    depthwise convolution written as ``2 r + 1`` shifted, weighted sums of the reflect-padded
    batch (``keras.ops.depthwise_conv`` takes one kernel for the whole batch; folding the
    batch into channels would need a static batch size). Borders are reflected without
    repeating the edge (OpenCV's ``BORDER_REFLECT_101``), so a fixed sigma matches
    ``cv2.GaussianBlur(x, (2 r + 1, 2 r + 1), sigma)`` (tested). It mimics a softer focal
    spot, motion or a smoothing reconstruction kernel. Images need ``H, W > r``. The
    identity (as float) when ``training`` is false; masks in the dict form pass through.

    Args:
        sigma_range: ``(lower, upper)`` in pixels with ``0 <= lower <= upper``.
        value_range: ``(min, max)`` of the pixel values (default ``(0, 255)``).
        seed: integer seed of the layer's random stream.
    """

    def __init__(self, sigma_range=(0.0, 2.0), value_range=(0.0, 255.0), seed=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, **kwargs)
        self.sigma_range = check_range("sigma_range", sigma_range, low=0.0)
        self.radius = kernel_radius(self.sigma_range[1])

    def _draw(self, images, batch, seed):
        return {"sigma": self._uniform(batch, self.sigma_range, seed)}

    def _weights(self, sigma):
        """``(N, 2r + 1)`` normalised Gaussian weights, one row per image."""
        t = ops.cast(ops.arange(-self.radius, self.radius + 1), "float32")[None, :]
        s = ops.maximum(ops.reshape(sigma, (-1, 1)), 1e-3)
        w = ops.exp(-ops.square(t) / (2.0 * ops.square(s)))
        return w / ops.sum(w, axis=1, keepdims=True)

    def _blur_axis(self, x, weights, axis):
        r = self.radius
        size = ops.shape(x)[axis]
        pad = [[0, 0], [0, 0], [0, 0], [0, 0]]
        pad[axis] = [r, r]
        xp = ops.pad(x, pad, mode="reflect")
        out = 0.0
        for k in range(2 * r + 1):
            piece = xp[:, k : k + size] if axis == 1 else xp[:, :, k : k + size]
            out = out + ops.reshape(weights[:, k], (-1, 1, 1, 1)) * piece
        return out

    def _apply(self, images, transformation):
        if self.radius == 0:
            return images
        w = self._weights(transformation["sigma"])
        return self._clip(self._blur_axis(self._blur_axis(images, w, 1), w, 2))

    def get_config(self):
        return {**super().get_config(), "sigma_range": list(self.sigma_range)}

"""``MaskBackground``: keep the pixels under a mask, dim the rest by a fixed factor."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="heartcv")
class MaskBackground(keras.layers.Layer):
    """``images * m + scale * images * (1 - m)`` for a heart mask ``m``.

    The "VGG+Mask" input of the CHD paper: the U-Net's heart mask keeps the heart pixels and
    "lowers the gray value outside the heart" by a fixed ratio (0.2). Apply it to images in
    [0, 255] *before* a classifier's own preprocessing layer, so the dimmed background is
    what the classifier's ``ImagePreprocessing`` then sees.

    Called on ``[images, mask]``: ``images`` (N, H, W, C), ``mask`` (N, H, W, 1) or
    (N, H, W, C) with values in [0, 1] (a sigmoid output). A one-channel mask is broadcast
    over the image channels. Returns the images' shape, in the layer's compute dtype.

    Args:
        scale: factor in [0, 1] applied outside the mask (0 blacks the background out,
            1 leaves the image unchanged).
        threshold: None uses the mask as a soft weight; a value in (0, 1) binarises it first
            (``mask > threshold`` is heart), as the paper's binary heart region.

    Reference:
        Chen & Shi, "Deep Mask For X-ray Based Heart Disease Classification",
        arXiv:1808.08277 (2018), Section 2.2.2 ("U-net, Mask U-net and VGG model").
    """

    def __init__(self, scale=0.2, threshold=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) \
                or not 0.0 <= scale <= 1.0:
            raise ValueError(f"Expected `scale` in [0, 1]. Received: scale={scale!r}")
        if threshold is not None and (
                isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                or not 0.0 < threshold < 1.0):
            raise ValueError(
                f"Expected `threshold` to be None or in (0, 1). Received: threshold={threshold!r}"
            )
        self.scale = float(scale)
        self.threshold = None if threshold is None else float(threshold)

    def _check_shapes(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 \
                or not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(
                f"Expected `MaskBackground` to be called on [images, mask]. "
                f"Received: input_shape={input_shape}"
            )
        images, mask = (tuple(s) for s in input_shape)
        if len(images) != 4 or len(mask) != 4:
            raise ValueError(
                f"Expected images and mask of rank 4 (N, H, W, C). "
                f"Received: images.shape={images}, mask.shape={mask}"
            )
        for i, axis in ((1, "height"), (2, "width")):
            if images[i] is not None and mask[i] is not None and images[i] != mask[i]:
                raise ValueError(
                    f"Expected images and mask of the same {axis}. "
                    f"Received: images.shape={images}, mask.shape={mask}"
                )
        if mask[-1] is not None and mask[-1] != 1 and images[-1] is not None \
                and mask[-1] != images[-1]:
            raise ValueError(
                f"Expected a mask with 1 channel or as many as the images ({images[-1]}). "
                f"Received: images.shape={images}, mask.shape={mask}"
            )
        return images

    def build(self, input_shape):
        self._check_shapes(input_shape)
        self.built = True

    def call(self, inputs):
        images, mask = inputs
        images = ops.cast(images, self.compute_dtype)
        mask = ops.cast(mask, self.compute_dtype)
        if self.threshold is not None:
            mask = ops.cast(mask > self.threshold, self.compute_dtype)
        # images * m + scale * images * (1 - m), written as one multiply per pixel.
        return images * (self.scale + (1.0 - self.scale) * mask)

    def compute_output_shape(self, input_shape):
        return self._check_shapes(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "threshold": self.threshold}

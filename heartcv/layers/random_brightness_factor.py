"""``RandomBrightnessFactor``: ImageDataGenerator's multiplicative ``brightness_range``."""

import keras

from heartcv.layers._acquisition_shift import AcquisitionShiftLayer, check_range


@keras.saving.register_keras_serializable(package="heartcv")
class RandomBrightnessFactor(AcquisitionShiftLayer):
    """Multiply each image by a factor drawn from ``U(lower, upper)``, then clip.

    ``ImageDataGenerator(brightness_range=[lower, upper])`` applies
    ``PIL.ImageEnhance.Brightness(img).enhance(u)``, i.e. ``clip(u * img, 0, 255)`` with one
    ``u`` per image. ``keras.layers.RandomBrightness`` instead *adds* ``factor * 255``; this
    layer keeps the multiplicative rule. ``u < 1`` darkens, ``u > 1`` brightens.

    Input may be a batch ``(N, H, W, C)``, a single image, or a dict with ``"images"`` (and
    ``"segmentation_masks"``, passed through unchanged). The identity is returned when
    ``training`` is false. The machinery (``get_random_transformation`` /
    ``transform_images``, dict form, seeding) is the acquisition-shift layers' base class.

    Args:
        factor: ``[lower, upper]`` with ``0 <= lower <= upper``.
        value_range: ``[min, max]`` of the pixel values; outputs are clipped to it.
        seed: integer seed of the layer's random stream.

    Reference:
        Keras ``ImageDataGenerator.apply_brightness_shift``
        (``keras/src/legacy/preprocessing/image.py``).
    """

    def __init__(self, factor, value_range=(0.0, 255.0), seed=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, **kwargs)
        self.factor = check_range("factor", factor, low=0.0)

    def _draw(self, images, batch, seed):
        return {"factor": self._uniform(batch, self.factor, seed)}

    def _apply(self, images, transformation):
        return self._clip(images * transformation["factor"])

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}

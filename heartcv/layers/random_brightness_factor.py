"""``RandomBrightnessFactor``: ImageDataGenerator's multiplicative ``brightness_range``."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="heartcv")
class RandomBrightnessFactor(keras.layers.Layer):
    """Multiply each image by a factor drawn from ``U(lower, upper)``, then clip.

    ``ImageDataGenerator(brightness_range=[lower, upper])`` applies
    ``PIL.ImageEnhance.Brightness(img).enhance(u)``, i.e. ``clip(u * img, 0, 255)`` with one
    ``u`` per image. ``keras.layers.RandomBrightness`` instead *adds* ``factor * 255``; this
    layer keeps the multiplicative rule. ``u < 1`` darkens, ``u > 1`` brightens.

    Input may be a batch ``(N, H, W, C)``, a single image, or a dict with ``"images"`` (and
    ``"segmentation_masks"``, passed through unchanged). The identity is returned when
    ``training`` is false. Exposes ``get_random_transformation``/``transform_images`` like
    Keras' image preprocessing layers.

    Args:
        factor: ``[lower, upper]`` with ``0 <= lower <= upper``.
        value_range: ``[min, max]`` of the pixel values; outputs are clipped to it.
        seed: integer seed of the layer's random stream.

    Reference:
        Keras ``ImageDataGenerator.apply_brightness_shift``
        (``keras/src/legacy/preprocessing/image.py``).
    """

    def __init__(self, factor, value_range=(0.0, 255.0), seed=None, **kwargs):
        super().__init__(**kwargs)
        if (
            not isinstance(factor, (list, tuple))
            or len(factor) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in factor)
        ):
            raise ValueError(
                f"Expected `factor` to be a [lower, upper] pair of numbers. "
                f"Received: factor={factor!r}"
            )
        if not 0.0 <= factor[0] <= factor[1]:
            raise ValueError(
                f"Expected `factor` with 0 <= lower <= upper. Received: factor={factor!r}"
            )
        if (
            not isinstance(value_range, (list, tuple))
            or len(value_range) != 2
            or not value_range[0] < value_range[1]
        ):
            raise ValueError(
                f"Expected `value_range` to be a [min, max] pair with min < max. "
                f"Received: value_range={value_range!r}"
            )
        self.factor = [float(factor[0]), float(factor[1])]
        self.value_range = [float(value_range[0]), float(value_range[1])]
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        """Draw one factor per image: ``{"factor": (N, 1, 1, 1)}``; ``None`` when not training."""
        if not training:
            return None
        images = data["images"] if isinstance(data, dict) else data
        batch = ops.shape(images)[0] if len(images.shape) == 4 else 1
        factor = keras.random.uniform(
            (batch, 1, 1, 1),
            minval=self.factor[0],
            maxval=self.factor[1],
            dtype="float32",
            seed=self.seed_generator,
        )
        return {"factor": factor}

    def transform_images(self, images, transformation, training=True):
        """Multiply by the drawn factors and clip to ``value_range``."""
        images = ops.cast(images, self.compute_dtype)
        if not training or transformation is None:
            return images
        factor = ops.cast(transformation["factor"], self.compute_dtype)
        if len(images.shape) == 3:
            factor = ops.squeeze(factor, 0)
        return ops.clip(images * factor, self.value_range[0], self.value_range[1])

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        """Masks are not changed by brightness."""
        return segmentation_masks

    def call(self, inputs, training=True):
        transformation = self.get_random_transformation(inputs, training=training)
        if not isinstance(inputs, dict):
            return self.transform_images(inputs, transformation, training=training)
        data = dict(inputs)
        data["images"] = self.transform_images(data["images"], transformation, training=training)
        return data

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "factor": list(self.factor),
            "value_range": list(self.value_range),
            "seed": self.seed,
        }

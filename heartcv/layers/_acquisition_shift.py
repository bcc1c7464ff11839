"""Shared machinery of the acquisition-shift augmentation layers (no public class here).

Each layer (``RandomGamma``, ``RandomContrastRange``, ``RandomExposure``,
``RandomGaussianNoise``, ``RandomGaussianBlur``, ``RandomResolutionLoss``) changes images
only, draws one parameter per image when ``training`` is true and is the identity
otherwise. Like Keras' image preprocessing layers (and :class:`RandomBrightnessFactor`) it
exposes ``get_random_transformation`` / ``transform_images`` /
``transform_segmentation_masks``, so :mod:`heartcv.data.batches` can draw parameters one
batch at a time (reproducible) and apply them in parallel, and it accepts the dict form
``{"images": x, "segmentation_masks": m}`` (masks returned unchanged).
"""

import math

import keras
from keras import ops


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_range(name, value, *, low=None, low_inclusive=True, high=None):
    """Validate a ``(lower, upper)`` pair of numbers with ``lower <= upper`` within bounds.

    Args:
        name: the argument's name, for the message.
        value: the pair.
        low: smallest allowed lower bound (``None``: unbounded).
        low_inclusive: whether ``lower == low`` is allowed.
        high: largest allowed upper bound (``None``: unbounded).

    Returns:
        ``[lower, upper]`` as floats.

    Raises:
        ValueError: not a pair of finite numbers, ``lower > upper``, or out of bounds.
    """
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(_is_number(v) for v in value)
    ):
        raise ValueError(
            f"Expected `{name}` to be a (lower, upper) pair of numbers. Received: {name}={value!r}"
        )
    lower, upper = float(value[0]), float(value[1])
    if lower > upper:
        raise ValueError(f"Expected `{name}` with lower <= upper. Received: {name}={value!r}")
    if low is not None and (lower < low or (lower == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"Expected `{name}` values {op} {low}. Received: {name}={value!r}")
    if high is not None and upper > high:
        raise ValueError(f"Expected `{name}` values <= {high}. Received: {name}={value!r}")
    return [lower, upper]


def transform_inputs(layer, inputs, training=True):
    """``layer.call`` of the two-phase augmentation layers: one transform drawn per batch and
    applied to the images and, in the dict form, to ``"segmentation_masks"`` alike."""
    transformation = layer.get_random_transformation(inputs, training=training)
    if not isinstance(inputs, dict):
        return layer.transform_images(inputs, transformation, training=training)
    data = dict(inputs)
    data["images"] = layer.transform_images(data["images"], transformation, training=training)
    if "segmentation_masks" in data:
        data["segmentation_masks"] = layer.transform_segmentation_masks(
            data["segmentation_masks"], transformation, training=training)
    return data


class PairedTransformLayer(keras.layers.Layer):
    """Base of the layers that transform an image batch, or an ``{"images",
    "segmentation_masks"}`` dict, through :func:`transform_inputs`: same shape out."""

    def call(self, inputs, training=True):
        return transform_inputs(self, inputs, training)

    def compute_output_shape(self, input_shape):
        return input_shape


class AcquisitionShiftLayer(PairedTransformLayer):
    """Base class: random, image-only, per-image transform in a known ``value_range``.

    Subclasses implement ``_draw(images, batch, seed) -> dict`` (the random parameters, each
    with a leading batch axis) and ``_apply(images, transformation) -> images`` on 4-D float
    batches, and add their own arguments to ``get_config``.

    Args:
        value_range: ``(min, max)`` of the pixel values; outputs are clipped to it.
        seed: integer seed of the layer's random stream (``keras.random.SeedGenerator``).
    """

    def __init__(self, value_range=(0.0, 255.0), seed=None, **kwargs):
        super().__init__(**kwargs)
        if (
            not isinstance(value_range, (list, tuple))
            or len(value_range) != 2
            or not all(_is_number(v) for v in value_range)
            or not value_range[0] < value_range[1]
        ):
            raise ValueError(
                f"Expected `value_range` to be a (min, max) pair with min < max. "
                f"Received: value_range={value_range!r}"
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"Expected `seed` to be an int or None. Received: seed={seed!r}")
        self.value_range = [float(value_range[0]), float(value_range[1])]
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    # -- subclass hooks
    def _draw(self, images, batch, seed):
        raise NotImplementedError

    def _apply(self, images, transformation):
        raise NotImplementedError

    # -- helpers for subclasses
    def _uniform(self, batch, bounds, seed):
        """``(batch, 1, 1, 1)`` draws from ``U(bounds[0], bounds[1])``."""
        return keras.random.uniform(
            (batch, 1, 1, 1), minval=bounds[0], maxval=bounds[1], dtype="float32", seed=seed
        )

    def _clip(self, images):
        return ops.clip(images, self.value_range[0], self.value_range[1])

    # -- the Keras image-preprocessing protocol
    def get_random_transformation(self, data, training=True, seed=None):
        """Draw this batch's parameters (one per image); ``None`` when not training."""
        if not training:
            return None
        images = data["images"] if isinstance(data, dict) else data
        if len(images.shape) not in (3, 4):
            raise ValueError(
                f"Expected images of shape (N, H, W, C) or (H, W, C). "
                f"Received: images.shape={tuple(images.shape)}"
            )
        if len(images.shape) == 3:
            images = ops.expand_dims(images, 0)
        batch = ops.shape(images)[0]
        return self._draw(images, batch, self.seed_generator if seed is None else seed)

    def transform_images(self, images, transformation, training=True):
        """Apply the drawn parameters; the input (as float) when not training."""
        images = ops.cast(images, self.compute_dtype)
        if not training or transformation is None:
            return images
        single = len(images.shape) == 3
        x = ops.expand_dims(images, 0) if single else images
        out = ops.cast(self._apply(ops.cast(x, "float32"), transformation), self.compute_dtype)
        return out[0] if single else out

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        """Masks are not changed: these shifts alter how the image looks, not the anatomy."""
        return segmentation_masks

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range), "seed": self.seed}


class FactorRangeLayer(AcquisitionShiftLayer):
    """Base class of the layers that draw one ``factor ~ U(factor_range)`` per image.

    Subclasses implement ``_apply(images, transformation)`` with ``transformation["factor"]``
    of shape ``(batch, 1, 1, 1)``.

    Args:
        factor_range: ``(lower, upper)`` with ``low <= lower <= upper``.
        low: the smallest allowed ``lower``.
        value_range, seed: as :class:`AcquisitionShiftLayer`.
    """

    def __init__(self, factor_range, *, low, value_range=(0.0, 255.0), seed=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, **kwargs)
        self.factor_range = check_range("factor_range", factor_range, low=low)

    def _draw(self, images, batch, seed):
        return {"factor": self._uniform(batch, self.factor_range, seed)}

    def get_config(self):
        return {**super().get_config(), "factor_range": list(self.factor_range)}

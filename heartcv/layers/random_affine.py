"""``RandomAffine``: ImageDataGenerator's rotation/shift/shear/zoom/flips as one resampling."""

import math

import keras
from keras import ops

_FILL_MODES = ("constant", "nearest", "reflect", "wrap")
_INTERPOLATIONS = ("nearest", "bilinear")


def _check_range(name, value, low, high):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"Expected `{name}` to be a number. Received: {name}={value!r}")
    if not low <= value < high:
        raise ValueError(f"Expected `{name}` in [{low}, {high}). Received: {name}={value}")
    return float(value)


def _zoom_pair(zoom_range):
    """ImageDataGenerator's rule: a float ``z`` means [1 - z, 1 + z]; a pair is taken as is."""
    if isinstance(zoom_range, (list, tuple)):
        if len(zoom_range) != 2:
            raise ValueError(
                f"Expected `zoom_range` to be a float or a [lower, upper] pair. "
                f"Received: zoom_range={zoom_range!r}"
            )
        lower, upper = float(zoom_range[0]), float(zoom_range[1])
    elif isinstance(zoom_range, (int, float)) and not isinstance(zoom_range, bool):
        lower, upper = 1.0 - float(zoom_range), 1.0 + float(zoom_range)
    else:
        raise TypeError(
            f"Expected `zoom_range` to be a float or a [lower, upper] pair. "
            f"Received: zoom_range={zoom_range!r}"
        )
    if not 0.0 < lower <= upper:
        raise ValueError(
            f"Expected `zoom_range` to give 0 < lower <= upper. Received: zoom_range={zoom_range!r}"
        )
    return [lower, upper]


@keras.saving.register_keras_serializable(package="heartcv")
class RandomAffine(keras.layers.Layer):
    """Random rotation, shift, shear, zoom and flips with ``ImageDataGenerator``'s semantics.

    ``keras.preprocessing.image.ImageDataGenerator`` draws, per image, an angle
    ``theta ~ U(-rotation_range, rotation_range)`` (degrees), shifts
    ``tx ~ U(-width_shift_range, width_shift_range) * width`` and likewise ``ty`` for the
    height, a shear angle ``s ~ U(-shear_range, shear_range)`` (degrees) and two independent
    zooms ``zx, zy ~ U(zoom_range)``, builds the single output-to-input map
    ``R(theta) @ T(tx, ty) @ S(s) @ Z(zx, zy)`` about the image centre, and resamples the
    image once, then flips it left-right and/or up-down, each with probability 0.5. This
    layer does the same with ``keras.ops.image.affine_transform``, the flips folded into the
    matrix, so one interpolation replaces the four to six of a chain of ``RandomRotation``/
    ``RandomTranslation``/``RandomShear``/``RandomZoom``/``RandomFlip`` (``RandomShear``
    also shears about the top-left corner rather than the centre). Zoom values above 1
    zoom out, as in ImageDataGenerator. Shear follows Keras 3's ``apply_affine_transform``
    (``x_in = x - sin(s) y``, ``y_in = cos(s) y`` about the centre); shifts follow the
    documented meaning (``width_shift_range`` moves the image horizontally), whereas Keras
    3's legacy ``ImageDataGenerator`` applies ``height_shift_range`` along x.

    Like Keras' own image preprocessing layers it exposes ``get_random_transformation``,
    ``transform_images`` and ``transform_segmentation_masks``, so a pipeline can draw the
    random parameters in order and warp batches in parallel.

    Input may be a batch ``(N, H, W, C)``, a single image, or a dict with ``"images"`` and
    ``"segmentation_masks"`` (0/1, one channel per structure): masks get the same transform,
    bilinear then thresholded at 0.5.
    Pixel values may be in any range; the output is float. The identity is returned when
    ``training`` is false.

    Args:
        rotation_range: degrees, ``>= 0``.
        width_shift_range: fraction of the width in ``[0, 1)``.
        height_shift_range: fraction of the height in ``[0, 1)``.
        shear_range: shear angle in degrees, in ``[0, 90)``.
        zoom_range: ``z`` for ``[1 - z, 1 + z]``, or a ``[lower, upper]`` pair, ``lower > 0``.
        horizontal_flip: flip left-right with probability 0.5.
        vertical_flip: flip up-down with probability 0.5, independently.
        fill_mode: one of ``"constant"``, ``"nearest"``, ``"reflect"``, ``"wrap"``.
        fill_value: value outside the image with ``fill_mode="constant"`` (``cval``).
        interpolation: ``"bilinear"`` (ImageDataGenerator's ``order=1``) or ``"nearest"``.
        seed: integer seed of the layer's random stream.

    Reference:
        Chollet et al., Keras ``ImageDataGenerator.get_random_transform`` and
        ``apply_affine_transform`` (``keras/src/legacy/preprocessing/image.py``).
    """

    def __init__(
        self,
        rotation_range=0.0,
        width_shift_range=0.0,
        height_shift_range=0.0,
        shear_range=0.0,
        zoom_range=0.0,
        horizontal_flip=False,
        vertical_flip=False,
        fill_mode="nearest",
        fill_value=0.0,
        interpolation="bilinear",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.rotation_range = _check_range("rotation_range", rotation_range, 0.0, math.inf)
        self.width_shift_range = _check_range("width_shift_range", width_shift_range, 0.0, 1.0)
        self.height_shift_range = _check_range("height_shift_range", height_shift_range, 0.0, 1.0)
        self.shear_range = _check_range("shear_range", shear_range, 0.0, 90.0)
        self.zoom_range = _zoom_pair(zoom_range)
        for name, value in (("horizontal_flip", horizontal_flip), ("vertical_flip", vertical_flip)):
            if not isinstance(value, bool):
                raise TypeError(f"Expected `{name}` to be a bool. Received: {name}={value!r}")
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        if fill_mode not in _FILL_MODES:
            raise ValueError(
                f"Expected `fill_mode` in {_FILL_MODES}. Received: fill_mode={fill_mode!r}"
            )
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"Expected `interpolation` in {_INTERPOLATIONS}. "
                f"Received: interpolation={interpolation!r}"
            )
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.interpolation = interpolation
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_jit = False

    @staticmethod
    def matrix(theta, tx, ty, shear, zx, zy, height, width, flip_x=None, flip_y=None):
        """Output-to-input transforms, one row ``[a0, a1, a2, b0, b1, b2, 0, 0]`` per image.

        Args:
            theta: rotation angles in degrees, shape ``(N,)``.
            tx: horizontal shifts in pixels, shape ``(N,)``.
            ty: vertical shifts in pixels, shape ``(N,)``.
            shear: shear angles in degrees, shape ``(N,)``.
            zx: horizontal zooms, shape ``(N,)``.
            zy: vertical zooms, shape ``(N,)``.
            height: image height.
            width: image width.
            flip_x: ``(N,)`` booleans: flip the result left-right (``None``: never).
            flip_y: ``(N,)`` booleans: flip the result up-down (``None``: never).

        Returns:
            ``(N, 8)`` float32 tensor for ``keras.ops.image.affine_transform``: the input pixel
            sampled for output pixel ``(x, y)`` is ``(a0 x + a1 y + a2, b0 x + b1 y + b2)``.
        """
        to_rad = math.pi / 180.0
        theta = ops.cast(theta, "float32") * to_rad
        shear = ops.cast(shear, "float32") * to_rad
        tx, ty = ops.cast(tx, "float32"), ops.cast(ty, "float32")
        zx, zy = ops.cast(zx, "float32"), ops.cast(zy, "float32")
        cos_t, sin_t = ops.cos(theta), ops.sin(theta)
        # R @ S = [[cos t, -sin(t + s)], [sin t, cos(t + s)]]; Z scales its columns.
        a0 = zx * cos_t
        a1 = -zy * ops.sin(theta + shear)
        b0 = zx * sin_t
        b1 = zy * ops.cos(theta + shear)
        cx = (ops.cast(width, "float32") - 1.0) / 2.0
        cy = (ops.cast(height, "float32") - 1.0) / 2.0
        a2 = cx - a0 * cx - a1 * cy + cos_t * tx - sin_t * ty
        b2 = cy - b0 * cx - b1 * cy + sin_t * tx + cos_t * ty
        # Flipping the output: (x, y) -> (fx x + ox, fy y + oy), fx = -1 and ox = 2 cx when
        # flipped; composed on the input side of the map.
        if flip_x is not None:
            fx = ops.where(flip_x, -1.0, 1.0)
            a2 = a2 + a0 * (1.0 - fx) * cx
            b2 = b2 + b0 * (1.0 - fx) * cx
            a0, b0 = a0 * fx, b0 * fx
        if flip_y is not None:
            fy = ops.where(flip_y, -1.0, 1.0)
            a2 = a2 + a1 * (1.0 - fy) * cy
            b2 = b2 + b1 * (1.0 - fy) * cy
            a1, b1 = a1 * fy, b1 * fy
        zeros = ops.zeros_like(a0)
        return ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)

    def get_random_transformation(self, data, training=True, seed=None):
        """Draw one transform per image; ``None`` when not training.

        Args:
            data: images ``(N, H, W, C)`` or ``(H, W, C)``, or a dict with ``"images"``.
            training: whether to transform at all.
            seed: unused; the layer's own seeded stream is used.

        Returns:
            ``{"matrix": (N, 8) float32}`` (see :meth:`matrix`) or ``None``.
        """
        if not training:
            return None
        images = data["images"] if isinstance(data, dict) else data
        shape = ops.shape(images)
        if len(images.shape) == 3:
            batch, height, width = 1, shape[0], shape[1]
        else:
            batch, height, width = shape[0], shape[1], shape[2]

        def uniform(low, high):
            if low == high:
                return ops.full((batch,), low, dtype="float32")
            return keras.random.uniform(
                (batch,), minval=low, maxval=high, seed=self.seed_generator
            )

        theta = uniform(-self.rotation_range, self.rotation_range)
        tx = uniform(-self.width_shift_range, self.width_shift_range) * ops.cast(width, "float32")
        ty = uniform(-self.height_shift_range, self.height_shift_range) * ops.cast(
            height, "float32"
        )
        shear = uniform(-self.shear_range, self.shear_range)
        zx = uniform(*self.zoom_range)
        zy = uniform(*self.zoom_range)
        flip_x = uniform(0.0, 1.0) < 0.5 if self.horizontal_flip else None
        flip_y = uniform(0.0, 1.0) < 0.5 if self.vertical_flip else None
        return {
            "matrix": self.matrix(theta, tx, ty, shear, zx, zy, height, width, flip_x, flip_y)
        }

    def _warp(self, images, transformation, interpolation, fill_value):
        if transformation is None:
            return images
        unbatched = len(images.shape) == 3
        if unbatched:
            images = ops.expand_dims(images, 0)
        out = ops.image.affine_transform(
            images,
            transformation["matrix"],
            interpolation=interpolation,
            fill_mode=self.fill_mode,
            fill_value=fill_value,
            data_format="channels_last",
        )
        return ops.squeeze(out, 0) if unbatched else out

    def transform_images(self, images, transformation, training=True):
        """Warp images with a transform from :meth:`get_random_transformation`."""
        images = ops.cast(images, self.compute_dtype)
        if not training:
            return images
        return self._warp(images, transformation, self.interpolation, self.fill_value)

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        """Warp 0/1 masks like the images: bilinear, then thresholded at 0.5.

        Each channel is one structure's 0/1 mask (not a label map), so interpolating and
        thresholding keeps the mask's edge exactly where the warped image's edge is;
        nearest-neighbour sampling would move it by up to half a pixel.
        """
        masks = ops.cast(segmentation_masks, self.compute_dtype)
        if not training or transformation is None:
            return masks
        warped = self._warp(masks, transformation, "bilinear", 0.0)
        return ops.cast(warped >= 0.5, self.compute_dtype)

    def call(self, inputs, training=True):
        transformation = self.get_random_transformation(inputs, training=training)
        if not isinstance(inputs, dict):
            return self.transform_images(inputs, transformation, training=training)
        data = dict(inputs)
        data["images"] = self.transform_images(data["images"], transformation, training=training)
        if "segmentation_masks" in data:
            data["segmentation_masks"] = self.transform_segmentation_masks(
                data["segmentation_masks"], transformation, training=training
            )
        return data

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rotation_range": self.rotation_range,
            "width_shift_range": self.width_shift_range,
            "height_shift_range": self.height_shift_range,
            "shear_range": self.shear_range,
            "zoom_range": list(self.zoom_range),
            "horizontal_flip": self.horizontal_flip,
            "vertical_flip": self.vertical_flip,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "interpolation": self.interpolation,
            "seed": self.seed,
        }

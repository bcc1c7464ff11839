"""``RandomAffine``: ImageDataGenerator's rotation/shift/shear/zoom/flips as one resampling."""

import math

import cv2
import keras
import numpy as np
from keras import ops

from heartcv.layers._acquisition_shift import PairedTransformLayer
from heartcv.registry import did_you_mean

FILL_MODES = ("constant", "nearest", "reflect", "wrap")
_INTERPOLATIONS = ("nearest", "bilinear")
# Shifts are fractions: ImageDataGenerator's pixel form needs the image size, unknown here.
_FRACTION = "as a fraction of the image size in [0, 1) (pixel shifts are not supported)"
# name: (lower bound, upper bound (excluded), what the error says is expected)
_RANGES = {
    "rotation_range": (0.0, math.inf, ">= 0 degrees"),
    "width_shift_range": (0.0, 1.0, _FRACTION),
    "height_shift_range": (0.0, 1.0, _FRACTION),
    "shear_range": (0.0, 90.0, "in [0, 90) degrees"),
}
# OpenCV border modes that give keras.ops.image.affine_transform's fill modes. ("wrap" is
# left to keras.ops: its bilinear samples across the seam differ from BORDER_WRAP.)
_CV2_BORDERS = {
    "nearest": cv2.BORDER_REPLICATE,  # a a a | a b c d | d d d
    "constant": cv2.BORDER_CONSTANT,  # k k k | a b c d | k k k
    "reflect": cv2.BORDER_REFLECT,  # c b a | a b c d | d c b
}


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"Expected `{name}` to be a number. Received: {name}={value!r}")
    return float(value)


def check_affine_range(name, value, rule=None):
    """``value`` as a float, checked against ``_RANGES[rule or name]``."""
    low, high, expected = _RANGES[rule or name]
    number = _number(name, value)
    if not low <= number < high:
        raise ValueError(f"Expected `{name}` {expected}. Received: {name}={value}")
    return number


def check_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"Expected `{name}` to be a bool. Received: {name}={value!r}")
    return value


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"Expected `{name}` in {choices}.{did_you_mean(value, choices)} "
                         f"Received: {name}={value!r}")
    return value


def zoom_pair(zoom_range):
    """ImageDataGenerator's rule: a float ``z`` means [1 - z, 1 + z]; a pair is taken as is."""
    if isinstance(zoom_range, (list, tuple)):
        if len(zoom_range) != 2:
            raise ValueError(
                f"Expected `zoom_range` to be a float or a [lower, upper] pair. "
                f"Received: zoom_range={zoom_range!r}"
            )
        lower, upper = (_number("zoom_range", v) for v in zoom_range)
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


def _warp_opencv(images, matrices, fill_mode, fill_value, threshold=False):
    """``keras.ops.image.affine_transform(..., interpolation="bilinear")`` with OpenCV.

    Args:
        images: float32 ``(N, H, W, C)``.
        matrices: ``(N, 8)`` rows ``[a0, a1, a2, b0, b1, b2, 0, 0]``.
        fill_mode: one of ``_CV2_BORDERS``.
        fill_value: value outside the image for ``"constant"``.
        threshold: return ``warped >= 0.5`` (for 0/1 masks).
    """
    images = np.asarray(images, dtype=np.float32)
    n, h, w, c = images.shape
    out = np.empty((n, h, w, c), dtype=np.float32)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    border = _CV2_BORDERS[fill_mode]
    value = (float(fill_value),) * 4
    for i in range(n):
        m = np.asarray(matrices[i, :6], dtype=np.float64).reshape(2, 3)
        for start in range(0, c, 4):  # OpenCV warps up to 4 channels at once
            src = np.ascontiguousarray(images[i, :, :, start : start + 4])
            warped = cv2.warpAffine(
                src, m, (w, h), flags=flags, borderMode=border, borderValue=value
            )
            out[i, :, :, start : start + 4] = warped.reshape(h, w, -1)
    if threshold:
        out = (out >= 0.5).astype(np.float32)
    return out


@keras.saving.register_keras_serializable(package="heartcv")
class RandomAffine(PairedTransformLayer):
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
    random parameters in order and warp batches in parallel; ``transform_numpy`` applies a
    drawn transform to NumPy batches with OpenCV (same values, faster on CPU), which is how
    :mod:`heartcv.data.batches` warps.

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
        self.rotation_range = check_affine_range("rotation_range", rotation_range)
        self.width_shift_range = check_affine_range("width_shift_range", width_shift_range)
        self.height_shift_range = check_affine_range("height_shift_range", height_shift_range)
        self.shear_range = check_affine_range("shear_range", shear_range)
        self.zoom_range = zoom_pair(zoom_range)
        self.horizontal_flip = check_bool("horizontal_flip", horizontal_flip)
        self.vertical_flip = check_bool("vertical_flip", vertical_flip)
        self.fill_mode = check_choice("fill_mode", fill_mode, FILL_MODES)
        self.fill_value = float(fill_value)
        self.interpolation = check_choice("interpolation", interpolation, _INTERPOLATIONS)
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

    @property
    def numpy_fast_path(self):
        """Whether :meth:`transform_numpy` warps with OpenCV rather than the layer's ops.

        True for bilinear interpolation and ``fill_mode`` other than ``"wrap"`` (OpenCV's
        ``BORDER_WRAP`` samples across the seam differently).
        """
        return self.interpolation == "bilinear" and self.fill_mode in _CV2_BORDERS

    def transform_numpy(self, images, transformation, segmentation_masks=None):
        """:meth:`transform_images` and :meth:`transform_segmentation_masks` on NumPy arrays.

        With :attr:`numpy_fast_path` the warp is ``cv2.warpAffine`` with the same matrix,
        fill mode and fill value, about 4x faster on CPU, and it releases the GIL, so
        parallel ``tf.data`` calls through ``tf.numpy_function`` use every core; otherwise
        the layer's own ops run and the result is converted to NumPy. OpenCV warps up to
        4 channels at a time; with Intel IPP (the x86 wheels) 1-, 3- and 4-channel warps
        match the ops to 3e-3 grey levels (measured on 0-255 images), while OpenCV's own
        code (2-channel chunks, builds without IPP) samples on a 1/32-pixel grid: up to
        2.5% of a step across an edge, so a thresholded mask pixel can flip where the exact
        bilinear value is within about 0.02 of 0.5 (under 0.1% of pixels on synthetic masks).

        Args:
            images: ``(N, H, W, C)`` or ``(H, W, C)``, any range.
            transformation: from :meth:`get_random_transformation` (tensors or arrays), or
                ``None`` for the identity.
            segmentation_masks: optional 0/1 masks of the same height and width.

        Returns:
            ``(images, segmentation_masks)`` as NumPy float arrays (float32 from OpenCV); masks
            ``None`` when not given.
        """
        if not self.numpy_fast_path:
            images = ops.convert_to_numpy(self.transform_images(images, transformation))
            if segmentation_masks is not None:
                segmentation_masks = ops.convert_to_numpy(
                    self.transform_segmentation_masks(segmentation_masks, transformation)
                )
            return images, segmentation_masks

        def warp(x, fill_value, threshold):
            x = np.asarray(x, dtype=np.float32)
            if transformation is None:
                return x
            matrices = np.asarray(ops.convert_to_numpy(transformation["matrix"]))
            unbatched = x.ndim == 3
            out = _warp_opencv(
                x[None] if unbatched else x, matrices, self.fill_mode, fill_value, threshold
            )
            return out[0] if unbatched else out

        images = warp(images, self.fill_value, False)
        if segmentation_masks is not None:
            segmentation_masks = warp(segmentation_masks, 0.0, True)
        return images, segmentation_masks

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

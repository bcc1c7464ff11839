"""Training-time augmentation with ``ImageDataGenerator``'s parameter names and semantics.

The papers reproduced here describe augmentation as ``keras.preprocessing.image.
ImageDataGenerator`` arguments (``rotation_range=10, zoom_range=0.1, ...``). This module
builds a ``keras.Sequential`` of preprocessing layers that draws the same random
transforms, to run per batch inside ``tf.data`` (see :mod:`heartcv.data.batches`) or
eagerly on NumPy batches.

ImageDataGenerator's rules, and what they become:

=====================  ===============================  =====================================
argument               ImageDataGenerator               here
=====================  ===============================  =====================================
``rotation_range``     degrees, U(-r, r)                ``RandomAffine`` (``engine="fused"``)
                                                        or ``RandomRotation(r / 360)``
``width_shift_range``  fraction of the width, U(-w, w)  same fraction (``RandomTranslation``)
``height_shift_range`` fraction of the height           same fraction
``shear_range``        degrees, U(-s, s), about the     ``RandomAffine`` (the stock
                       centre                           ``RandomShear`` shears about the
                                                        top-left corner, in tan units)
``zoom_range``         z -> [1 - z, 1 + z], or a pair;  ``RandomZoom(lo - 1, hi - 1)`` per
                       zx, zy independent; > 1 zooms    axis (its positive factor also zooms
                       out                              out)
``horizontal_flip``    p = 0.5                          folded into ``RandomAffine``, or
                                                        ``RandomFlip("horizontal")``
``vertical_flip``      p = 0.5, independent             likewise, or a second
                                                        ``RandomFlip("vertical")``
                                                        (``"horizontal_and_vertical"`` flips
                                                        both axes together)
``brightness_range``   [lo, hi], clip(u * x, 0, 255)    ``RandomBrightnessFactor`` (the stock
                                                        ``RandomBrightness`` adds)
``fill_mode``/``cval`` "nearest", 0                     same names and defaults
=====================  ===============================  =====================================

With ``engine="fused"`` (default) rotation, shifts, shear, zoom and flips are one
``RandomAffine`` layer: the single output-to-input matrix ImageDataGenerator builds (the
flips, which it applies afterwards, folded in), one bilinear resampling; it reproduces
``apply_affine_transform`` to float precision (tested). ``engine="keras"`` chains the
stock layers (rotation, translation, shear, zoom — the order ImageDataGenerator
multiplies its matrices in — then flips), which resamples up to six times (more blur,
slower on CPU, see ``benchmarks/RESULTS.md``). Flips alone always use ``RandomFlip``.
Both accept ``{"images": x, "segmentation_masks": m}`` (0/1 masks, one channel per
structure) and move masks with the same transform; brightness leaves masks alone.
``RandomAffine`` warps masks bilinearly and thresholds at 0.5, so the mask's edge stays on
the warped image's edge; the stock layers sample masks with nearest neighbours at every
step and drift (IoU of a warped ``255 * mask`` thresholded vs its warped mask down to 0.91
with the chain, against >= 0.99 fused), so use ``"fused"`` for segmentation.

Beyond ImageDataGenerator, six acquisition-shift keys (``gamma_range``, ``contrast_range``,
``exposure_range``, ``noise_std_range``, ``blur_sigma_range``, ``resolution_range``; off by
default) add the image-only layers of ``heartcv.layers`` that imitate another hospital's
films (see :func:`build_augmenter`).

Reference:
    Chollet et al., Keras ``ImageDataGenerator`` (``keras/src/legacy/preprocessing/image.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import keras

from heartcv.layers._acquisition_shift import check_range
from heartcv.layers.random_affine import (
    FILL_MODES,
    RandomAffine,
    check_affine_range,
    check_bool,
    check_choice,
    zoom_pair,
)
from heartcv.layers.random_brightness_factor import RandomBrightnessFactor
from heartcv.layers.random_cardiac_enlargement import RandomCardiacEnlargement
from heartcv.layers.random_contrast_range import RandomContrastRange
from heartcv.layers.random_exposure import RandomExposure
from heartcv.layers.random_gamma import RandomGamma
from heartcv.layers.random_gaussian_blur import RandomGaussianBlur
from heartcv.layers.random_gaussian_noise import RandomGaussianNoise
from heartcv.layers.random_resolution_loss import RandomResolutionLoss
from heartcv.registry import did_you_mean

__all__ = [
    "AUGMENT_KEYS",
    "ENGINES",
    "augmenter_from_config",
    "build_augmenter",
    "rotation_factor",
    "translation_factor",
    "zoom_bounds",
    "zoom_factor",
]

ENGINES = ("fused", "keras")
AUGMENT_KEYS = (
    "rotation_range",
    "width_shift_range",
    "height_shift_range",
    "shear_range",
    "zoom_range",
    "horizontal_flip",
    "vertical_flip",
    "brightness_range",
    "fill_mode",
    "cval",
    "engine",
    "seed",
    "gamma_range",
    "contrast_range",
    "exposure_range",
    "noise_std_range",
    "blur_sigma_range",
    "resolution_range",
    "heart_scale_range",
    "thorax_scale_range",
    "heart_scale_probability",
)
# Acquisition-shift layers (image only), in the order they are applied: intensity mappings,
# then sharpness, then noise (so its level stays in output grey levels). Each entry: the
# build_augmenter argument, the layer, the layer-name suffix, the bounds of check_range and
# the range that is the identity (skipped like brightness_range=[1, 1]).
_SHIFT_LAYERS = (
    ("exposure_range", RandomExposure, "exposure", dict(low=0.0), [1.0, 1.0]),
    ("gamma_range", RandomGamma, "gamma", dict(low=0.0, low_inclusive=False), [1.0, 1.0]),
    ("contrast_range", RandomContrastRange, "contrast", dict(low=0.0), [1.0, 1.0]),
    ("blur_sigma_range", RandomGaussianBlur, "blur", dict(low=0.0), [0.0, 0.0]),
    ("resolution_range", RandomResolutionLoss, "resolution", dict(low=1.0), [1.0, 1.0]),
    ("noise_std_range", RandomGaussianNoise, "noise", dict(low=0.0), [0.0, 0.0]),
)


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"Expected `{name}` to be a number. Received: {name}={value!r}")
    return float(value)


def rotation_factor(rotation_range):
    """ImageDataGenerator ``rotation_range`` (degrees) → ``RandomRotation`` factor.

    ``RandomRotation(factor)`` rotates by ``U(-factor, factor) * 360`` degrees.

    Example:
        >>> rotation_factor(90)
        0.25
    """
    degrees = check_affine_range("rotation_range", rotation_range)
    if degrees > 360:
        raise ValueError(
            f"Expected `rotation_range` <= 360 degrees. Received: rotation_range={rotation_range}"
        )
    return degrees / 360.0


def translation_factor(shift_range, name="width_shift_range"):
    """ImageDataGenerator shift range → ``RandomTranslation`` factor.

    Both are fractions of the image width (height); ImageDataGenerator's pixel form
    (values >= 1) is not supported because the image size is not known when the augmenter
    is built.
    """
    return check_affine_range(name, shift_range, rule="width_shift_range")


def zoom_bounds(zoom_range):
    """ImageDataGenerator ``zoom_range`` → ``[lower, upper]`` zoom: ``z`` means ``[1-z, 1+z]``.

    Example:
        >>> zoom_bounds(0.1)
        [0.9, 1.1]
        >>> zoom_bounds([0.8, 1.0])
        [0.8, 1.0]
    """
    return zoom_pair(zoom_range)


def zoom_factor(zoom_range):
    """ImageDataGenerator ``zoom_range`` → ``RandomZoom`` ``(lower, upper)`` factor.

    ``RandomZoom`` scales sampling coordinates by ``1 + factor`` (positive zooms out), and
    ImageDataGenerator by ``z`` (above 1 zooms out), so ``factor = z - 1``.

    Example:
        >>> zoom_factor(0.2)
        (-0.2, 0.2)
    """
    lower, upper = zoom_bounds(zoom_range)
    if upper > 2.0:
        raise ValueError(
            f"Expected `zoom_range` upper bound <= 2 (RandomZoom's limit). "
            f"Received: zoom_range={zoom_range!r}"
        )
    return (round(lower - 1.0, 12), round(upper - 1.0, 12))


def _brightness(brightness_range):
    if brightness_range is None:
        return None
    if not isinstance(brightness_range, (list, tuple)) or len(brightness_range) != 2:
        raise ValueError(
            f"Expected `brightness_range` to be None or a [lower, upper] pair. "
            f"Received: brightness_range={brightness_range!r}"
        )
    lower, upper = (_number("brightness_range", v) for v in brightness_range)
    if not 0.0 <= lower <= upper:
        raise ValueError(
            f"Expected `brightness_range` with 0 <= lower <= upper. "
            f"Received: brightness_range={brightness_range!r}"
        )
    return [lower, upper]


_did_you_mean = did_you_mean


def _shift_ranges(values):
    """The checked acquisition-shift ranges that are on (not None), by argument name."""
    return {
        key: check_range(key, values[key], **bounds)
        for key, _, _, bounds, _ in _SHIFT_LAYERS
        if values[key] is not None
    }


def _check_options(fill_mode, engine, horizontal_flip, vertical_flip, seed):
    check_choice("fill_mode", fill_mode, FILL_MODES)
    if engine not in ENGINES:
        raise ValueError(
            f"Expected `engine` in {ENGINES}.{_did_you_mean(engine, ENGINES)} "
            f"Received: engine={engine!r}"
        )
    check_bool("horizontal_flip", horizontal_flip)
    check_bool("vertical_flip", vertical_flip)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"Expected `seed` to be an int or None. Received: seed={seed!r}")


def _add_geometric(add, engine, name, fill, *, rotation, width, height, shear, zoom,
                   horizontal_flip, vertical_flip):
    """Add the geometric layers through ``add``; returns whether one fused ``RandomAffine``
    was added (it then does the flips too)."""
    zoom_on = zoom != [1.0, 1.0]
    geometric = bool(rotation or width or height or shear or zoom_on)
    if engine == "fused" and geometric:
        add(RandomAffine, rotation_range=rotation, width_shift_range=width,
            height_shift_range=height, shear_range=shear, zoom_range=zoom,
            horizontal_flip=horizontal_flip, vertical_flip=vertical_flip,
            name=f"{name}_affine", **fill)
        return True
    if engine != "keras":
        return False
    if rotation:
        add(keras.layers.RandomRotation, rotation_factor(rotation), name=f"{name}_rotation",
            **fill)
    if width or height:
        add(keras.layers.RandomTranslation, height, width, name=f"{name}_translation", **fill)
    if shear:
        add(RandomAffine, shear_range=shear, name=f"{name}_shear", **fill)
    if zoom_on:
        factor = zoom_factor(zoom)
        add(keras.layers.RandomZoom, factor, factor, name=f"{name}_zoom", **fill)
    return False


def build_augmenter(
    *,
    rotation_range=0.0,
    width_shift_range=0.0,
    height_shift_range=0.0,
    shear_range=0.0,
    zoom_range=0.0,
    horizontal_flip=False,
    vertical_flip=False,
    brightness_range=None,
    gamma_range=None,
    contrast_range=None,
    exposure_range=None,
    noise_std_range=None,
    blur_sigma_range=None,
    resolution_range=None,
    heart_scale_range=None,
    thorax_scale_range=None,
    heart_scale_probability=0.5,
    fill_mode="nearest",
    cval=0.0,
    engine="fused",
    seed=None,
    name="augment",
):
    """A ``keras.Sequential`` drawing ``ImageDataGenerator``'s random transforms per image.

    Args:
        rotation_range: degrees; rotation by ``U(-r, r)``.
        width_shift_range: fraction of the width in [0, 1); shift by ``U(-w, w) * W``.
        height_shift_range: fraction of the height in [0, 1).
        shear_range: shear angle in degrees, ``U(-s, s)``, about the image centre.
        zoom_range: ``z`` for zooms in ``[1 - z, 1 + z]`` or a ``[lower, upper]`` pair;
            horizontal and vertical zooms are drawn independently; values above 1 zoom out.
        horizontal_flip: flip left-right with probability 0.5.
        vertical_flip: flip up-down with probability 0.5 (independently).
        brightness_range: ``[lower, upper]``: multiply by ``U(lower, upper)``, clip to [0, 255].
        gamma_range, contrast_range, exposure_range, noise_std_range, blur_sigma_range,
            resolution_range: acquisition shifts, each ``None`` (off, the default) or a
            ``[lower, upper]`` range for :class:`~heartcv.layers.RandomGamma`,
            :class:`~heartcv.layers.RandomContrastRange`, :class:`~heartcv.layers.RandomExposure`,
            :class:`~heartcv.layers.RandomGaussianNoise` (grey levels),
            :class:`~heartcv.layers.RandomGaussianBlur` (sigma in pixels) and
            :class:`~heartcv.layers.RandomResolutionLoss` (downsampling factor). They change
            the image only (masks untouched) and run after the geometric transforms, in the
            order exposure, gamma, contrast, blur, resolution, noise.
        heart_scale_range, thorax_scale_range: anatomy-aware resizing of the heart and the
            thorax width, moved with the masks (:class:`~heartcv.layers.RandomCardiacEnlargement`,
            after the affine transform); ``None`` (off) or ``[lower, upper]``. Needs the
            segmentation masks (heart in channel 0) for the heart; images alone get the
            thorax scale only.
        heart_scale_probability: chance that an image's heart is rescaled.
        fill_mode: ``"nearest"`` (ImageDataGenerator's default), ``"constant"``,
            ``"reflect"`` or ``"wrap"``.
        cval: fill value for ``fill_mode="constant"``.
        engine: ``"fused"`` (one ``RandomAffine``) or ``"keras"`` (stock layers chained).
        seed: integer seed; layer ``i`` gets ``seed + i``. ``None``: unseeded.
        name: name of the ``Sequential``.

    Returns:
        ``keras.Sequential`` taking images in [0, 255] (batched or not, or the dict form with
        ``"segmentation_masks"``) and returning float32; ``None`` when every transform is off.
        Call it with ``training=True``.

    Raises:
        ValueError: a range out of bounds, an unknown ``fill_mode`` or ``engine``.
        TypeError: a range that is not a number, a flip that is not a bool, a non-int seed.
    """
    rotation = _number("rotation_range", rotation_range)
    rotation_factor(rotation)  # validates
    width = translation_factor(width_shift_range, "width_shift_range")
    height = translation_factor(height_shift_range, "height_shift_range")
    shear = check_affine_range("shear_range", shear_range)
    zoom = zoom_bounds(zoom_range)
    brightness = _brightness(brightness_range)
    shift_ranges = _shift_ranges({
        "gamma_range": gamma_range,
        "contrast_range": contrast_range,
        "exposure_range": exposure_range,
        "noise_std_range": noise_std_range,
        "blur_sigma_range": blur_sigma_range,
        "resolution_range": resolution_range,
    })
    _check_options(fill_mode, engine, horizontal_flip, vertical_flip, seed)
    cval = _number("cval", cval)

    layers = []

    def add(layer_cls, *args, **kwargs):  # layer i gets seed + i
        layer_seed = None if seed is None else seed + len(layers)
        layers.append(layer_cls(*args, seed=layer_seed, **kwargs))

    fill = {"fill_mode": fill_mode, "fill_value": cval}
    fused = _add_geometric(add, engine, name, fill, rotation=rotation, width=width,
                           height=height, shear=shear, zoom=zoom,
                           horizontal_flip=horizontal_flip, vertical_flip=vertical_flip)
    if heart_scale_range is not None or thorax_scale_range is not None:
        add(RandomCardiacEnlargement,
            heart_scale_range=heart_scale_range or [1.0, 1.0],
            thorax_scale_range=thorax_scale_range or [1.0, 1.0],
            probability=heart_scale_probability,
            fill_mode="constant" if fill_mode == "constant" else "nearest",
            name=f"{name}_cardiac")
    if horizontal_flip and not fused:
        add(keras.layers.RandomFlip, "horizontal", name=f"{name}_hflip")
    if vertical_flip and not fused:
        add(keras.layers.RandomFlip, "vertical", name=f"{name}_vflip")
    if brightness is not None and brightness != [1.0, 1.0]:
        add(RandomBrightnessFactor, brightness, name=f"{name}_brightness")
    for key, layer_cls, suffix, _, identity in _SHIFT_LAYERS:
        if key in shift_ranges and shift_ranges[key] != identity:
            add(layer_cls, shift_ranges[key], name=f"{name}_{suffix}")
    if not layers:
        return None
    return keras.Sequential(layers, name=name)


def augmenter_from_config(cfg, *, seed=None):
    """Build the augmenter from a mapping or dataclass with :func:`build_augmenter`'s names.

    Args:
        cfg: ``None``, a mapping, or a dataclass instance whose fields are ``enabled``
            (default true) and any of ``AUGMENT_KEYS``.
        seed: overrides ``cfg["seed"]`` when given.

    Returns:
        The ``keras.Sequential``, or ``None`` when ``cfg`` is ``None``, ``enabled`` is false,
        or every transform is off.

    Raises:
        TypeError: ``cfg`` is neither a mapping nor a dataclass.
        ValueError: an unknown key (with a did-you-mean), or a bad value.
    """
    if cfg is None:
        return None
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        params = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    elif isinstance(cfg, Mapping):
        params = dict(cfg)
    else:
        raise TypeError(
            f"Expected `cfg` to be a mapping or a dataclass instance. Received: cfg={cfg!r}"
        )
    enabled = params.pop("enabled", True)
    unknown = [k for k in params if k not in AUGMENT_KEYS]
    if unknown:
        key = unknown[0]
        raise ValueError(
            f"Unknown augmentation key {key!r}.{_did_you_mean(key, AUGMENT_KEYS + ('enabled',))} "
            f"Expected keys among {list(AUGMENT_KEYS) + ['enabled']}. "
            f"Received: {key}={params[key]!r}"
        )
    if not enabled:
        return None
    if seed is not None:
        params["seed"] = seed
    return build_augmenter(**params)

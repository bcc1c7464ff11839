"""A fixed, seeded suite of acquisition shifts for evaluating radiograph models.

The ImageNet-C idea (Hendrycks & Dietterich, ICLR 2019) for chest films: score a model on
its own test images as another hospital, detector or export path would have delivered them.
A JSRT VGG16-U-Net heart segmenter with Dice 0.934 falls to 0.000 on the ``dim45`` images
and to 0.023 on ``noise12`` when its input is only divided by 255; report the suite beside
the clean score (see :func:`evaluate_under_shifts`).

Every shift works on uint8 images ``(N, H, W)`` or ``(N, H, W, C)`` in NumPy/OpenCV and
returns uint8 images of the same shape (rounded, clipped to [0, 255]). The suite, in order:

============  ===========================================================================
name          shift
============  ===========================================================================
none          unchanged (a copy)
dim45         intensities x 0.45 (an under-exposed film)
gamma0.5      ``255 (x / 255) ** 0.5`` (brighter mid-tones)
gamma2.0      ``255 (x / 255) ** 2`` (darker mid-tones)
contrast0.5   ``m + 0.5 (x - m)``, ``m`` the image's mean (half the contrast)
blur2         Gaussian blur, sigma = 2 px at 512 px, scaled with the image: ``2 side / 512``
              with ``side = max(H, W)`` (``BORDER_REFLECT_101``)
noise12       additive Gaussian noise, sigma = 12 grey levels, one value per pixel shared
              by the channels (grey stays grey); image ``i`` always gets the noise of
              ``numpy.random.default_rng([seed, i])``
jpeg30        OpenCV JPEG encode/decode at quality 30
lowres        area-downsample to a quarter of the side, bilinear back up (the detail lost
              when a 1024-px film is stored at 256 px)
============  ===========================================================================

Reference:
    Hendrycks D, Dietterich T. Benchmarking neural network robustness to common corruptions
    and perturbations. ICLR 2019.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping

import cv2
import numpy as np
from heartcv.registry import did_you_mean

__all__ = ["SHIFTS", "Shift", "apply_shift", "evaluate_under_shifts", "list_shifts"]


@dataclasses.dataclass(frozen=True)
class Shift:
    """One acquisition shift: ``fn(images, seed)`` on a validated uint8 ``(N, H, W, C)`` batch."""

    name: str
    description: str
    fn: Callable[[np.ndarray, int], np.ndarray]


def _to_uint8(x):
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _per_image(images, fn):
    """Apply ``fn`` to each ``(H, W, C)`` image; OpenCV drops a single channel, restored here."""
    out = np.empty_like(images)
    for i, img in enumerate(images):
        res = fn(img)
        out[i] = res.reshape(img.shape)
    return out


def _none(images, seed):
    return images.copy()


def _scale(factor):
    def fn(images, seed):
        return _to_uint8(images.astype(np.float32) * factor)

    return fn


def _gamma(gamma):
    def fn(images, seed):
        return _to_uint8(255.0 * (images.astype(np.float32) / 255.0) ** gamma)

    return fn


def _contrast(factor):
    def fn(images, seed):
        x = images.astype(np.float32)
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        return _to_uint8(mean + factor * (x - mean))

    return fn


def _blur(sigma_at_512):
    def fn(images, seed):
        sigma = sigma_at_512 * max(images.shape[1], images.shape[2]) / 512.0
        return _per_image(
            images,
            lambda img: cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101),
        )

    return fn


def _noise(stddev):
    def fn(images, seed):
        out = np.empty_like(images)
        for i, img in enumerate(images):
            rng = np.random.default_rng([seed, i])
            noise = rng.normal(0.0, stddev, img.shape[:2] + (1,))  # shared by the channels
            out[i] = _to_uint8(img.astype(np.float32) + noise)
        return out

    return fn


def _jpeg(quality):
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]

    def one(img):
        ok, buf = cv2.imencode(".jpg", img, params)
        if not ok:  # pragma: no cover - OpenCV encodes any uint8 grey/BGR image
            raise RuntimeError("OpenCV could not JPEG-encode an image.")
        return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)

    def fn(images, seed):
        if images.shape[-1] not in (1, 3):
            # JPEG stores grey or 3-channel colour: code each channel as its own grey image.
            return np.stack([fn(images[..., c : c + 1], seed)[..., 0]
                             for c in range(images.shape[-1])], axis=-1)
        return _per_image(images, one)

    return fn


def _lowres(factor):
    def fn(images, seed):
        h, w = images.shape[1:3]
        small = (max(1, round(w / factor)), max(1, round(h / factor)))

        def one(img):
            down = cv2.resize(img, small, interpolation=cv2.INTER_AREA)
            return cv2.resize(down, (w, h), interpolation=cv2.INTER_LINEAR)

        return _per_image(images, one)

    return fn


def _chain(*fns):
    """Shifts applied one after the other (each gets the same seed)."""

    def fn(images, seed):
        for f in fns:
            images = f(images, seed)
        return images

    return fn


SHIFTS: Mapping[str, Shift] = types.MappingProxyType(
    {
        s.name: s
        for s in (
            Shift("none", "unchanged", _none),
            Shift("dim45", "intensities x 0.45", _scale(0.45)),
            Shift("gamma0.5", "gamma 0.5: 255 (x / 255) ** 0.5", _gamma(0.5)),
            Shift("gamma2.0", "gamma 2: 255 (x / 255) ** 2", _gamma(2.0)),
            Shift("contrast0.5", "contrast halved about the image mean", _contrast(0.5)),
            Shift("blur2", "Gaussian blur, sigma 2 px at 512 px (scaled)", _blur(2.0)),
            Shift("noise12", "Gaussian noise, sigma 12 grey levels", _noise(12.0)),
            Shift("jpeg30", "JPEG quality 30", _jpeg(30)),
            Shift("lowres", "area down to 1/4 of the side, bilinear up", _lowres(4.0)),
            # Dark films: an under-exposed film whose mid-tones are darker still (the grey-
            # level shape changes, not only its range), and one that is dim and noisy.
            Shift("dark_gamma2", "dark film: x 0.6, then gamma 2", _chain(_scale(0.6), _gamma(2.0))),
            Shift("dark_noise", "dark film: x 0.45, then noise sigma 8", _chain(_scale(0.45), _noise(8.0))),
        )
    }
)
"""Name -> :class:`Shift`, read-only, in the suite's fixed order."""


def list_shifts():
    """Names of the suite's shifts, in order (``"none"`` first)."""
    return list(SHIFTS)


def _check_name(name):
    if not isinstance(name, str) or name not in SHIFTS:
        hint = did_you_mean(name, SHIFTS)
        raise ValueError(
            f"Unknown shift {name!r}.{hint} Expected one of {list(SHIFTS)}. Received: name={name!r}"
        )


def _check_images(images):
    if not isinstance(images, np.ndarray):
        raise TypeError(
            f"Expected `images` to be a numpy array. "
            f"Received: images of type {type(images).__name__}"
        )
    if images.dtype != np.uint8:
        raise TypeError(f"Expected uint8 `images`. Received: images.dtype={images.dtype}")
    if images.ndim not in (3, 4) or images.shape[0] == 0:
        raise ValueError(
            f"Expected images of shape (N, H, W) or (N, H, W, C) with N >= 1. "
            f"Received: images.shape={images.shape}"
        )
    if min(images.shape[1:3]) < 4:
        raise ValueError(
            f"Expected images of at least 4 x 4 pixels. Received: images.shape={images.shape}"
        )


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Expected `seed` to be an int >= 0. Received: seed={seed!r}")
    return int(seed)


def apply_shift(name, images, seed=0):
    """Apply one shift of the suite to a batch of uint8 images.

    Args:
        name: a name from :func:`list_shifts`.
        images: uint8 ``(N, H, W)`` or ``(N, H, W, C)``, at least 4 x 4 pixels.
        seed: int >= 0; only ``noise12`` is random, and image ``i`` of the batch gets the
            noise of ``numpy.random.default_rng([seed, i])``, so the same seed gives the
            same images.

    Returns:
        uint8 array of the input's shape (a new array; the input is not modified).

    Raises:
        ValueError: unknown ``name`` (with a did-you-mean), a bad shape or seed.
        TypeError: ``images`` not a uint8 numpy array.
    """
    _check_name(name)
    _check_images(images)
    seed = _check_seed(seed)
    x = images if images.ndim == 4 else images[..., None]
    out = SHIFTS[name].fn(np.ascontiguousarray(x), seed)
    return out.reshape(images.shape)


def evaluate_under_shifts(images, score_fn, *, shifts=None, seed=0):
    """Score a model on the same images under every shift of the suite.

    Args:
        images: uint8 ``(N, H, W)`` or ``(N, H, W, C)`` test images.
        score_fn: ``score_fn(shifted_images) -> dict`` of metrics (e.g. predicts with the
            model and compares with the reference masks, which the shifts do not move).
        shifts: names to run, in the given order (default: all of :func:`list_shifts`).
        seed: passed to :func:`apply_shift`.

    Returns:
        ``{name: score_fn(apply_shift(name, images, seed))}`` in the order run.

    Raises:
        ValueError: an unknown or repeated shift name, bad images or seed.
        TypeError: ``score_fn`` not callable, or returning something other than a mapping.
    """
    if not callable(score_fn):
        raise TypeError(f"Expected `score_fn` to be callable. Received: score_fn={score_fn!r}")
    if shifts is None:
        shifts = list_shifts()
    elif isinstance(shifts, str):
        raise TypeError(
            f"Expected `shifts` to be a list of names, not a string. Received: shifts={shifts!r}"
        )
    shifts = list(shifts)
    for name in shifts:
        _check_name(name)
    repeated = sorted({s for s in shifts if shifts.count(s) > 1})
    if repeated:
        raise ValueError(f"Expected each shift once. Received: repeated shifts {repeated}")
    _check_images(images)
    seed = _check_seed(seed)
    results = {}
    for name in shifts:
        result = score_fn(apply_shift(name, images, seed=seed))
        if not isinstance(result, Mapping):
            raise TypeError(
                f"Expected `score_fn` to return a dict of metrics. Received: "
                f"{type(result).__name__} for shift {name!r}"
            )
        results[name] = dict(result)
    return results

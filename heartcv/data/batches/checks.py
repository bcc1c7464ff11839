"""Argument checks of the batch builder, and its ``PyDataset`` loader options."""

from __future__ import annotations

import os

import numpy as np

from heartcv.data.augment import augmenter_from_config


def loader_options() -> dict:
    """``PyDataset`` worker options from ``HEARTCV_DATA_WORKERS`` / ``..._MULTIPROCESSING``."""
    raw = os.environ.get("HEARTCV_DATA_WORKERS", "1")
    try:
        workers = int(raw)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ValueError(f"Expected HEARTCV_DATA_WORKERS to be an int >= 1. "
                         f"Received: HEARTCV_DATA_WORKERS={raw!r}")
    multi = os.environ.get("HEARTCV_DATA_MULTIPROCESSING", "0")
    if multi not in ("0", "1"):
        raise ValueError(f"Expected HEARTCV_DATA_MULTIPROCESSING to be 0 or 1. "
                         f"Received: HEARTCV_DATA_MULTIPROCESSING={multi!r}")
    return {"workers": workers, "use_multiprocessing": multi == "1" and workers > 1}


def positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Expected `{name}` to be a positive int. Received: {name}={value!r}")
    return int(value)


def as_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (
        not isinstance(image_size, (tuple, list))
        or len(image_size) != 2
        or not all(isinstance(v, (int, np.integer)) and v > 0 for v in image_size)
    ):
        raise ValueError(
            f"Expected `image_size` to be None, a positive int or a (height, width) pair. "
            f"Received: image_size={image_size!r}"
        )
    return int(image_size[0]), int(image_size[1])


def check_channels(channels, source_channels):
    """1 ↔ 3 converts (grey repeated, RGB → luminance); any other count passes through as is
    (e.g. the 13 lead crops of an ECG volume)."""
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
        raise ValueError(f"Expected `channels` to be a positive int. Received: channels={channels!r}")
    if channels != source_channels and {channels, source_channels} != {1, 3}:
        raise ValueError(
            f"Expected `channels` equal to the images' channels, or 1 and 3 (grey ↔ RGB). "
            f"Received: channels={channels!r} for images with {source_channels} channels"
        )


def as_images(images, name="images"):
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise TypeError(f"Expected `{name}` to be uint8. Received: {name}.dtype={arr.dtype}")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[0] == 0:
        raise ValueError(
            f"Expected `{name}` of shape (N, H, W[, C]) with N > 0. "
            f"Received: {name}.shape={arr.shape}"
        )
    return arr


def check_arrays(images, targets, masks):
    """Validate :func:`make_dataset`'s targets / masks against ``images``; the masks (uint8,
    with a channel axis) or None."""
    n = len(images)
    if targets is not None and masks is not None:
        raise ValueError("Expected `targets` or `masks`, not both. Received: both")
    if targets is not None and len(targets) != n:
        raise ValueError(
            f"Expected one target per image ({n}). Received: len(targets)={len(targets)}"
        )
    if masks is None:
        return None
    masks = np.asarray(masks)
    if masks.shape[:3] != images.shape[:3] or masks.ndim not in (3, 4):
        raise ValueError(
            f"Expected `masks` of shape (N, H, W[, M]) matching images {images.shape[:3]}. "
            f"Received: masks.shape={masks.shape}"
        )
    masks = masks.astype(np.uint8, copy=False)
    return masks if masks.ndim == 4 else masks[..., None]


def check_inputs(n, extras, sample_weights):
    """Extra model inputs ``{name: (N, ...) array}`` and ``(N,)`` sample weights, checked."""
    extras = {str(k): np.asarray(v) for k, v in (extras or {}).items()}
    for name, value in extras.items():
        if len(value) != n:
            raise ValueError(f"Expected one row of extra input {name!r} per image ({n}). "
                             f"Received: len(extras[{name!r}])={len(value)}")
    if sample_weights is not None:
        sample_weights = np.asarray(sample_weights, np.float32).reshape(-1)
        if len(sample_weights) != n:
            raise ValueError(f"Expected one sample weight per image ({n}). "
                             f"Received: len(sample_weights)={len(sample_weights)}")
    return extras, sample_weights


def resolve_augment(augment, seed):
    if augment is None or callable(augment):
        return augment
    return augmenter_from_config(augment, seed=seed)

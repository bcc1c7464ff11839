"""The model card and the input size: reading ``<model>.card.json``, checking the
arguments every prediction takes, and bringing an image to the size the model runs at."""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path

import numpy as np

from heartcv.data.images import resize_image


FULL = "full"
SIZE_SOURCES = ("option", "card", "model", "image")
VIEWS = ("PA", "AP")


def check_view(view):
    """``None``, ``"PA"`` or ``"AP"`` (any case); anything else is a ValueError."""
    if view is None or (isinstance(view, str) and not view.strip()):
        return None
    if isinstance(view, str) and view.strip().upper() in VIEWS:
        return view.strip().upper()
    raise ValueError(f"Expected a view in {list(VIEWS)} (or none). Received: view={view!r}")


def check_ctr_threshold(threshold):
    """``None`` or a cut-off in (0, 1)."""
    if threshold is None:
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or not math.isfinite(threshold) or not 0 < threshold < 1:
        raise ValueError(f"Expected a CTR cut-off in (0, 1). Received: ctr_threshold={threshold!r}")
    return float(threshold)


def dicom_view(path):
    """The DICOM ``ViewPosition`` (``"PA"``/``"AP"``) of ``path``, or ``None``.

    ``None`` for files that are not DICOM, without the tag, or with another value (``LL``,
    ``LATERAL``: those are not frontal films, and QC will say so).
    """
    if Path(str(path)).suffix.lower() not in (".dcm", ".dicom", ""):
        return None
    try:
        import pydicom

        ds = pydicom.dcmread(str(path), stop_before_pixels=True)
        value = str(ds.get("ViewPosition", "") or "").strip().upper()
    except Exception:  # noqa: BLE001 - not DICOM, or unreadable: the reader will say so
        return None
    return value if value in VIEWS else None


def read_card(model_path) -> dict:
    """The result card written beside a model (``<stem>.card.json`` or ``model.card.json``)."""
    model_path = Path(model_path)
    for cand in (model_path.with_suffix(".card.json"), model_path.parent / "model.card.json"):
        if cand.is_file():
            try:
                card = json.loads(cand.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise ValueError(f"{cand}: not a readable model card ({err})") from None
            return card if isinstance(card, dict) else {}
    return {}


def check_image_size(image_size):
    """``None``, a positive int, or ``"full"``; ``ValueError`` otherwise."""
    if image_size is None or image_size == FULL:
        return image_size
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool) \
            and image_size >= 1:
        return int(image_size)
    raise ValueError("Expected `image_size` as a positive int, 'full' or None. "
                     f"Received: image_size={image_size!r}")


def check_alpha(alpha) -> float:
    """The overlay intensity as a float in [0, 1]; ``ValueError`` otherwise (NaN included)."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) \
            or not math.isfinite(float(alpha)) or not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"Expected `alpha` (--alpha) in [0, 1]. Received: alpha={alpha!r}")
    return float(alpha)


def check_model_channels(input_shape, image_path, model_name="the model"):
    """Refuse a model whose input channels a read image cannot be converted to.

    Images are read grey and repeated to 1 or 3 channels (interchangeable for grey
    radiographs). A 13-channel model (the five-class ECG paper) takes the 13-lead volumes of
    ``heartcv prep ecg_khan --leads``, not one image; any other count is refused too.
    """
    c = input_shape[-1]
    if c in (None, 1, 3):
        return
    if c == 13:
        raise ValueError(f"{model_name} takes 13-channel inputs (the 13-lead volumes of "
                         "`heartcv prep ecg_khan --leads`), not one image; evaluate it on a "
                         f"lead bundle instead. Received: image={str(image_path)!r}")
    raise ValueError(f"{model_name} takes {c}-channel inputs; an image converts only to 1 or 3 "
                     f"channels. Received: image={str(image_path)!r}")


def _card_size(card):
    size = card.get("input_size")
    if size is None:
        return None
    h, w = (size, size) if isinstance(size, int) else size
    return int(h), int(w)


def resolve_input_size(input_shape, card, image_hw, image_size=None, *, model_name="the model"):
    """The ``(height, width)`` a model runs at for one image, and where it came from.

    Args:
        input_shape: the model's input shape ``(None, H, W, C)`` (``H``, ``W`` may be None).
        card: the model card (:func:`read_card`; ``{}`` when there is none).
        image_hw: the image's own ``(height, width)``.
        image_size: ``None`` (card, else model, else image), an int ``N`` (N×N) or
            ``"full"`` (the image's own size; fully convolutional models only).
        model_name: how error messages name the model.

    Returns:
        ``((height, width), source)`` with ``source`` one of :data:`SIZE_SOURCES`.

    Raises:
        ValueError: a size the model cannot take (``"full"`` or another ``N`` for a model
            with a fixed input size).
    """
    image_size = check_image_size(image_size)
    mh, mw = input_shape[1], input_shape[2]
    fixed = (mh, mw) if mh is not None and mw is not None else None
    if image_size is None:
        card_hw = _card_size(card)
        if card_hw is not None and (fixed is None or card_hw == fixed):
            return card_hw, "card"
        if fixed is not None:
            return fixed, "model"
        return tuple(int(s) for s in image_hw[:2]), "image"
    if fixed is not None and image_size == FULL:
        raise ValueError(f"--image-size full needs a fully convolutional model (input shape "
                         f"(None, None, C)); {model_name} takes only {mh}x{mw} images. "
                         "Received: image_size='full'")
    hw = tuple(int(s) for s in image_hw[:2]) if image_size == FULL else (image_size, image_size)
    if fixed is not None and hw != fixed:
        raise ValueError(f"{model_name} takes only {mh}x{mw} images. "
                         f"Received: image_size={image_size}")
    return hw, "option"


def prepare_image(image: np.ndarray, input_shape, size=None) -> np.ndarray:
    """Grey/RGB uint8 image → (1, H, W, C) float32 in [0, 255] at ``size`` (height, width).

    ``size`` defaults to the model's fixed input size (the image's own size when it has
    none). Resizing is :func:`heartcv.data.images.resize_image` (area when shrinking).
    """
    img = image if image.ndim == 3 else image[..., None]
    if size is None:
        size = (input_shape[1] or img.shape[0], input_shape[2] or img.shape[1])
    if img.shape[:2] != tuple(size):
        img = resize_image(img, tuple(size))
    c = input_shape[-1] or 3
    if img.shape[-1] != c:
        img = np.repeat(img[..., :1], c, axis=-1)
    return img[None].astype(np.float32)

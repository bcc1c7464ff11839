"""Cardiothoracic ratio (CTR) from predicted heart and lung masks.

The measurement is the JSRT reader's, imported from it
(:func:`heartcv.data.datasets.jsrt.heart_width` and
:func:`~heartcv.data.datasets.jsrt.thorax_width`): the widest horizontal extent of the heart
(leftmost to rightmost heart column) over the widest horizontal extent of the two lungs
together (the largest leftmost-to-rightmost lung span on one row). A CTR measured on a
model's masks and one measured on the SCR reference masks are therefore the same number
when the masks agree (tested on the 247 JSRT images).

Predicted masks need two extra steps first, both here: probabilities (or 0/1, or 0/255
masks) are thresholded (``> threshold``), and only the largest 8-connected component of
each structure is kept (``cv2.connectedComponentsWithStats``), so a false-positive speck far
from the heart cannot widen it. What could not be measured is reported in ``flags`` rather
than raised, so a batch of predictions always gives one row per image.

Reference:
    Danzer CS. The cardio-thoracic ratio: an index of cardiac enlargement. Am J Med Sci
    157:513-521, 1919.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from heartcv.data.datasets.jsrt import heart_width, thorax_width
from heartcv.registry import did_you_mean

__all__ = [
    "CARDIOMEGALY_THRESHOLD",
    "FLAGS",
    "STRUCTURES",
    "ctr_batch",
    "ctr_from_masks",
    "ctr_from_prediction",
    "largest_component",
]

STRUCTURES = ("heart", "left_lung", "right_lung")
CARDIOMEGALY_THRESHOLD = 0.5
FLAGS = ("no_heart", "no_lung", "one_lung", "heart_wider_than_thorax")


def _check_threshold(threshold):
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float, np.floating, np.integer))
        or not math.isfinite(threshold)
    ):
        raise ValueError(
            f"Expected `threshold` to be a finite number. Received: threshold={threshold!r}"
        )
    return float(threshold)


def _check_mask(name, mask, shape=None):
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(
            f"Expected `{name}` to be a non-empty 2-D mask (H, W) or (H, W, 1). "
            f"Received: {name}.shape={mask.shape}"
        )
    if not (np.issubdtype(mask.dtype, np.number) or mask.dtype == bool):
        raise TypeError(f"Expected a numeric or bool `{name}`. Received: {name}.dtype={mask.dtype}")
    if shape is not None and mask.shape != shape:
        raise ValueError(
            f"Expected every mask to have shape {shape}. Received: {name}.shape={mask.shape}"
        )
    return mask


def largest_component(binary):
    """Keep the largest 8-connected component of a 2-D boolean mask.

    Args:
        binary: 2-D bool (or 0/1) array.

    Returns:
        ``(mask, area)``: a bool array of the same shape holding only the largest component
        (the first in OpenCV's labelling order on a tie) and its area in pixels; an
        all-false mask and 0 when there is no foreground.
    """
    binary = np.asarray(binary, dtype=bool)
    if binary.ndim != 2:
        raise ValueError(f"Expected a 2-D mask. Received: binary.shape={binary.shape}")
    if not binary.any():
        return binary.copy(), 0
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = 1 + int(np.argmax(areas))
    return labels == keep, int(areas[keep - 1])


def ctr_from_masks(heart, left_lung, right_lung, threshold=0.5):
    """Cardiothoracic ratio of one image from its heart and lung masks.

    Args:
        heart, left_lung, right_lung: 2-D arrays of one shape (``(H, W, 1)`` is accepted):
            probabilities, 0/1 or bool masks; a pixel is inside where ``value > threshold``.
        threshold: binarisation threshold (0.5 for probabilities and 0/1 masks; it also
            reads hard 0/255 masks; for soft-edged 0..255 files such as the SCR masks use
            127, which is the JSRT reader's ``>= 128``).

    Returns:
        dict with

        - ``ctr``: heart width / thorax width (float), or ``None`` when the heart or either
          lung is missing;
        - ``heart_width_px``, ``thorax_width_px``: ints, ``None`` when not measurable (the
          thorax needs both lungs);
        - ``areas_px``: ``{"heart", "left_lung", "right_lung"}`` areas of the kept (largest)
          components, in pixels;
        - ``flags``: list of strings from :data:`FLAGS`: ``"no_heart"``, ``"no_lung"``
          (both lungs empty), ``"one_lung"`` (one empty), ``"heart_wider_than_thorax"``
          (``ctr > 1``, kept but implausible);
        - ``cardiomegaly``: ``ctr > 0.5``, or ``None`` when ``ctr`` is ``None``.

    Raises:
        ValueError: masks not 2-D, of different shapes, or a non-finite ``threshold``.
        TypeError: masks that are not numeric or bool.
    """
    threshold = _check_threshold(threshold)
    heart = _check_mask("heart", heart)
    left_lung = _check_mask("left_lung", left_lung, heart.shape)
    right_lung = _check_mask("right_lung", right_lung, heart.shape)
    kept, areas = {}, {}
    for name, mask in zip(STRUCTURES, (heart, left_lung, right_lung)):
        kept[name], areas[name] = largest_component(mask > threshold)

    flags = []
    heart_px = heart_width(kept["heart"]) if areas["heart"] else None
    if heart_px is None:
        flags.append("no_heart")
    n_lungs = int(areas["left_lung"] > 0) + int(areas["right_lung"] > 0)
    thorax_px = None
    if n_lungs == 0:
        flags.append("no_lung")
    elif n_lungs == 1:
        flags.append("one_lung")
    else:
        thorax_px = thorax_width(kept["left_lung"], kept["right_lung"])
    ctr = None
    if heart_px is not None and thorax_px is not None:
        ctr = heart_px / thorax_px
        if ctr > 1.0:
            flags.append("heart_wider_than_thorax")
    return {
        "ctr": ctr,
        "heart_width_px": heart_px,
        "thorax_width_px": thorax_px,
        "areas_px": areas,
        "flags": flags,
        "cardiomegaly": None if ctr is None else bool(ctr > CARDIOMEGALY_THRESHOLD),
    }


def _structure_index(structures, k):
    if isinstance(structures, str) or not all(isinstance(s, str) for s in structures):
        raise TypeError(
            f"Expected `structures` to be a list of names. Received: structures={structures!r}"
        )
    structures = list(structures)
    if len(structures) != k:
        raise ValueError(
            f"Expected one name per prediction channel ({k}). "
            f"Received: structures={structures} ({len(structures)} names)"
        )
    if len(set(structures)) != len(structures):
        raise ValueError(f"Expected unique structure names. Received: structures={structures}")
    index = {}
    for need in STRUCTURES:
        if need not in structures:
            raise ValueError(
                f"Expected {need!r} among `structures`: the CTR needs {list(STRUCTURES)}."
                f"{did_you_mean(need, structures)} Received: structures={structures}"
            )
        index[need] = structures.index(need)
    return index


def ctr_from_prediction(pred, structures, threshold=0.5):
    """:func:`ctr_from_masks` on one ``(H, W, K)`` prediction with named channels.

    Args:
        pred: ``(H, W, K)`` probabilities or masks, channel ``k`` for ``structures[k]``.
        structures: ``K`` unique names including ``"heart"``, ``"left_lung"`` and
            ``"right_lung"`` (other channels, e.g. ``"clavicles"``, are ignored).
        threshold: see :func:`ctr_from_masks`.

    Returns:
        The dict of :func:`ctr_from_masks`.

    Raises:
        ValueError: ``pred`` not 3-D, a name count that differs from ``K``, repeated or
            missing names.
    """
    pred = np.asarray(pred)
    if pred.ndim != 3:
        raise ValueError(f"Expected `pred` of shape (H, W, K). Received: pred.shape={pred.shape}")
    index = _structure_index(structures, pred.shape[-1])
    return ctr_from_masks(*(pred[..., index[s]] for s in STRUCTURES), threshold=threshold)


def ctr_batch(preds, structures, threshold=0.5):
    """:func:`ctr_from_prediction` for each of ``N`` predictions.

    Args:
        preds: ``(N, H, W, K)`` probabilities or masks (e.g. ``model.predict`` output).
        structures: ``K`` channel names, see :func:`ctr_from_prediction`.
        threshold: see :func:`ctr_from_masks`.

    Returns:
        A list of ``N`` dicts (``pandas.DataFrame(result)`` makes a table of them).

    Raises:
        ValueError: ``preds`` not 4-D, or bad ``structures`` (see :func:`ctr_from_prediction`).
    """
    preds = np.asarray(preds)
    if preds.ndim != 4:
        raise ValueError(
            f"Expected `preds` of shape (N, H, W, K). Received: preds.shape={preds.shape}"
        )
    _structure_index(structures, preds.shape[-1])
    _check_threshold(threshold)
    return [ctr_from_prediction(p, structures, threshold) for p in preds]

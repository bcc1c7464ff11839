"""Quality control of heart + lung masks: does the prediction look like a chest at all?

A segmenter always draws something. On a lateral film, an inverted or rotated image, half a
chest or a photo of an ECG it still returns a heart and two lungs, and a CTR computed from
them is a confident number about nothing. :func:`check_anatomy` reads the predicted masks
(and the image) the way a radiographer glances at an overlay, and returns

- ``status``: ``"ok"``, ``"review"`` (plausible, but something is off: look at the overlay)
  or ``"fail"`` (not a usable frontal chest segmentation: no CTR call is made);
- ``reasons``: the checks that fired, each a short name (:data:`REASONS`);
- ``measures``: the numbers the checks read, for the record.

The checks, in image coordinates (the patient's left lung is on the image's right on a
PA/AP film, as in JSRT and ChestX-ray14):

======================  ======  ============================================================
reason                  level   fires when
======================  ======  ============================================================
missing_<structure>     fail    the structure has (almost) no pixels
fragmented_<structure>  review  its largest component holds < 85 % of its pixels
split_<structure>       fail    its second component is >= 35 % of the largest
lungs_swapped           fail    the left lung's centre is not right of the right lung's
heart_not_between       fail    the heart's centre is not between the two lungs' centres
heart_on_right          fail    the heart's centre lies on the patient's right of the thorax
                                midline (left of it in the image) by > 3 % of the thorax
                                width (a flipped film; dextrocardia also lands here)
heart_near_midline      review  the heart's centre is less than 3 % of the thorax width toward
                                the patient's left (SCR reference masks: 0.0 to 0.15, 8 of 247
                                below 0.03; a flipped film's heart drawn by the model: median
                                0.02)
heart_above_lungs       fail    the heart's top is above the lungs' apices, or its centre is
                                outside the lungs' vertical span
lung_size_mismatch      fail    one lung's area is < 0.35 of the other's (reference >= 0.55)
heart_too_small         fail    heart area < 0.12 of both lungs' (reference 0.18-0.53)
heart_small             review  heart area < 0.18 of both lungs' (none of the 247 references)
heart_too_large         fail    heart area > 0.80 of both lungs'
lung_apices_uneven      fail    the apices differ by > 20 % of the lungs' height (ref. <= 6 %)
lung_below_heart        fail    a piece of a lung (>= 2 % of it) lies below the heart
lungs_too_small         fail    the lungs cover < 6 % of the image (a crop, another view)
lungs_too_large         fail    the lungs cover > 60 % of the image
structure_at_border     fail    the lungs and heart fill > 10 % of the bottom 3 % of the
                                image, or the lungs > 25 % of its top 2 %
lungs_not_dark          fail    the lungs are not darker than the heart on the image (an
                                inverted image: a chest film's lungs are its dark fields)
ctr_implausible         fail    CTR < 0.30 or > 0.90 (an adult frontal film does not go there)
heart_wider_than_thorax fail    CTR > 1
uncertain_masks         review  > 25 % of the predicted structures' pixels have a
                                probability between 0.2 and 0.8
unstable_ctr            review  the test-time-augmentation interval is wider than 0.08
ctr_unreliable          fail    ... wider than 0.15
======================  ======  ============================================================

The thresholds were set from the SCR reference masks of the 247 JSRT films: every ``fail``
check passes on all of them; the ``review`` check ``heart_near_midline`` fires on 8 of them
(a heart drawn at 0.00-0.03 of the thorax width from the midline). Its 0.03 and the
``heart_small`` 0.18 were chosen after looking at mirrored JSRT films run through the earlier
model, so the built-to-fail measurement of flipped films is not blind to them. They are
module constants so a site can tighten them.
"""

from __future__ import annotations

import cv2
import numpy as np

from heartcv.ctr import ctr_from_prediction

__all__ = ["REASONS", "STATUSES", "check_anatomy", "combine_status"]

STATUSES = ("ok", "review", "fail")
LEVELS = {
    "missing": "fail", "fragmented": "review", "split": "fail", "lungs_swapped": "fail",
    "heart_not_between": "fail", "heart_on_right": "fail", "heart_near_midline": "review", "heart_above_lungs": "fail",
    "lung_size_mismatch": "fail", "heart_too_small": "fail", "heart_small": "review", "heart_too_large": "fail",
    "lung_apices_uneven": "fail", "lung_below_heart": "fail", "ctr_unreliable": "fail", "lungs_too_small": "fail", "lungs_too_large": "fail",
    "structure_at_border": "fail", "lungs_not_dark": "fail", "ctr_implausible": "fail",
    "heart_wider_than_thorax": "fail", "uncertain_masks": "review", "unstable_ctr": "review",
}
REASONS = tuple(LEVELS)

MIN_AREA_FRACTION = 0.002  # of the image: less is "missing"
MAIN_COMPONENT_SHARE = 0.85
SECOND_COMPONENT_RATIO = 0.35
HEART_OFFSET_LIMIT = 0.03  # of the thorax width, toward the image's left: fail
HEART_OFFSET_REVIEW = 0.03  # closer to the midline than this: review
LUNG_AREA_RATIO = 0.35  # smaller lung / larger: SCR reference masks >= 0.55
HEART_TO_LUNGS = (0.12, 0.80)  # heart area / both lungs' area: SCR reference 0.18-0.53
HEART_SMALL = 0.18  # review below this
APEX_DIFFERENCE = 0.20  # |apex rows| / lung height: SCR reference <= 0.063
STRAY_SHARE = 0.02  # a lung piece this large (of its main part) below the heart fails
TTA_FAIL_WIDTH = 0.15
LUNG_FRACTION = (0.06, 0.60)
BOTTOM_BAND, TOP_BAND = 0.03, 0.02  # of the image height
BOTTOM_FILL, TOP_FILL = 0.10, 0.25  # share of the band the structures may fill
CTR_RANGE = (0.30, 0.90)
UNCERTAIN_SHARE = 0.25
TTA_WIDTH = 0.08


def level(reason: str) -> str:
    """``"fail"`` or ``"review"``: the level of one reason (``missing_heart`` → ``missing``)."""
    return LEVELS.get(reason, LEVELS.get(reason.split("_", 1)[0], "review"))


def combine_status(reasons) -> str:
    """``"fail"`` if any reason fails, else ``"review"`` if any, else ``"ok"``."""
    levels = {level(r) for r in reasons}
    if "fail" in levels:
        return "fail"
    return "review" if levels else "ok"


def _components(mask):
    """Areas of the 8-connected components, largest first, the largest's mask, and the
    centroid rows of the others (largest first)."""
    n, labels, stats, cents = cv2.connectedComponentsWithStats(mask.astype(np.uint8),
                                                               connectivity=8)
    if n <= 1:
        return np.zeros(0, int), mask.astype(bool), np.zeros(0)
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(-areas)
    return areas[order], labels == 1 + int(order[0]), cents[1:, 1][order[1:]]


def _box(mask):
    ys, xs = np.nonzero(mask)
    return xs.min(), xs.max(), ys.min(), ys.max(), xs.mean(), ys.mean()


def _main_components(probs, names, need, threshold, reasons, measures):
    """Each structure's largest component and its large stray components (area, row)."""
    h, w = probs.shape[:2]
    main, strays = {}, {}
    for name in need:
        p = probs[..., names.index(name)]
        mask = p > threshold
        area = int(mask.sum())
        if area < MIN_AREA_FRACTION * h * w:
            reasons.append(f"missing_{name}")
            continue
        areas, largest, rows = _components(mask)
        strays[name] = [(a, r) for a, r in zip(areas[1:], rows) if a >= STRAY_SHARE * areas[0]]
        share = float(areas[0] / areas.sum())
        measures[f"{name}_main_share"] = round(share, 4)
        if len(areas) > 1 and areas[1] >= SECOND_COMPONENT_RATIO * areas[0]:
            reasons.append(f"split_{name}")
        elif share < MAIN_COMPONENT_SHARE:
            reasons.append(f"fragmented_{name}")
        main[name] = largest
    return main, strays


def _check_uncertain_and_border(probs, names, main, present, reasons, measures):
    h, w = probs.shape[:2]
    sel = np.stack([probs[..., names.index(n)] for n in present], -1)
    inside = sel > 0.2
    unsure = (sel > 0.2) & (sel < 0.8)
    share = float(unsure.sum() / max(inside.sum(), 1))
    measures["uncertain_share"] = round(share, 4)
    if share > UNCERTAIN_SHARE:
        reasons.append("uncertain_masks")
    bottom = int(np.ceil(h * (1 - BOTTOM_BAND)))
    top = max(1, int(np.floor(h * TOP_BAND)))
    low = np.any([main[n][bottom:] for n in present], axis=0).mean()
    high = np.any([main[n][:top] for n in present if n != "heart"] or [np.zeros((top, w), bool)],
                  axis=0).mean()
    measures["bottom_band_filled"] = round(float(low), 4)
    measures["top_band_filled"] = round(float(high), 4)
    at_border = low > BOTTOM_FILL or high > TOP_FILL
    if at_border:
        reasons.append("structure_at_border")


def _check_lungs(main, h, w, reasons, measures):
    """The two lungs' checks; returns their boxes and areas for the heart's checks."""
    lx0, lx1, ly0, ly1, lcx, lcy = left = _box(main["left_lung"])
    rx0, rx1, ry0, ry1, rcx, rcy = right = _box(main["right_lung"])
    la, ra = float(main["left_lung"].sum()), float(main["right_lung"].sum())
    lung_fraction = (la + ra) / (h * w)
    measures["lung_fraction"] = round(lung_fraction, 4)
    measures["lung_area_ratio"] = round(min(la, ra) / max(la, ra), 4)
    if lcx <= rcx:
        reasons.append("lungs_swapped")
    lung_height = max(max(ly1, ry1) - min(ly0, ry0), 1)
    measures["apex_difference"] = round(abs(ly0 - ry0) / lung_height, 4)
    if abs(ly0 - ry0) > APEX_DIFFERENCE * lung_height:
        reasons.append("lung_apices_uneven")
    if min(la, ra) < LUNG_AREA_RATIO * max(la, ra):
        reasons.append("lung_size_mismatch")
    if lung_fraction < LUNG_FRACTION[0]:
        reasons.append("lungs_too_small")
    elif lung_fraction > LUNG_FRACTION[1]:
        reasons.append("lungs_too_large")
    return left, right, la + ra


def _check_heart(main, strays, lungs, reasons, measures):
    (lx0, lx1, ly0, ly1, lcx, _), (rx0, rx1, ry0, ry1, rcx, _), lung_area = lungs
    hx0, hx1, hy0, hy1, hcx, hcy = _box(main["heart"])
    left_edge, right_edge = min(lx0, rx0), max(lx1, rx1)
    width = max(right_edge - left_edge, 1)
    mid = (left_edge + right_edge) / 2.0
    offset = (hcx - mid) / width  # > 0: toward the patient's left (image right)
    measures["heart_offset"] = round(float(offset), 4)
    if not (min(lcx, rcx) < hcx < max(lcx, rcx)):
        reasons.append("heart_not_between")
    elif offset < -HEART_OFFSET_LIMIT:
        reasons.append("heart_on_right")
    elif offset < HEART_OFFSET_REVIEW:
        reasons.append("heart_near_midline")
    heart_to_lungs = float(main["heart"].sum()) / max(lung_area, 1.0)
    measures["heart_to_lungs"] = round(heart_to_lungs, 4)
    if heart_to_lungs < HEART_TO_LUNGS[0]:
        reasons.append("heart_too_small")
    elif heart_to_lungs < HEART_SMALL:
        reasons.append("heart_small")
    elif heart_to_lungs > HEART_TO_LUNGS[1]:
        reasons.append("heart_too_large")
    if any(r > hy1 for n in ("left_lung", "right_lung") for _, r in strays.get(n, [])):
        reasons.append("lung_below_heart")
    apex = min(ly0, ry0)
    lung_bottom = max(ly1, ry1)
    if hy0 <= apex or not (apex < hcy < lung_bottom + 0.1 * (lung_bottom - apex)):
        reasons.append("heart_above_lungs")


def _check_heart_grey(image, main, h, w, reasons, measures):
    img = np.asarray(image, dtype=np.float32)
    img = img if img.ndim == 2 else img.mean(axis=-1)
    if img.shape[:2] == (h, w):
        lung_mean = float(img[main["left_lung"] | main["right_lung"]].mean())
        heart_mean = float(img[main["heart"]].mean())
        measures["lung_minus_heart_grey"] = round(lung_mean - heart_mean, 2)
        if lung_mean >= heart_mean:
            reasons.append("lungs_not_dark")


def _check_ctr(ctr, ctr_interval, reasons, measures):
    if ctr is not None:
        measures["ctr"] = round(float(ctr), 4)
        if ctr > 1.0:
            reasons.append("heart_wider_than_thorax")
        elif not CTR_RANGE[0] <= ctr <= CTR_RANGE[1]:
            reasons.append("ctr_implausible")
    if ctr_interval is not None and None not in ctr_interval:
        width = float(ctr_interval[1] - ctr_interval[0])
        measures["ctr_interval_width"] = round(width, 4)
        if width > TTA_FAIL_WIDTH:
            reasons.append("ctr_unreliable")
        elif width > TTA_WIDTH:
            reasons.append("unstable_ctr")


def check_anatomy(probs, names, image=None, *, ctr=None, ctr_interval=None, threshold=0.5) -> dict:
    """Plausibility checks of one ``(H, W, K)`` heart + lungs prediction.

    Args:
        probs: mask probabilities (or 0/1 masks) ``(H, W, K)``.
        names: the ``K`` structure names; ``heart``, ``left_lung`` and ``right_lung`` are
            read (other channels are ignored).
        image: the ``(H, W)`` or ``(H, W, C)`` image the masks were predicted on (same size);
            enables the ``lungs_not_dark`` check.
        ctr: the CTR measured from these masks (``ctr_implausible``,
            ``heart_wider_than_thorax``).
        ctr_interval: ``(low, high)`` from test-time augmentation (``unstable_ctr``).
        threshold: probability threshold of the masks.

    Returns:
        ``{"status", "reasons", "measures"}`` (see the module docstring).
    """
    probs = np.asarray(probs, dtype=np.float32)
    if probs.ndim != 3:
        raise ValueError(f"Expected `probs` of shape (H, W, K). Received: {probs.shape}")
    names = list(names)
    need = ("heart", "left_lung", "right_lung")
    if not all(n in names for n in need):
        raise ValueError(f"Expected structures {list(need)} among names. Received: {names}")
    h, w = probs.shape[:2]
    reasons, measures = [], {}
    main, strays = _main_components(probs, names, need, threshold, reasons, measures)
    present = [n for n in need if n in main]
    if present:
        _check_uncertain_and_border(probs, names, main, present, reasons, measures)
    if "left_lung" in main and "right_lung" in main:
        lungs = _check_lungs(main, h, w, reasons, measures)
        if "heart" in main:
            _check_heart(main, strays, lungs, reasons, measures)
            if image is not None:
                _check_heart_grey(image, main, h, w, reasons, measures)
    _check_ctr(ctr, ctr_interval, reasons, measures)
    return {"status": combine_status(reasons), "reasons": reasons, "measures": measures}


# --------------------------------------------------------------------- test-time augmentation

TTA_VIEWS = (
    ("identity", 1.0, 0.0, 0.0),
    ("zoom_out_0.9", 0.9, 0.0, 0.0),
    ("shift_left_4pct", 1.0, -0.04, 0.0),
    ("shift_right_4pct", 1.0, 0.04, 0.0),
    ("shift_down_4pct", 1.0, 0.0, 0.04),
)
"""``(name, scale, dx, dy)`` of each view: scale about the centre, shifts as fractions of the
side. No flips: a flipped chest puts the heart on the wrong side, a film the model never saw.
The CTR is a ratio of widths, so it does not change under these views where the model is
stable; how much it does change is the interval."""


def tta_inputs(x):
    """The :data:`TTA_VIEWS` of a batch ``(N, H, W, C)``: ``(V * N, H, W, C)``, view-major.

    Edges are replicated (a chest film's border is not black everywhere).
    """
    x = np.asarray(x, dtype=np.float32)
    n, h, w, c = x.shape
    out = np.empty((len(TTA_VIEWS) * n, h, w, c), dtype=np.float32)
    for v, (_, scale, dx, dy) in enumerate(TTA_VIEWS):
        m = np.array([[scale, 0, (1 - scale) * (w - 1) / 2 + dx * w],
                      [0, scale, (1 - scale) * (h - 1) / 2 + dy * h]], dtype=np.float64)
        for i in range(n):
            warped = cv2.warpAffine(x[i], m, (w, h), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)
            out[v * n + i] = warped.reshape(h, w, c)
    return out


def tta_ctr_interval(view_preds, names, n, *, threshold=0.5):
    """Per image, ``(low, high)`` of the CTRs over the views, and each view's CTR.

    Args:
        view_preds: ``(V * N, h, w, K)`` predictions of :func:`tta_inputs`'s batch.
        names: the ``K`` structure names.
        n: the number of images ``N``.

    Returns:
        A list of ``N`` dicts ``{"low", "high", "views": [ctr or None per view]}``; ``low``
        and ``high`` are ``None`` when fewer than two views gave a CTR.
    """
    view_preds = np.asarray(view_preds)
    v = view_preds.shape[0] // n
    out = []
    for i in range(n):
        ctrs = [ctr_from_prediction(view_preds[k * n + i], names, threshold)["ctr"] for k in range(v)]
        got = [c for c in ctrs if c is not None]
        low, high = (min(got), max(got)) if len(got) >= 2 else (None, None)
        out.append({"low": low, "high": high,
                    "views": [None if c is None else round(float(c), 5) for c in ctrs]})
    return out

"""Steps 1-7 of the heart-outline pipeline on one image (see :mod:`heartcv.papers.chd_xray_vgg_unet.contours`)."""

from dataclasses import dataclass

import cv2
import numpy as np

from heartcv.data.datasets.chd import check_vertices, trace_to_mask
from heartcv.data.images import binarize_mask
from heartcv.papers.chd_xray_vgg_unet.contours.params import make_params

__all__ = ["OutlineResult", "dice", "extract_heart_outline", "rows_from_mask"]


@dataclass
class OutlineResult:
    """The outline and what each step made (images at the working size, for figures).

    Attributes:
        polygon: (K, 2) float64 vertices ``(x, y)`` in original-image pixels.
        shape: (H, W) of the original image.
        top_row, bottom_row: the marks, in original pixels.
        scale: ``(x, y)`` ratios of the working size to the original size.
        level: the binarization grey level used (after the offset).
        seed: ``(x, y)`` of the flood-fill seed in working pixels.
        enhanced, binary, morphology, filled, lungs, region: uint8 working-size images: the
            enhanced grey image, the binarized image (0/1), after opening/closing (0/1), the
            flood-filled region (0/1), the selected lung fields (1 left, 2 right) and the
            completed heart region (0/1) whose contour is fitted.
    """

    polygon: np.ndarray
    shape: tuple
    top_row: int
    bottom_row: int
    scale: float
    level: float
    seed: tuple
    enhanced: np.ndarray
    binary: np.ndarray
    morphology: np.ndarray
    filled: np.ndarray
    lungs: np.ndarray
    region: np.ndarray

    @property
    def mask(self):
        """The polygon filled at the original size (uint8 0/1), as ``trace_to_mask`` does."""
        return trace_to_mask(self.polygon, self.shape)


def dice(a, b):
    """Dice overlap of two masks (nonzero = inside); 1.0 when both are empty."""
    a, b = np.asarray(a) != 0, np.asarray(b) != 0
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def rows_from_mask(mask):
    """The first and last rows holding the heart in a reference mask (nonzero or >= 128).

    Raises:
        ValueError: if the mask is not 2-D or holds no foreground.
    """
    m = binarize_mask(np.asarray(mask))
    if m.ndim != 2:
        raise ValueError(f"Expected a 2-D mask. Received: mask.shape={m.shape}")
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        raise ValueError("The mask is empty; no heart rows to take.")
    return int(rows[0]), int(rows[-1])


def check_image(image):
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise TypeError(f"Expected a uint8 image (heartcv.data.images.read_image returns one). "
                        f"Received: image.dtype={img.dtype}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    elif img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    if img.ndim != 2 or min(img.shape) < 8:
        raise ValueError(f"Expected a grey (H, W), (H, W, 1) or RGB (H, W, 3) image at least "
                         f"8x8. Received: image.shape={np.shape(image)}")
    return img


def check_rows(top_row, bottom_row, shape):
    h, w = shape
    for name, v in (("top_row", top_row), ("bottom_row", bottom_row)):
        numeric = isinstance(v, (int, float, np.integer, np.floating)) \
            and not isinstance(v, (bool, np.bool_))
        if not numeric or not float(v).is_integer():
            raise TypeError(f"Expected `{name}` to be an integer row. Received: {name}={v!r}")
    t, b = int(top_row), int(bottom_row)
    if not (0 <= t < h and 0 <= b < h):
        raise ValueError(f"Expected the rows inside the {w}x{h} (WxH) image, 0 <= row <= {h - 1}. "
                         f"Received: top_row={t}, bottom_row={b}")
    if t >= b:
        raise ValueError(f"Expected top_row < bottom_row (the upper heart boundary above the "
                         f"lower one). Received: top_row={t}, bottom_row={b}")
    return t, b


def _kernel(k):
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(k), int(k)))


def _borders(img, t, b, p, scale):
    """Steps 1-5 at the working size: per-row left/right borders (NaN where no lung)."""
    g = cv2.createCLAHE(float(p.clahe_clip), (p.clahe_tiles,) * 2).apply(img) \
        if p.clahe_clip > 0 else img.copy()
    if p.blur:
        g = cv2.GaussianBlur(g, (p.blur, p.blur), 0)
    h, w = g.shape
    m = int(w * p.side_margin)
    if p.threshold == "otsu":
        band = np.ascontiguousarray(g[t:b + 1, m:w - m]).reshape(1, -1)
        level, _ = cv2.threshold(band, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    else:
        level = float(p.threshold)
    level = float(level) + float(p.threshold_offset)
    binary = (g > level).astype(np.uint8)
    morph = binary
    if p.open_kernel:
        morph = cv2.morphologyEx(morph, cv2.MORPH_OPEN, _kernel(p.open_kernel),
                                 iterations=p.open_iterations)
    if p.close_kernel:
        morph = cv2.morphologyEx(morph, cv2.MORPH_CLOSE, _kernel(p.close_kernel),
                                 iterations=p.close_iterations)
    # seed: a bright pixel on the middle row, in the central column with most bright pixels
    ys = (t + b) // 2
    c0, c1 = w // 4, max(w // 4 + 1, 3 * w // 4)
    if p.seed_x is None:
        counts = morph[t:b + 1, c0:c1].sum(axis=0).astype(np.float32).reshape(1, -1)
        xs = c0 + int(np.argmax(cv2.blur(counts, (15, 1)).ravel()))
    else:
        xs = min(w - 1, int(round((p.seed_x + 0.5) * scale[0] - 0.5)))
    bright = np.flatnonzero(morph[ys, c0:c1]) + c0
    if not morph[ys, xs]:
        if bright.size == 0:
            raise no_heart("no bright pixel on the middle row of the band after binarization")
        xs = int(bright[np.argmin(np.abs(bright - xs))])
    # flood fill of the bright region connected to the seed, confined to the band; fill holes
    banded = np.zeros_like(morph)
    banded[t:b + 1] = morph[t:b + 1]
    ff_mask = np.zeros((h + 2, w + 2), np.uint8)
    cv2.floodFill(banded, ff_mask, (xs, ys), 2, flags=4)
    filled = (banded == 2).astype(np.uint8)
    outside = np.pad(1 - filled, 1, constant_values=1)
    cv2.floodFill(outside, None, (0, 0), 2, flags=4)
    filled[outside[1:-1, 1:-1] == 1] = 1
    # lung fields: the largest dark region on each side of the seed (area within the band)
    n, labels = cv2.connectedComponents((1 - morph).astype(np.uint8), connectivity=4)
    sub = labels[t:b + 1]
    lungs_img = np.zeros_like(morph)
    borders = []
    for side, part in ((0, sub[:, m:xs]), (1, sub[:, xs + 1:w - m])):
        area = np.bincount(part.ravel(), minlength=n)
        area[0] = 0  # label 0: the bright pixels
        k = int(np.argmax(area))
        x = np.full(b - t + 1, np.nan)
        if area[k] > 0:
            lungs_img[labels == k] = side + 1
            lung = (sub[:, :xs] if side == 0 else sub[:, xs + 1:]) == k
            has = lung.any(axis=1)
            if side == 0:
                edge = xs - 1 - np.argmax(lung[:, ::-1], axis=1)  # last lung column left
                x[has] = edge[has] + 1
            else:
                edge = xs + 1 + np.argmax(lung, axis=1)  # first lung column right
                x[has] = edge[has] - 1
        borders.append(x)
    left, right = borders
    # where the filled region holds the seed column, its run there bounds the heart too
    for k, y in enumerate(range(t, b + 1)):
        row = filled[y]
        if not row[xs]:
            continue
        gaps = np.flatnonzero(row[:xs] == 0)
        run_l = gaps[-1] + 1 if gaps.size else 0
        gaps = np.flatnonzero(row[xs:] == 0)
        run_r = xs + gaps[0] - 1 if gaps.size else w - 1
        if not np.isnan(left[k]):
            left[k] = max(left[k], run_l)
        if not np.isnan(right[k]):
            right[k] = min(right[k], run_r)
    return dict(left=left, right=right, level=level, seed=(xs, ys), enhanced=g, binary=binary,
                morphology=morph, filled=filled, lungs=lungs_img)


def no_heart(reason, rows=None):
    where = f" between rows {rows[0]} and {rows[1]}" if rows else ""
    return ValueError(f"No heart region found{where}: {reason}.")


def _running_median(x, window):
    if window <= 1:
        return x.copy()
    half = window // 2
    padded = np.pad(x, half, constant_values=np.nan)
    out = np.full_like(x, np.nan)
    for k in np.flatnonzero(~np.isnan(x)):
        out[k] = np.nanmedian(padded[k:k + 2 * half + 1])
    return out


def _cut(x, sign, slope, top_slope, window):
    """NaN the rows where a border has left the heart (sharp outward turn); sign +1: left."""
    x = x.copy()
    n = len(x)
    ok = np.flatnonzero(~np.isnan(x))
    mid = int(np.median(ok))
    for k in range(mid, n - window):
        if not np.isnan(x[k]) and not np.isnan(x[k + window]) \
                and sign * (x[k] - x[k + window]) > slope * window:
            x[k + 1:] = np.nan
            break
    for k in range(mid, window - 1, -1):
        if not np.isnan(x[k]) and not np.isnan(x[k - window]) \
                and sign * (x[k] - x[k - window]) > top_slope * window:
            x[:k] = np.nan
            break
    return x


def _complete(x, bottom_x, top_x, top_round):
    """Fill a border's NaN rows: quarter-ellipse to the bottom apex, flat or rounded top."""
    x = x.copy()
    n = len(x)
    ok = np.flatnonzero(~np.isnan(x))
    e, s = ok[-1], ok[0]
    if e < n - 1:
        yy = np.arange(e + 1, n)
        frac = (yy - e) / (n - 1 - e)
        x[e + 1:] = bottom_x + (x[e] - bottom_x) * np.sqrt(np.clip(1 - frac ** 2, 0, 1))
    x[:s] = x[s]
    gaps = np.isnan(x)
    if gaps.any():
        x[gaps] = np.interp(np.flatnonzero(gaps), np.flatnonzero(~gaps), x[~gaps])
    h = int(round(top_round * n))
    if 1 < h < n:
        yy = np.arange(h)
        x[:h] = top_x + (x[h] - top_x) * np.sqrt(np.clip(1 - ((h - yy) / h) ** 2, 0, 1))
    return x


def _region(left, right, t, b, p, shape, rows):
    """Step 6: smooth, cut and complete the borders; the filled region (working size)."""
    sides = []
    for name, x, sign, slope in (("left", left, 1, p.junction_slope_left),
                                 ("right", right, -1, p.junction_slope_right)):
        if np.isnan(x).all():
            raise no_heart(f"no lung field borders the heart on the image {name}", rows)
        x = _cut(x, sign, slope, p.top_slope, p.junction_window)
        sides.append(_running_median(x, p.median_window))
    left, right = sides
    last = [np.flatnonzero(~np.isnan(x))[-1] for x in sides]
    first = [np.flatnonzero(~np.isnan(x))[0] for x in sides]
    bottom_x = left[last[0]] + p.bottom_apex * (right[last[1]] - left[last[0]])
    top_x = left[first[0]] + p.top_apex * (right[first[1]] - left[first[0]])
    left = _complete(left, bottom_x, top_x, p.top_round)
    right = _complete(right, bottom_x, top_x, p.top_round)
    right = np.maximum(right, left)
    ys = np.arange(t, b + 1, dtype=np.float64)
    poly = np.concatenate([np.stack([left, ys], 1), np.stack([right, ys], 1)[::-1]])
    region = trace_to_mask(poly, shape)
    return region


def _fit_polygon(region, p, scale, shape, rows):
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        raise no_heart("the completed region is empty", rows)
    c = max(contours, key=cv2.contourArea)
    h, w = shape
    eps = float(p.epsilon_fraction)
    for _ in range(6):
        approx = cv2.approxPolyDP(c, eps * cv2.arcLength(c, True), True).reshape(-1, 2)
        v = (approx.astype(np.float64) + 0.5) / np.asarray(scale) - 0.5
        v[:, 0] = np.clip(v[:, 0], 0, w - 1)
        v[:, 1] = np.clip(v[:, 1], 0, h - 1)
        try:
            return check_vertices(v, "(the fitted outline)", shape)
        except ValueError:
            eps /= 2  # a coarse fit may cross itself; refine
    raise no_heart("the fitted polygon is not simple", rows)


def extract_heart_outline(image, top_row, bottom_row, params=None, *, diagnostics=False,
                          **overrides):
    """Heart outline polygon from an image and its marked upper and lower heart rows.

    Args:
        image: uint8 grey (H, W) (or (H, W, 1), or RGB (H, W, 3)) frontal chest radiograph.
        top_row, bottom_row: the manually marked upper and lower heart boundaries (pixel
            rows of ``image``; top_row < bottom_row).
        params: :class:`OutlineParams` (or a dict of its fields); defaults as tuned on JSRT.
        diagnostics: return an :class:`OutlineResult` with every intermediate image instead
            of the polygon only.
        **overrides: fields of :class:`OutlineParams`, e.g. ``open_kernel=9``.

    Returns:
        (K, 2) float64 vertices ``(x, y)`` (pixel column, row; a simple polygon that
        :func:`heartcv.data.datasets.chd.write_trace` accepts), or the :class:`OutlineResult`.

    Raises:
        TypeError: a non-uint8 image or non-integer rows.
        ValueError: rows outside the image or ``top_row >= bottom_row``; an unknown or bad
            parameter; "No heart region found between rows ..." when a step finds nothing
            (no bright seed, no lung on a side, an outline below ``min_area``).
    """
    p = make_params(params, **overrides)
    img = check_image(image)
    t0, b0 = check_rows(top_row, bottom_row, img.shape)
    work, t, b, scale = working_copy(img, t0, b0, p.work_width)
    found = find_borders(work, t, b, p, scale, (t0, b0))
    polygon, region = fit_outline(found, t, b, p, scale, work.shape, img.shape, (t0, b0))
    if not diagnostics:
        return polygon
    return OutlineResult(polygon=polygon, shape=img.shape, top_row=t0, bottom_row=b0,
                         scale=scale, level=found["level"], seed=found["seed"],
                         enhanced=found["enhanced"], binary=found["binary"],
                         morphology=found["morphology"], filled=found["filled"],
                         lungs=found["lungs"], region=region)


def working_copy(img, t0, b0, work_width):
    """The image resized to ``work_width`` wide and the rows mapped onto it."""
    h0, w0 = img.shape
    if w0 == work_width:
        return img, t0, b0, (1.0, 1.0)
    hw = max(8, int(round(h0 * work_width / w0)))
    scale = (work_width / w0, hw / h0)
    work = cv2.resize(img, (work_width, hw),
                      interpolation=cv2.INTER_AREA if w0 > work_width else cv2.INTER_LINEAR)
    t = min(hw - 1, int(round((t0 + 0.5) * scale[1] - 0.5)))
    b = min(hw - 1, int(round((b0 + 0.5) * scale[1] - 0.5)))
    if b <= t:
        t, b = (t, t + 1) if t + 1 < hw else (t - 1, t)
    return work, t, b, scale


def find_borders(work, t, b, p, scale, rows):
    try:
        return _borders(work, t, b, p, scale)
    except ValueError as e:
        raise no_heart(str(e).split(": ", 1)[-1].rstrip("."), rows) from None


def fit_outline(found, t, b, p, scale, work_shape, shape, rows):
    """Steps 6-7: the completed region (working size) and the polygon (original pixels)."""
    region = _region(found["left"], found["right"], t, b, p, work_shape, rows)
    covered = region.sum() / ((b - t + 1) * work_shape[1])
    if covered < p.min_area:
        raise no_heart(f"the outline covers {covered:.3f} of the band, below "
                        f"min_area={p.min_area}", rows)
    return _fit_polygon(region, p, scale, shape, rows), region

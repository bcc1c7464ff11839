"""Measured localization of heatmaps against masks and boxes (beyond the papers' pictures).

Cardio-XAttentionNet shows attention maps but measures none; these scores put a number on
them. Pure numpy/OpenCV: no Keras. Heatmaps are non-negative (N, h, w) arrays (the output of
:mod:`heartcv.explain`); they are resized (bilinear) to the mask size, or to ``image_size``
for boxes, before scoring. Ground truth is either masks (N, H, W) (e.g. heart masks of
``heartcv.data.synthetic.generate_chest_xrays`` or JSRT) or boxes ``(x, y, w, h)`` in pixel
coordinates of that image (e.g. ChestX-ray14's ``BBox_List_2017.csv``, 1024×1024): an
(N, 4) array, or a list of N entries each holding one or more boxes. A box covers the
continuous region [x, x + w) × [y, y + h); a pixel belongs to it when its centre does.
Every image needs a non-empty ground-truth region (score positives only).

References:
    Zhou B, Khosla A, Lapedriza A, Oliva A, Torralba A. Learning deep features for
    discriminative localization. CVPR 2016 (boxes from thresholded heatmaps).
    Zhang J, Lin Z, Brandt J, Shen X, Sclaroff S. Top-down neural attention by excitation
    backprop. ECCV 2016 (the pointing game).
    Wang X, Peng Y, Lu L, Lu Z, Bagheri M, Summers RM. ChestX-ray8: hospital-scale chest
    X-ray database and benchmarks on weakly-supervised classification and localization of
    common thorax diseases. CVPR 2017 (IoU and IoBB accuracies on ChestX-ray14's boxes).
"""

from __future__ import annotations

import cv2
import numpy as np

from heartcv.evaluation._common import check_ci, check_n_boot, to_jsonable
from heartcv.evaluation.roc import bootstrap_counts, percentile_ci

BINARIZE_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
IOU_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)  # T(IoU) of Wang et al.
IOBB_THRESHOLDS = (0.1, 0.25, 0.5, 0.75, 0.9)  # T(IoBB) of Wang et al.
MATCHES = ("best", "peak")


# --------------------------------------------------------------------------- inputs
def _heatmaps(heatmaps, nonnegative=True):
    try:
        h = np.asarray(heatmaps, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise TypeError(f"Expected `heatmaps` as a numeric array. "
                        f"Received: {type(heatmaps).__name__}") from err
    if h.ndim == 2:
        h = h[None]
    if h.ndim != 3 or h.shape[0] == 0 or min(h.shape[1:]) < 1:
        raise ValueError(f"Expected `heatmaps` of shape (N, h, w). "
                         f"Received: heatmaps.shape={np.shape(heatmaps)}")
    if not np.all(np.isfinite(h)):
        raise ValueError("Expected finite `heatmaps`. Received: heatmaps with NaN or inf")
    if nonnegative and h.min() < 0:
        raise ValueError(f"Expected non-negative `heatmaps`. Received: min={float(h.min())}")
    return h


def _resize(h, size):
    hh, ww = int(size[0]), int(size[1])
    if h.shape[1:] == (hh, ww):
        return h
    return np.stack([cv2.resize(m, (ww, hh), interpolation=cv2.INTER_LINEAR) for m in h])


def _image_size(image_size, h):
    if image_size is None:
        return h.shape[1:]
    size = np.atleast_1d(np.asarray(image_size))
    if size.shape == (1,):
        size = np.repeat(size, 2)
    if size.shape != (2,) or not np.all(size >= 1) or not np.all(size == np.round(size)):
        raise ValueError(f"Expected `image_size` as (height, width) in pixels. "
                         f"Received: image_size={image_size!r}")
    return int(size[0]), int(size[1])


def _is_boxes(regions):
    """True for an (N, 4) array or a list whose entries are (4,), (K, 4) or empty box lists."""
    if isinstance(regions, np.ndarray):
        return regions.ndim == 2 and regions.shape[1] == 4
    if not isinstance(regions, (list, tuple)):
        return False
    for r in regions:
        try:
            shape = np.shape(r)
        except ValueError:  # ragged
            return False
        if not (shape in ((4,), (0,)) or (len(shape) == 2 and shape[1] == 4)):
            return False
    return True


def _box_lists(boxes, n, name="boxes"):
    """List of N float (K_i, 4) arrays, each box checked (w, h > 0, finite)."""
    if isinstance(boxes, np.ndarray) and boxes.ndim == 2:
        entries = [boxes[i:i + 1] for i in range(len(boxes))]
    else:
        entries = list(boxes)
    if len(entries) != n:
        raise ValueError(f"Expected {name} for {n} heatmaps. Received: {len(entries)} entries")
    out = []
    for i, e in enumerate(entries):
        try:
            b = np.asarray(e, dtype=np.float64).reshape(-1, 4)
        except (TypeError, ValueError) as err:
            raise TypeError(f"Expected numeric (x, y, w, h) boxes (drop labels first). "
                            f"Received: {name}[{i}]={e!r}") from err
        if len(b) == 0:
            raise ValueError(f"Expected at least one ground-truth box per image (score positive "
                             f"images only). Received: {name}[{i}] is empty")
        if not np.all(np.isfinite(b)) or np.any(b[:, 2:] <= 0):
            raise ValueError(f"Expected finite boxes with w, h > 0. "
                             f"Received: {name}[{i}]={b.tolist()}")
        out.append(b)
    return out


def boxes_to_masks(boxes, image_size) -> np.ndarray:
    """Rasterise per-image boxes to (N, H, W) bool masks (pixel centres inside a box).

    ``image_size`` (H, W) is the frame the (x, y, w, h) coordinates refer to.
    """
    if image_size is None:
        raise ValueError("Expected `image_size` as (height, width). Received: image_size=None")
    size = _image_size(image_size, None)
    lists = _box_lists(boxes, len(boxes))
    rows = np.arange(size[0]) + 0.5
    cols = np.arange(size[1]) + 0.5
    masks = np.zeros((len(lists),) + tuple(size), bool)
    for i, bl in enumerate(lists):
        for x, y, w, h in bl:
            inside_rows = (rows >= y) & (rows < y + h)
            inside_cols = (cols >= x) & (cols < x + w)
            masks[i] |= inside_rows[:, None] & inside_cols[None]
    return masks


def masks_to_boxes(masks) -> list:
    """(x, y, w, h) box of each mask's non-zero pixels: a list of (1, 4) float arrays."""
    m = np.asarray(masks)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3:
        raise ValueError(f"Expected `masks` of shape (N, H, W). "
                         f"Received: masks.shape={np.shape(masks)}")
    out = []
    for i, mask in enumerate(m):
        pts = cv2.findNonZero((mask > 0).astype(np.uint8))
        if pts is None:
            raise ValueError(f"Expected non-empty masks. Received: masks[{i}] is all zero")
        out.append(np.asarray([cv2.boundingRect(pts)], dtype=np.float64))
    return out


def _regions(heat, masks_or_boxes, image_size):
    """(heatmaps at the region size, (N, H, W) bool region masks)."""
    n = len(heat)
    if _is_boxes(masks_or_boxes):
        size = _image_size(image_size, heat)
        masks = boxes_to_masks(_box_lists(masks_or_boxes, n, "masks_or_boxes"), size)
    else:
        masks = np.asarray(masks_or_boxes)
        if masks.ndim == 2:
            masks = masks[None]
        if masks.ndim != 3 or len(masks) != n:
            raise ValueError(f"Expected masks of shape (N={n}, H, W) or (x, y, w, h) boxes. "
                             f"Received: masks_or_boxes.shape={np.shape(masks_or_boxes)}")
        masks = masks > 0
    empty = np.flatnonzero(~masks.reshape(n, -1).any(axis=1))
    if empty.size:
        raise ValueError(f"Expected a non-empty ground-truth region for every image (score "
                         f"positive images only). Received: empty region for image(s) "
                         f"{empty[:10].tolist()}")
    return _resize(heat, masks.shape[1:]), masks


# --------------------------------------------------------------------------- scores
def mass_inside(heatmaps, masks_or_boxes, *, image_size=None) -> np.ndarray:
    """Fraction of each heatmap's mass inside its mask or boxes: (N,) float64 in [0, 1].

    NaN for an all-zero heatmap (no mass to place). ``image_size`` (H, W): the image size box
    coordinates refer to (default: the heatmap's own size); masks give their own size.
    """
    heat, masks = _regions(_heatmaps(heatmaps), masks_or_boxes, image_size)
    total = heat.reshape(len(heat), -1).sum(axis=1, dtype=np.float64)
    inside = (heat * masks).reshape(len(heat), -1).sum(axis=1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / np.where(total > 0, total, 1.0), np.nan)


TIES = ("share", "first")


def pointing_game(heatmaps, masks_or_boxes, tolerance=0, *, image_size=None, ties="share"):
    """Zhang et al.'s pointing game: is each heatmap's maximum on its region? (N,) float64.

    With ``ties="share"`` (the default) every maximal pixel counts: the score of an image is
    the share of its maximal pixels (within 1e-6 of the map's range below the maximum) that
    lie within ``tolerance`` pixels (Euclidean, between pixel centres) of the mask or a box,
    1.0 or 0.0 for a single maximum; a map saturated over several cells of its grid is thus
    scored by where all of those cells are, not by the first in raster order (which always
    sits at the top left and counted as a miss). ``ties="first"``: the first maximum in
    raster order (hit 1.0 or miss 0.0). Zhang et al. used 15 px at ImageNet scale. A
    constant heatmap points nowhere and scores 0.
    """
    if not (isinstance(tolerance, (int, float, np.integer, np.floating)) and tolerance >= 0):
        raise ValueError(f"Expected `tolerance` >= 0 (pixels). Received: tolerance={tolerance!r}")
    if ties not in TIES:
        raise ValueError(f"Expected `ties` in {TIES}. Received: ties={ties!r}")
    heat, masks = _regions(_heatmaps(heatmaps, nonnegative=False), masks_or_boxes, image_size)
    hits = np.zeros(len(heat), np.float64)
    for i, (h, m) in enumerate(zip(heat, masks)):
        lo, hi = float(h.min()), float(h.max())
        if hi == lo:
            continue
        region = m
        if tolerance:
            dist = cv2.distanceTransform((~m).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            region = dist <= tolerance
        if ties == "first":
            r, c = np.unravel_index(int(np.argmax(h)), h.shape)
            hits[i] = float(region[r, c])
        else:
            top = h >= hi - 1e-6 * (hi - lo)
            hits[i] = float(region[top].mean())
    return hits


def heatmap_boxes(heatmap, threshold, *, normalize=True):
    """Boxes of the connected regions of one heatmap at ``threshold`` (Wang et al. 2017).

    The map is min–max normalised to [0, 1] (``normalize``), pixels >= ``threshold`` are
    kept, and each 8-connected component gives one box (OpenCV ``connectedComponentsWithStats``).

    Returns:
        ``(boxes (K, 4) float64 (x, y, w, h), peak_index)``: ``peak_index`` is the row of the
        box holding the map's maximum, or -1 when there is no box (constant map).
    """
    h = np.asarray(heatmap, dtype=np.float32)
    lo, hi = float(h.min()), float(h.max())
    if hi <= lo:
        return np.zeros((0, 4)), -1
    if normalize:
        h = (h - lo) / (hi - lo)
    binary = (h >= threshold).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    boxes = stats[1:, :4].astype(np.float64)
    peak = int(labels.flat[int(np.argmax(h))]) - 1
    return boxes, peak


def _overlaps(det, gt):
    """IoU and IoBB (intersection / detected area) between (K, 4) and (M, 4) boxes."""
    x1 = np.maximum(det[:, None, 0], gt[None, :, 0])
    y1 = np.maximum(det[:, None, 1], gt[None, :, 1])
    x2 = np.minimum(det[:, None, 0] + det[:, None, 2], gt[None, :, 0] + gt[None, :, 2])
    y2 = np.minimum(det[:, None, 1] + det[:, None, 3], gt[None, :, 1] + gt[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    a_det = (det[:, 2] * det[:, 3])[:, None]
    a_gt = (gt[:, 2] * gt[:, 3])[None]
    return inter / (a_det + a_gt - inter), inter / a_det


def _check_thresholds(values, name):
    t = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if t.ndim != 1 or t.size == 0 or np.any(~np.isfinite(t)) or np.any(t <= 0) or np.any(t > 1):
        raise ValueError(f"Expected `{name}` as values in (0, 1]. Received: {name}={values!r}")
    return [float(v) for v in t]


def iou_iobb(heatmaps, boxes, thresholds=BINARIZE_THRESHOLDS, *, image_size=None,
             iou_thresholds=IOU_THRESHOLDS, iobb_thresholds=IOBB_THRESHOLDS, match="best"):
    """Wang et al.'s ChestX-ray8 protocol: boxes from thresholded heatmaps vs ground truth.

    Each heatmap is resized to ``image_size`` (the frame of the boxes; ChestX-ray14: 1024),
    min–max normalised and binarised at each of ``thresholds``; every connected component
    gives a detected box. IoU = |D ∩ G| / |D ∪ G| and IoBB = |D ∩ G| / |D| (intersection over
    the detected box) are taken with ``match="best"``: the best detected box against the
    best ground-truth box (each score maximised separately), or ``"peak"``: the box of the
    component holding the heatmap's maximum. No box (constant map) scores 0. A localization
    is correct when the score is >= T; accuracies are fractions of images.

    Returns:
        dict with ``thresholds``, ``iou_thresholds``, ``iobb_thresholds``, ``match``,
        ``iou`` and ``iobb`` (N, T) float64, ``n_boxes`` (N, T) int (detected boxes), and
        ``accuracy_iou`` (T, len(iou_thresholds)) / ``accuracy_iobb`` (T, len(iobb_thresholds))
        float64 arrays (rows follow ``thresholds``).
    """
    if match not in MATCHES:
        raise ValueError(f"Expected `match` in {MATCHES}. Received: match={match!r}")
    ts = _check_thresholds(thresholds, "thresholds")
    t_iou = _check_thresholds(iou_thresholds, "iou_thresholds")
    t_iobb = _check_thresholds(iobb_thresholds, "iobb_thresholds")
    heat = _heatmaps(heatmaps, nonnegative=False)
    gts = _box_lists(boxes, len(heat))
    heat = _resize(heat, _image_size(image_size, heat))
    n = len(heat)
    iou = np.zeros((n, len(ts)))
    iobb = np.zeros((n, len(ts)))
    n_boxes = np.zeros((n, len(ts)), int)
    for i in range(n):
        for j, t in enumerate(ts):
            det, peak = heatmap_boxes(heat[i], t)
            n_boxes[i, j] = len(det)
            if len(det) == 0:
                continue
            if match == "peak":
                det = det[peak:peak + 1]
            u, b = _overlaps(det, gts[i])
            iou[i, j], iobb[i, j] = u.max(), b.max()
    return {
        "thresholds": ts, "iou_thresholds": t_iou, "iobb_thresholds": t_iobb, "match": match,
        "iou": iou, "iobb": iobb, "n_boxes": n_boxes,
        "accuracy_iou": (iou[:, :, None] >= np.asarray(t_iou)[None, None]).mean(axis=0),
        "accuracy_iobb": (iobb[:, :, None] >= np.asarray(t_iobb)[None, None]).mean(axis=0),
    }


# --------------------------------------------------------------------------- summary
def _bootstrap_means(values, n_boot, ci, rng):
    """Means of the columns of (N, M) ``values`` (NaN ignored) and percentile CIs."""
    finite = np.isfinite(values)
    v = np.where(finite, values, 0.0)
    f = finite.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        point = v.sum(0) / f.sum(0)
    boots = np.empty((0, values.shape[1]))
    if n_boot:
        chunks = []
        for counts in bootstrap_counts(len(values), n_boot, rng):
            with np.errstate(invalid="ignore", divide="ignore"):
                chunks.append((counts.T @ v) / (counts.T @ f))
        boots = np.concatenate(chunks)
    cis = [percentile_ci(boots[:, k], ci) if n_boot else [float("nan")] * 2
           for k in range(values.shape[1])]
    return point, cis


def bootstrap_column_means(values, *, n_boot=1000, ci=0.95, seed=0) -> list:
    """Mean over images of each column of (N, M) ``values`` (NaN left out) with a percentile
    bootstrap CI, all columns from the same resamples of the N images: M ``{mean, ci, n}``."""
    n_boot, ci = check_n_boot(n_boot), check_ci(ci)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or len(v) == 0:
        raise ValueError(f"Expected `values` of shape (N, M) with N >= 1. "
                         f"Received: values.shape={np.shape(values)}")
    point, cis = _bootstrap_means(v, n_boot, ci, np.random.default_rng(seed))
    counts = np.isfinite(v).sum(axis=0)
    return [{"mean": float(p), "ci": [float(c[0]), float(c[1])], "n": int(k)}
            for p, c, k in zip(point, cis, counts)]


def localization_summary(heatmaps, *, masks=None, boxes=None, image_size=None, tolerance=0,
                         ties="share", thresholds=BINARIZE_THRESHOLDS, iou_thresholds=IOU_THRESHOLDS,
                         iobb_thresholds=IOBB_THRESHOLDS, match="best", n_boot=1000,
                         ci=0.95, seed=0) -> dict:
    """Mass inside, pointing game and IoU/IoBB of N heatmaps, with bootstrap 95 % CIs.

    ``mass_inside`` and ``pointing_game`` use ``masks`` when given, else ``boxes``;
    ``iou_iobb`` uses ``boxes``, else the masks' bounding boxes. ``area_fraction`` (the
    region's share of the image) is the chance level of both: the ``mass_inside`` of a
    uniform map and the hit rate of a uniformly random point; ``mass_over_chance`` is
    ``mass_inside - area_fraction`` per image (> 0: more mass on the region than a uniform
    map puts there; its CI excluding 0 says so beyond resampling noise), and
    ``pointing_over_chance`` the same for the pointing game. Ties in the pointing game:
    :func:`pointing_game` (``ties``). Every mean is over images and its CI is the percentile
    bootstrap over images (all scores from the same resamples).

    Returns:
        JSON-serialisable dict: ``n_images``, ``mass_inside`` {mean, ci, n},
        ``pointing_game`` {mean (hit rate), ci, n, tolerance_px, ties}, ``area_fraction``
        {mean, ci}, ``mass_over_chance`` {mean, ci}, ``pointing_over_chance`` {mean, ci},
        ``iou_iobb`` {match, by_threshold: [{threshold, iou, iobb, accuracy_iou:
        {T: {mean, ci}}, accuracy_iobb: {T: {mean, ci}}, mean_boxes}]}, ``n_boot``,
        ``ci_level``, ``seed``, ``method``, ``notes``.
    """
    if masks is None and boxes is None:
        raise ValueError("Expected `masks` and/or `boxes`. Received: masks=None, boxes=None")
    n_boot, ci = check_n_boot(n_boot), check_ci(ci)
    heat = _heatmaps(heatmaps)
    regions = masks if masks is not None else boxes
    mass = mass_inside(heat, regions, image_size=image_size)
    area = mass_inside(np.ones_like(heat), regions, image_size=image_size)  # a uniform map
    hits = pointing_game(heat, regions, tolerance, image_size=image_size, ties=ties)
    if boxes is None:
        boxes, size = masks_to_boxes(masks), np.shape(masks)[-2:]
    else:
        size = image_size
    res = iou_iobb(heat, boxes, thresholds, image_size=size, iou_thresholds=iou_thresholds,
                   iobb_thresholds=iobb_thresholds, match=match)
    cols = [mass, hits, area, mass - area, hits - area]
    for j in range(len(res["thresholds"])):
        cols += [res["iou"][:, j], res["iobb"][:, j]]
        cols += [(res["iou"][:, j] >= t).astype(float) for t in res["iou_thresholds"]]
        cols += [(res["iobb"][:, j] >= t).astype(float) for t in res["iobb_thresholds"]]
    point, cis = _bootstrap_means(np.stack(cols, axis=1), n_boot, ci, np.random.default_rng(seed))
    stats = iter([{"mean": float(p), "ci": c} for p, c in zip(point, cis)])
    notes = []
    out = {"n_images": len(heat)}
    out["mass_inside"] = dict(next(stats), n=int(np.isfinite(mass).sum()))
    if out["mass_inside"]["n"] < len(heat):
        notes.append(f"{len(heat) - out['mass_inside']['n']} all-zero heatmap(s) left out "
                     "of mass_inside.")
    out["pointing_game"] = dict(next(stats), n=len(heat), tolerance_px=float(tolerance),
                                ties=ties)
    out["area_fraction"] = next(stats)
    out["mass_over_chance"] = next(stats)
    out["pointing_over_chance"] = next(stats)
    by_threshold = []
    for j, t in enumerate(res["thresholds"]):
        entry = {"threshold": t, "iou": next(stats), "iobb": next(stats)}
        entry["accuracy_iou"] = {f"{T:g}": next(stats) for T in res["iou_thresholds"]}
        entry["accuracy_iobb"] = {f"{T:g}": next(stats) for T in res["iobb_thresholds"]}
        entry["mean_boxes"] = float(res["n_boxes"][:, j].mean())
        by_threshold.append(entry)
    out["iou_iobb"] = {"match": match, "by_threshold": by_threshold}
    if n_boot == 0:
        notes.append("n_boot=0: no bootstrap confidence intervals (NaN bounds).")
    seed_record = int(seed) if isinstance(seed, (int, np.integer)) else "generator"
    out.update(n_boot=n_boot, ci_level=ci, seed=seed_record,
               method="bootstrap percentile (images resampled)", notes=notes)
    return to_jsonable(out)

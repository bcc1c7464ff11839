"""Tuning the outline parameters against reference masks (coordinate ascent of mean Dice)."""

import numpy as np

from heartcv.papers.chd_xray_vgg_unet.contours.outline import (
    check_image,
    check_rows,
    dice,
    find_borders,
    fit_outline,
    no_heart,
    working_copy,
)
from heartcv.papers.chd_xray_vgg_unet.contours.params import IMAGE_PARAMS, make_params
from heartcv.data.datasets.chd import trace_to_mask

__all__ = ["DEFAULT_GRID", "tune_outline_params"]

DEFAULT_GRID = {
    "junction_slope_left": (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 99.0),
    "junction_slope_right": (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 99.0),
    "junction_window": (3, 5, 8, 12),
    "bottom_apex": (0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "top_round": (0.0, 0.2, 0.3, 0.4, 0.5, 0.6),
    "top_apex": (0.3, 0.4, 0.5, 0.6, 0.7),
    "median_window": (1, 5, 9, 15, 25),
    "top_slope": (1.0, 2.0, 3.0, 5.0, 99.0),
    "threshold_offset": (-20.0, -10.0, -5.0, 0.0, 5.0, 10.0, 20.0),
    "open_kernel": (0, 5, 9, 15, 21),
    "close_kernel": (0, 5, 9, 15, 25),
    "clahe_clip": (0.0, 1.0, 2.0, 3.0),
    "blur": (0, 3, 5, 9),
    "side_margin": (0.0, 0.1, 0.2, 0.3),
}


def _score(images, rows, masks, p, cache):
    """Mean Dice of the outlines of ``images`` against ``masks`` (a failure scores 0)."""
    key = tuple(getattr(p, k) for k in IMAGE_PARAMS)
    if key not in cache:
        cache.clear()
        cache[key] = []
        for img, (t0, b0) in zip(images, rows):
            work, t, b, scale = working_copy(img, t0, b0, p.work_width)
            try:
                found = find_borders(work, t, b, p, scale, (t0, b0))
            except ValueError:
                found = None
            cache[key].append((found, t, b, scale, work.shape))
    scores = []
    for img, (t0, b0), mask, (found, t, b, scale, wshape) in zip(images, rows, masks, cache[key]):
        try:
            if found is None:
                raise no_heart("cached failure")
            polygon, _ = fit_outline(found, t, b, p, scale, wshape, img.shape, (t0, b0))
            scores.append(dice(trace_to_mask(polygon, img.shape), mask))
        except ValueError:
            scores.append(0.0)
    return float(np.mean(scores))


def tune_outline_params(images, rows, masks, *, params=None, grid=None, rounds=3, log=None):
    """Coordinate ascent of the mean Dice over a grid of :class:`OutlineParams` values.

    Each round tries every value of every parameter in ``grid`` in turn, keeping a change
    when it raises the mean Dice; it stops after ``rounds`` rounds or a round without change.
    Tune on images you do not report (e.g. half of a data set) and measure on the rest.

    Args:
        images: uint8 grey images; rows: their ``(top_row, bottom_row)``; masks: reference
            heart masks (nonzero = heart), same sizes.
        params: the starting point (default :class:`OutlineParams`).
        grid: ``{name: values}``; default :data:`DEFAULT_GRID`.
        rounds: maximum number of rounds.
        log: optional callable given a line of text per improvement.

    Returns:
        ``(best OutlineParams, its mean Dice)``.
    """
    images = [check_image(im) for im in images]
    rows = [check_rows(t, b, im.shape) for im, (t, b) in zip(images, rows)]
    masks = [np.asarray(m) for m in masks]
    if not (len(images) == len(rows) == len(masks)) or not images:
        raise ValueError(f"Expected as many rows and masks as images (at least one). Received: "
                         f"{len(images)} images, {len(rows)} rows, {len(masks)} masks")
    grid = DEFAULT_GRID if grid is None else grid
    p = make_params(params)
    for name, values in grid.items():
        for value in values:
            make_params(p, **{name: value})  # unknown names and bad values raise here
    # image-stage parameters last, so shape parameters reuse the cached borders
    order = sorted(grid, key=lambda k: k in IMAGE_PARAMS)
    cache = {}
    best = _score(images, rows, masks, p, cache)
    if log:
        log(f"start: mean Dice {best:.4f}")
    for r in range(rounds):
        changed = False
        for name in order:
            for value in grid[name]:
                if value == getattr(p, name):
                    continue
                q = make_params(p, **{name: value})
                s = _score(images, rows, masks, q, cache)
                if s > best + 1e-4:
                    best, p, changed = s, q, True
                    if log:
                        log(f"round {r + 1}: {name}={value!r} -> mean Dice {best:.4f}")
        if not changed:
            break
    return p, best

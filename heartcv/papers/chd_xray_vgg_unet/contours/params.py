"""The parameters of the heart-outline pipeline (:class:`OutlineParams`) and their checks."""

import dataclasses
from dataclasses import dataclass

import numpy as np

from heartcv.data.datasets import did_you_mean

__all__ = ["IMAGE_PARAMS", "OutlineParams", "make_params"]

# Parameters that change steps 1-5 (the per-row borders); the others only change the shape.
IMAGE_PARAMS = ("work_width", "clahe_clip", "clahe_tiles", "blur", "threshold",
                "threshold_offset", "side_margin", "open_kernel", "open_iterations",
                "close_kernel", "close_iterations", "seed_x")


@dataclass(frozen=True)
class OutlineParams:
    """Every parameter of :func:`extract_heart_outline` (pixel sizes at ``work_width``).

    The defaults were tuned on half of the JSRT images (see :mod:`heartcv.papers.chd_xray_vgg_unet.contours`).

    Attributes:
        work_width: the image is resized to this width (aspect kept) before processing, so
            the pixel sizes below mean the same at any input resolution.
        clahe_clip: CLAHE clip limit; 0 turns CLAHE off.
        clahe_tiles: CLAHE tiles per side.
        blur: Gaussian kernel size (odd); 0 turns blurring off.
        threshold: ``"otsu"`` (Otsu's level on the band x central columns) or a grey level
            0-255 of the enhanced image.
        threshold_offset: added to the level (positive: less counts as bright).
        side_margin: fraction of the width left out on each side when computing Otsu's
            level and when sizing the lungs (keeps air outside the body out).
        open_kernel, open_iterations: elliptical opening (0 turns it off).
        close_kernel, close_iterations: elliptical closing (0 turns it off).
        seed_x: flood-fill seed column in original-image pixels; None picks the central
            column with most bright pixels in the band.
        median_window: rows of the running median over each border (1 turns it off).
        junction_window: rows over which border slopes are measured.
        junction_slope_left, junction_slope_right: outward slope (pixels per row, going
            down) beyond which a border is taken to have left the heart (cardiophrenic
            angle); a large value keeps every bordered row.
        top_slope: the same going up from the middle of the band (both sides).
        bottom_apex: where the completed bottom meets ``bottom_row``, as a fraction from the
            left border (0) to the right border (1) at their last bordered rows.
        top_round: fraction of the band height rounded off at the top (0: flat top).
        top_apex: like ``bottom_apex``, for the top.
        min_area: the outline must cover at least this fraction of the band (rows between
            the marks x image width); smaller is reported as no heart found.
        epsilon_fraction: ``approxPolyDP`` tolerance as a fraction of the contour perimeter.
    """

    work_width: int = 512
    clahe_clip: float = 1.0
    clahe_tiles: int = 8
    blur: int = 5
    threshold: object = "otsu"
    threshold_offset: float = 0.0
    side_margin: float = 0.2
    open_kernel: int = 9
    open_iterations: int = 1
    close_kernel: int = 5
    close_iterations: int = 1
    seed_x: object = None
    median_window: int = 25
    junction_window: int = 8
    junction_slope_left: float = 1.0
    junction_slope_right: float = 3.0
    top_slope: float = 1.0
    bottom_apex: float = 0.7
    top_round: float = 0.4
    top_apex: float = 0.5
    min_area: float = 0.05
    epsilon_fraction: float = 0.005

    def __post_init__(self):
        for name, ok, expected in _CHECKS:
            value = getattr(self, name)
            if not ok(value):
                raise ValueError(f"Expected `{name}` {expected}. Received: {name}={value!r}")


def _int_at_least(low):
    return lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= low


def _grey_level(v):
    if isinstance(v, str):
        return v == "otsu"
    return not isinstance(v, bool) and isinstance(v, (int, float)) and 0 <= v <= 255


def _column(v):
    return v is None or (not isinstance(v, bool) and isinstance(v, (int, float)) and not v < 0)


# (name, check, what is expected), checked in this order; the first failure is the error.
_CHECKS = (
    *((name, _int_at_least(low), f"to be an integer >= {low}") for name, low in (
        ("work_width", 32), ("clahe_tiles", 1), ("open_iterations", 1),
        ("close_iterations", 1), ("median_window", 1), ("junction_window", 1))),
    *((name, _int_at_least(0), "to be an integer >= 0")
      for name in ("blur", "open_kernel", "close_kernel")),
    ("blur", lambda v: not (v and v % 2 == 0), "to be 0 or odd"),
    *((name, lambda v: float(v) >= 0, "to be >= 0")
      for name in ("clahe_clip", "junction_slope_left", "junction_slope_right", "top_slope")),
    *((name, lambda v: 0.0 <= float(v) <= 1.0, "in [0, 1]")
      for name in ("bottom_apex", "top_apex", "top_round", "min_area")),
    ("side_margin", lambda v: 0.0 <= float(v) < 0.5, "in [0, 0.5)"),
    ("epsilon_fraction", lambda v: 0.0 < float(v) < 0.5, "in (0, 0.5)"),
    ("threshold", _grey_level, "to be 'otsu' or a grey level in [0, 255]"),
    ("seed_x", _column, "to be None or a column >= 0"),
)


def make_params(params=None, **overrides):
    """An :class:`OutlineParams` from ``params`` (an instance, a dict or None) and overrides.

    Raises:
        ValueError: an unknown name (with a suggestion) or a bad value.
    """
    if params is None:
        params = OutlineParams()
    elif isinstance(params, dict):
        overrides = {**params, **overrides}
        params = OutlineParams()
    elif not isinstance(params, OutlineParams):
        raise TypeError(f"Expected `params` to be an OutlineParams, a dict or None. "
                        f"Received: params={params!r}")
    names = [f.name for f in dataclasses.fields(OutlineParams)]
    for key in overrides:
        if key not in names:
            raise ValueError(f"Unknown outline parameter {key!r}.{did_you_mean(key, names)} "
                             f"Expected one of {names}. Received: {key}={overrides[key]!r}")
    return dataclasses.replace(params, **overrides) if overrides else params

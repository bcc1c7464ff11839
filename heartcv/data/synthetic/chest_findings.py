"""Lung findings of the synthetic chest phantom (the 14 ChestX-ray14 labels): geometry, rendering.

Findings are sampled once per patient in the patient frame (:func:`sample_findings`) and drawn
per image by :func:`render_findings`, which consumes no randomness, so an image rendered with
and without a finding differs only around that finding. Boxes are the bounding boxes of the
visible finding (where its density exceeds 10% of its peak), in pixels, like the ChestX-ray14
``BBox_List_2017.csv`` boxes (which exist there for 8 of the labels; every label has one here).
Any combination of findings can occur in one patient (they are drawn independently).

Each label is drawn as one plain-film sign. Sizes are given in patient units (one unit is about
half the thoracic width, ~15 cm, and ``0.4 * size`` pixels, i.e. ~51 px at 128 px) and in pixels
at 128 px; densities are added to the projected density that :func:`chest_render.expose` maps
to brightness (aerated lung is ~0.1-0.3, the heart ~0.6-0.9):

* **Atelectasis**: volume loss with increased density, lower zones; either plate-like
  (discoid) atelectasis, a band 0.35-0.50 long and 0.06-0.09 thick (18-26 px by 3-5 px),
  density 0.45-0.55, or a segmental collapse, a wedge from the hilum toward the periphery
  (sides 0.35-0.55, 18-28 px), density 0.40-0.50.
* **Cardiomegaly**: an enlarged heart (CTR > 0.5, measured from the masks); no layer here.
* **Effusion**: dependent fluid with a meniscus, higher laterally, filling the costophrenic
  angle of one side, its level 0.9-1.1 below the apices laterally (about the lower third of
  the lung), density 0.55-0.70.
* **Infiltration**: patchy, ill-defined multifocal opacity: 8-14 small patches of radius
  0.05-0.09 (3-5 px) scattered over the middle and lower zone of one lung, density 0.30-0.40.
* **Mass**: a lobulated round opacity larger than 3 cm: radius 0.14-0.22 (diameter 4-7 cm,
  14-22 px across), density 0.45-0.60.
* **Nodule**: a round, well-defined opacity of at most 3 cm: radius 0.07-0.10 (diameter
  2-3 cm, 7-10 px across), density 0.50-0.65, sharper edge than a mass.
* **Pneumonia**: a confluent lower-zone airspace opacity (radius 0.18-0.26, 18-27 px across)
  with fluffy satellite patches that silhouettes the hemidiaphragm, with air bronchograms,
  density 0.45-0.55.
* **Pneumothorax**: a visible visceral pleural line with no lung markings beyond it (the
  collapsed lung 72-85% of its size), slightly darker than lung.
* **Consolidation**: a lobar opacity of the upper/middle zone bounded below by a sharp,
  straight fissure and fading upward (height 0.35-0.55, 18-28 px), density 0.42-0.55, with
  branching dark air bronchograms.
* **Edema**: bilateral, symmetric perihilar haze ("bat-wing", Gaussian of width 0.22-0.30
  around both hila, peak density 0.22-0.30) and Kerley B lines (5-8 short horizontal lines,
  0.07-0.11 long, at the lateral lung bases of each side).
* **Emphysema**: hyperinflated, hyperlucent upper lungs with pruned vessels (density -0.06 to
  -0.09, vessel markings reduced by 70%) and 2-3 bullae, lucent round spaces of radius
  0.09-0.15 (9-15 px across, density -0.12 to -0.16) with a thin bright wall.
* **Fibrosis**: coarse reticulation, peripheral and basal, bilateral: a jittered net of lines
  with a mesh of 0.07-0.09 (~4 px) over the outer lower lung zones, density 0.16-0.22.
* **Pleural_Thickening**: a smooth pleural band along the lateral chest wall of one side (and
  an apical cap), 0.06-0.09 thick (3-5 px) over 0.45-0.7 of the wall's height, density
  0.35-0.45.
* **Hernia** (hiatal): a retrocardiac round opacity just above the diaphragm, left of the
  midline, radius 0.14-0.19 (14-19 px across), with an air-fluid level: air (density -0.40)
  above a sharp horizontal level, fluid/soft tissue (+0.20) below.

Sizes were chosen so that every label is learnable at 128 px by a small CNN from ~1,000 images
(the probe is in ``experiments/cxr14_transfer_learning/README.md``); Mass and Nodule stay small
findings (a few percent of the image) but are denser than ribs and vessels. In ChestX-ray14 the
labels overlap radiographically (Infiltration, Pneumonia and Consolidation especially); here
each has its own sign, so the phantom is easier than real films.

Reference:
    Wang et al., "ChestX-ray8: Hospital-scale chest X-ray database and benchmarks on
    weakly-supervised classification and localization of common thorax diseases", CVPR 2017.
"""

from typing import NamedTuple

import cv2
import numpy as np

from heartcv.data.synthetic import chest_render as R


def _ellipse(cx, cy, rx, ry, n=32, angle=0.0):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    ca, sa = np.cos(angle), np.sin(angle)
    return np.stack([cx + ca * x - sa * y, cy + sa * x + ca * y], axis=1)


# --------------------------------------------------------------------------- sampling
def _point_in(poly, x, y):
    """Even-odd point-in-polygon test (vectorised over points)."""
    px, py = poly[:, 0], poly[:, 1]
    qx, qy = np.roll(px, -1), np.roll(py, -1)
    x, y = np.asarray(x)[..., None], np.asarray(y)[..., None]
    cross = ((py > y) != (qy > y)) & (x < (qx - px) * (y - py) / (qy - py + 1e-12) + px)
    return cross.sum(-1) % 2 == 1


def _sample_in_lungs(rng, lungs, heart, y_range=(0.15, 1.25), margin=0.08, side=None):
    for _ in range(200):
        s = int(rng.integers(2)) if side is None else side
        x = rng.uniform(0.15, 0.95) * (-1 if s == 0 else 1)
        y = rng.uniform(*y_range)
        offsets = np.array([(0, 0), (margin, 0), (-margin, 0), (0, margin), (0, -margin)])
        pts = np.array([x, y]) + offsets
        if _point_in(lungs[s], pts[:, 0], pts[:, 1]).all() and not _point_in(
                heart, pts[:, 0], pts[:, 1]).any():
            return s, x, y
    s = 0 if side is None else side
    return s, 0.55 * (-1 if s == 0 else 1), 0.7


def _lobulated(rng, x, y, r, amp, n=28):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rr = np.full_like(t, r)
    for k in (2, 3, 5):
        rr += r * rng.normal(0, amp) * np.cos(k * t + rng.uniform(0, 6))
    return np.stack([x + rr * np.cos(t), y + rr * np.sin(t)], 1)


def _bronchi(rng, root, direction, length, n):
    """Short branching air-bronchogram lines from ``root`` along ``direction`` (radians)."""
    out = []
    for _ in range(n):
        a = direction + rng.normal(0, 0.35)
        mid = root + 0.5 * length * np.array([np.cos(a), np.sin(a)])
        for b in (a - 0.35, a + 0.35):
            end = mid + 0.5 * length * rng.uniform(0.6, 1.0) * np.array([np.cos(b), np.sin(b)])
            out.append(np.array([root, mid, end]))
    return out


def _lung_extent(lung):
    return float(lung[:, 1].min()), float(lung[:, 1].max())


def _s_nodule(rng, lungs, heart):
    r = rng.uniform(0.07, 0.10)
    side, x, y = _sample_in_lungs(rng, lungs, heart, margin=r + 0.03)
    return dict(poly=_lobulated(rng, x, y, r, 0.02), density=rng.uniform(0.50, 0.65))


def _s_mass(rng, lungs, heart):
    r = rng.uniform(0.14, 0.22)
    side, x, y = _sample_in_lungs(rng, lungs, heart, margin=r + 0.02)
    return dict(poly=_lobulated(rng, x, y, r, 0.06), density=rng.uniform(0.45, 0.60))


def _s_infiltration(rng, lungs, heart):
    side = int(rng.integers(2))
    blobs = []
    for _ in range(int(rng.integers(8, 15))):
        _, x, y = _sample_in_lungs(rng, lungs, heart, y_range=(0.45, 1.25), margin=0.05,
                                   side=side)
        r = rng.uniform(0.05, 0.09)
        blobs.append(_ellipse(x, y, r, r * rng.uniform(0.7, 1.0), 16, rng.uniform(0, np.pi)))
    return dict(polys=blobs, density=rng.uniform(0.30, 0.40), side=side)


def _s_effusion(rng, lungs, heart):
    side = int(rng.integers(2))
    s = -1 if side == 0 else 1
    level = rng.uniform(0.9, 1.1)
    xs = np.linspace(0.0, 1.2, 13)
    top = level + 0.2 - 0.2 * (xs / 1.2) ** 1.5  # meniscus: higher laterally
    poly = np.concatenate([np.stack([s * xs, top], 1), [[s * 1.2, 2.2], [0.0, 2.2]]])
    return dict(poly=poly, side=side, density=rng.uniform(0.55, 0.7))


def _s_pneumothorax(rng, lungs, heart):
    side = int(rng.integers(2))
    hilum = np.array([0.3 * (-1 if side == 0 else 1), 1.0])
    k = rng.uniform(0.72, 0.85)
    collapsed = hilum + (lungs[side] - hilum) * np.array([k, k * rng.uniform(0.88, 0.97)])
    return dict(side=side, collapsed=collapsed, cut=rng.uniform(0.85, 1.1))


def _s_atelectasis(rng, lungs, heart):
    side, x, y = _sample_in_lungs(rng, lungs, heart, y_range=(0.8, 1.2), margin=0.12)
    if rng.random() < 0.5:  # plate-like (discoid) atelectasis
        L = rng.uniform(0.35, 0.50)
        ang = rng.uniform(-0.3, 0.3)
        d = L / 2 * np.array([np.cos(ang), np.sin(ang)])
        return dict(line=np.array([(x, y) - d, (x, y) + d]), width=rng.uniform(0.06, 0.09),
                    density=rng.uniform(0.45, 0.55))
    hx = 0.3 * (-1 if side == 0 else 1)  # segmental collapse: wedge from the hilum outward
    w = rng.uniform(0.18, 0.28)
    return dict(poly=np.array([(hx, 0.92), (x - w, y + w), (x + w, y + 0.5 * w)]),
                density=rng.uniform(0.40, 0.50))


def _s_pneumonia(rng, lungs, heart):
    side = int(rng.integers(2))
    lo, hi = _lung_extent(lungs[side])
    _, x, y = _sample_in_lungs(rng, lungs, heart, y_range=(lo + 0.62 * (hi - lo),
                                                           lo + 0.75 * (hi - lo)),
                               margin=0.1, side=side)
    r = rng.uniform(0.18, 0.26)
    blobs = [_lobulated(rng, x, y, r, 0.08)]
    for _ in range(int(rng.integers(2, 5))):
        a = rng.uniform(0, 2 * np.pi)
        blobs.append(_ellipse(x + 1.1 * r * np.cos(a), y + 1.1 * r * np.sin(a),
                              rng.uniform(0.05, 0.09), rng.uniform(0.04, 0.07), 16))
    s = -1 if side == 0 else 1
    bronchi = _bronchi(rng, np.array([x - s * 0.5 * r, y - 0.3 * r]), np.pi / 2 - s * 0.6,
                       0.9 * r, 2)
    return dict(polys=blobs, bronchi=bronchi, side=side, density=rng.uniform(0.45, 0.55))


def _s_consolidation(rng, lungs, heart):
    side = int(rng.integers(2))
    lo, hi = _lung_extent(lungs[side])
    fissure = lo + rng.uniform(0.48, 0.58) * (hi - lo)
    height = rng.uniform(0.35, 0.55)
    s = -1 if side == 0 else 1
    bronchi = _bronchi(rng, np.array([0.35 * s, fissure - 0.05]), -np.pi / 2 + s * 0.7,
                       0.7 * height, 2)
    return dict(side=side, fissure=fissure, slope=rng.uniform(-0.06, 0.06), height=height,
                bronchi=bronchi, density=rng.uniform(0.42, 0.55))


def _s_edema(rng, lungs, heart):
    lines = []
    for side, lung in enumerate(lungs):
        s = -1 if side == 0 else 1
        lo, hi = _lung_extent(lung)
        outer = np.abs(lung[lung[:, 1] > lo + 0.7 * (hi - lo), 0]).max()
        for y in np.sort(rng.uniform(lo + 0.72 * (hi - lo), lo + 0.9 * (hi - lo),
                                     int(rng.integers(5, 9)))):
            L = rng.uniform(0.07, 0.11)
            x0 = outer - rng.uniform(0.02, 0.06)
            lines.append(np.array([(s * x0, y), (s * (x0 - L), y + rng.normal(0, 0.01))]))
    return dict(width=rng.uniform(0.22, 0.30), density=rng.uniform(0.22, 0.30), kerley=lines,
                hila=[(-0.3, float(np.dot(_lung_extent(lungs[0]), (0.43, 0.57)))),
                      (0.33, float(np.dot(_lung_extent(lungs[1]), (0.48, 0.52))))])


def _s_emphysema(rng, lungs, heart):
    bullae = []
    for _ in range(int(rng.integers(2, 4))):
        r = rng.uniform(0.09, 0.15)
        _, x, y = _sample_in_lungs(rng, lungs, heart, y_range=(0.15, 0.7), margin=r)
        bullae.append(_ellipse(x, y, r, r * rng.uniform(0.75, 1.0), 24, rng.uniform(0, np.pi)))
    return dict(bullae=bullae, lucency=rng.uniform(0.06, 0.09),
                bulla_density=rng.uniform(0.12, 0.16))


def _s_fibrosis(rng, lungs, heart):
    step = rng.uniform(0.07, 0.09)
    xs = np.arange(0.35, 1.05, step)
    ys = np.arange(0.55, 1.5, step)
    gx, gy = np.meshgrid(xs, ys)
    nets = []
    for s in (-1, 1):
        px = s * (gx + rng.normal(0, 0.22 * step, gx.shape))
        py = gy + rng.normal(0, 0.22 * step, gy.shape)
        pts = np.stack([px, py], -1)
        nets += [pts[i] for i in range(pts.shape[0])]            # rows
        nets += [pts[:, j] for j in range(pts.shape[1])]         # columns
    return dict(nets=nets, density=rng.uniform(0.16, 0.22))


def _s_pleural_thickening(rng, lungs, heart):
    side = int(rng.integers(2))
    lung = lungs[side]
    lo, hi = _lung_extent(lung)
    span = rng.uniform(0.45, 0.7) * (hi - lo)
    y0 = rng.uniform(lo + 0.15 * (hi - lo), hi - 0.1 * (hi - lo) - span)
    lateral = lung[(np.abs(lung[:, 0]) > 0.55) & (lung[:, 1] > y0) & (lung[:, 1] < y0 + span)]
    lateral = lateral[np.argsort(lateral[:, 1])]
    apex = lung[lung[:, 1] < lo + 0.12]
    apex = apex[np.argsort(apex[:, 0])]
    return dict(side=side, wall=lateral, apex=apex, width=rng.uniform(0.06, 0.09),
                density=rng.uniform(0.35, 0.45))


def _s_hernia(rng, lungs, heart):
    base = float(heart[:, 1].max())
    rx = rng.uniform(0.14, 0.19)
    ry = rx * rng.uniform(0.8, 1.0)
    cx = rng.uniform(0.05, 0.2)
    cy = base - ry * rng.uniform(0.55, 0.8)
    return dict(poly=_ellipse(cx, cy, rx, ry, 32), level=cy - ry * rng.uniform(-0.1, 0.3),
                density=0.2, air=0.4)


_SAMPLERS = {
    "Atelectasis": _s_atelectasis, "Effusion": _s_effusion, "Infiltration": _s_infiltration,
    "Mass": _s_mass, "Nodule": _s_nodule, "Pneumonia": _s_pneumonia,
    "Pneumothorax": _s_pneumothorax, "Consolidation": _s_consolidation, "Edema": _s_edema,
    "Emphysema": _s_emphysema, "Fibrosis": _s_fibrosis,
    "Pleural_Thickening": _s_pleural_thickening, "Hernia": _s_hernia,
}


def sample_findings(rng, present, lungs, heart):
    """Geometry of each present finding (no randomness is left for rendering).

    Args:
        rng: the patient's ``np.random.Generator``.
        present: label names (ChestX-ray14 spelling); ``"Cardiomegaly"`` is skipped (it is
            the heart's size, not a layer).
        lungs: the two frontal lung fields (patient frame).
        heart: the frontal heart outline (patient frame).

    Returns:
        list of dicts, one per drawn finding, with ``"name"`` and its geometry.
    """
    out = []
    for name in present:
        if name == "Cardiomegaly":
            continue
        if name not in _SAMPLERS:
            raise ValueError(f"Unknown finding {name!r}; expected one of "
                             f"{sorted(_SAMPLERS) + ['Cardiomegaly']}")
        out.append({"name": name, **_SAMPLERS[name](rng, lungs, heart)})
    return out


# --------------------------------------------------------------------------- rendering
class _Frame(NamedTuple):
    """What every finding renderer draws on: the pose, the lung-frame coordinates ``u``,
    ``v``, the lung fields per side, the soft lung mask and the mottle texture."""

    pose: object
    u: np.ndarray
    v: np.ndarray
    sides: tuple
    soft: np.ndarray
    mottle: np.ndarray
    fields: np.ndarray

    @property
    def size(self):
        return self.pose.size

    @property
    def s(self):
        return self.pose.scale

    def zeros(self):
        return np.zeros((self.size, self.size), np.float32)


# Each renderer returns (density layer, vessel suppression or None, box region or None: the
# box then covers |layer| > 0.1 of its peak).
def _nodule_mass(f, fr, name):
    layer = R.fill(fr.zeros(), [fr.pose.px(f["poly"])], 1.0)
    sharp = 0.004 if name == "Nodule" else 0.006
    return R.blur(layer, sharp * fr.size + 0.3) * f["density"] * (0.92 + 0.16 * fr.mottle), \
        None, None


def _infiltration(f, fr, name):
    layer = R.fill(fr.zeros(), [fr.pose.px(p) for p in f["polys"]], 1.0)
    layer = R.blur(layer, 0.01 * fr.size) * fr.soft
    layer *= np.clip(0.8 + 0.4 * fr.mottle, 0.4, 1.4) * f["density"]
    return layer, None, None


def _effusion(f, fr, name):
    layer = R.fill(fr.zeros(), [fr.pose.px(f["poly"])], 1.0)
    layer *= fr.sides[f["side"]]
    return R.blur(layer, 0.006 * fr.size) * f["density"], None, None


def _pneumothorax(f, fr, name):
    pose, u, v, size = fr.pose, fr.u, fr.v, fr.size
    inner = R.fill(fr.zeros(), [pose.px(f["collapsed"])], 1.0)
    region = fr.sides[f["side"]] * (1 - inner) * (v < f["cut"]) * (np.abs(u) > 0.3)
    region = region.astype(np.float32)
    edge = R.lines(fr.zeros(), [pose.px(f["collapsed"])], 1.0, 1)
    near = cv2.dilate(region, np.ones((3, 3), np.uint8))
    layer = -0.18 * R.blur(region, 0.004 * size) + 0.14 * edge * near * fr.soft
    return layer, region, region > 0.5


def _atelectasis(f, fr, name):
    layer = fr.zeros()
    if "line" in f:
        R.lines(layer, [fr.pose.px(f["line"])], 1.0, f["width"] * fr.s)
    else:
        R.fill(layer, [fr.pose.px(f["poly"])], 1.0)
    return R.blur(layer * fr.soft, 0.005 * fr.size) * f["density"], None, None


def _air_bronchograms(f, fr):
    return R.lines(fr.zeros(), [fr.pose.px(b) for b in f["bronchi"]], 1.0,
                   max(1.0, 0.02 * fr.s))


def _pneumonia(f, fr, name):
    size = fr.size
    layer = R.fill(fr.zeros(), [fr.pose.px(p) for p in f["polys"]], 1.0)
    layer = R.blur(layer, 0.012 * size) * fr.sides[f["side"]]
    air = _air_bronchograms(f, fr)
    layer = np.clip(layer - 0.45 * R.blur(air, 0.002 * size + 0.3) * layer, 0, None)
    return R.blur(layer, 0.004 * size) * f["density"] * (0.9 + 0.2 * fr.mottle), None, None


def _consolidation(f, fr, name):
    u, v, size = fr.u, fr.v, fr.size
    top = f["fissure"] - f["height"]
    below = v < f["fissure"] + f["slope"] * u
    fade = np.clip((v - top) / (0.5 * f["height"]), 0, 1)
    layer = fr.sides[f["side"]] * below * fade
    air = _air_bronchograms(f, fr)
    layer = (layer * (1 - 0.5 * R.blur(air, 0.002 * size + 0.3))).astype(np.float32)
    return R.blur(layer, 0.003 * size + 0.3) * f["density"] * (0.92 + 0.16 * fr.mottle), \
        None, None


def _edema(f, fr, name):
    u, v = fr.u, fr.v
    haze = fr.zeros()
    for hx, hy in f["hila"]:
        haze = np.maximum(haze, np.exp(-((u - hx) ** 2 + (v - hy) ** 2)
                                       / (2 * f["width"] ** 2)).astype(np.float32))
    kerley = R.lines(fr.zeros(), [fr.pose.px(k) for k in f["kerley"]], 1.0,
                     max(1.0, 0.015 * fr.s))
    layer = (haze * (0.9 + 0.2 * fr.mottle) + 0.6 * R.blur(kerley, 0.002 * fr.size + 0.3))
    return layer * fr.soft * f["density"], None, None


def _emphysema(f, fr, name):
    pose, size = fr.pose, fr.size
    upper = np.clip((1.15 - fr.v) / 0.6, 0, 1) * fr.fields
    bulla = R.fill(fr.zeros(), [pose.px(b) for b in f["bullae"]], 1.0)
    wall = R.lines(fr.zeros(), [np.vstack([pose.px(b), pose.px(b[:1])]) for b in f["bullae"]],
                   1.0, 1)
    suppress = 0.7 * np.maximum(upper, bulla)
    layer = -(f["lucency"] * R.blur(upper, 0.01 * size)
              + f["bulla_density"] * R.blur(bulla, 0.002 * size + 0.3))
    return layer + 0.1 * wall * (1 - bulla) * fr.soft, suppress, None


def _fibrosis(f, fr, name):
    u, v = fr.u, fr.v
    layer = R.lines(fr.zeros(), [fr.pose.px(n) for n in f["nets"]], 1.0, max(1.0, 0.015 * fr.s))
    periph = np.clip((np.abs(u) - 0.3) / 0.35, 0, 1) * np.clip((v - 0.5) / 0.4, 0, 1)
    return R.blur(layer, 0.002 * fr.size + 0.3) * periph * fr.soft * f["density"], None, None


def _pleural_thickening(f, fr, name):
    layer = R.lines(fr.zeros(), [fr.pose.px(f["wall"]), fr.pose.px(f["apex"])], 1.0,
                    2 * f["width"] * fr.s)
    return R.blur(layer * fr.sides[f["side"]], 0.004 * fr.size) * f["density"], None, None


def _hernia(f, fr, name):
    sac = R.fill(fr.zeros(), [fr.pose.px(f["poly"])], 1.0)
    above = (fr.v < f["level"]).astype(np.float32)
    return R.blur(sac * (f["density"] * (1 - above) - f["air"] * above),
                  0.002 * fr.size + 0.3), None, None


_RENDERERS = {
    "Nodule": _nodule_mass, "Mass": _nodule_mass, "Infiltration": _infiltration,
    "Effusion": _effusion, "Pneumothorax": _pneumothorax, "Atelectasis": _atelectasis,
    "Pneumonia": _pneumonia, "Consolidation": _consolidation, "Edema": _edema,
    "Emphysema": _emphysema, "Fibrosis": _fibrosis, "Pleural_Thickening": _pleural_thickening,
    "Hernia": _hernia,
}


def render_findings(params, pose, u, v, lung_field_sides, lung_mask_soft, mottle):
    """Density of each finding (frontal view) and its box; consumes no randomness.

    Returns:
        (density layer, vessel-suppression layer in [0, 1], list of (name, x, y, w, h)).
    """
    fields = (lung_field_sides[0] | lung_field_sides[1]).astype(np.float32)
    frame = _Frame(pose, u, v, lung_field_sides, lung_mask_soft, mottle, fields)
    dens = frame.zeros()
    novessel = frame.zeros()
    boxes = []
    for f in params["findings"]:
        name = f["name"]
        if name not in _RENDERERS:  # sample_findings refuses unknown names
            continue
        layer, suppress, region = _RENDERERS[name](f, frame, name)
        if suppress is not None:
            novessel = np.maximum(novessel, suppress)
        if region is None:
            peak = float(np.abs(layer).max())
            region = np.abs(layer) > 0.1 * peak if peak > 0 else None
        b = None if region is None else R.box_of(region)
        if b is not None:
            boxes.append((name,) + b)
        dens += layer
    return dens, novessel, boxes

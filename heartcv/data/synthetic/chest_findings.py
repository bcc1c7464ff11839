"""Lung findings of the synthetic chest phantom (ChestX-ray14 names): geometry and rendering.

Findings are sampled once per patient in the patient frame (:func:`sample_findings`) and drawn
per image by :func:`render_findings`, which consumes no randomness, so an image rendered with
and without a finding differs only around that finding. Boxes are the bounding boxes of the
visible finding, in pixels, like the ChestX-ray14 ``BBox_List_2017.csv`` boxes.

Reference:
    Wang et al., "ChestX-ray8: Hospital-scale chest X-ray database and benchmarks on
    weakly-supervised classification and localization of common thorax diseases", CVPR 2017.
"""

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


def _sample_in_lungs(rng, lungs, heart, y_range=(0.15, 1.25), margin=0.08):
    for _ in range(200):
        side = int(rng.integers(2))
        x = rng.uniform(0.15, 0.95) * (-1 if side == 0 else 1)
        y = rng.uniform(*y_range)
        offsets = np.array([(0, 0), (margin, 0), (-margin, 0), (0, margin), (0, -margin)])
        pts = np.array([x, y]) + offsets
        if _point_in(lungs[side], pts[:, 0], pts[:, 1]).all() and not _point_in(
                heart, pts[:, 0], pts[:, 1]).any():
            return side, x, y
    return 0, -0.55, 0.7


def sample_findings(rng, present, lungs, heart):
    """Geometry of each present finding (no randomness is left for rendering)."""
    out = []
    for name in present:
        if name == "Cardiomegaly":
            continue
        f = {"name": name}
        if name in ("Nodule", "Mass"):
            r = rng.uniform(0.045, 0.07) if name == "Nodule" else rng.uniform(0.11, 0.18)
            side, x, y = _sample_in_lungs(rng, lungs, heart, margin=r + 0.03)
            t = np.linspace(0, 2 * np.pi, 28, endpoint=False)
            rr = np.full_like(t, r)
            for k in (2, 3, 5):  # lobulation
                amp = rng.normal(0, 0.06 if name == "Mass" else 0.02)
                rr += r * amp * np.cos(k * t + rng.uniform(0, 6))
            f.update(poly=np.stack([x + rr * np.cos(t), y + rr * np.sin(t)], 1),
                     density=rng.uniform(0.2, 0.32))
        elif name == "Infiltration":
            side, x, y = _sample_in_lungs(rng, lungs, heart, y_range=(0.45, 1.2), margin=0.12)
            blobs = []
            for _ in range(int(rng.integers(3, 6))):
                blobs.append(_ellipse(x + rng.normal(0, 0.08), y + rng.normal(0, 0.08),
                                      rng.uniform(0.06, 0.14), rng.uniform(0.05, 0.11), 20,
                                      rng.uniform(0, np.pi)))
            f.update(polys=blobs, density=rng.uniform(0.22, 0.34), side=side)
        elif name == "Effusion":
            side = int(rng.integers(2))
            s = -1 if side == 0 else 1
            level = rng.uniform(1.1, 1.32)
            xs = np.linspace(0.0, 1.2, 13)
            top = level + 0.2 - 0.2 * (xs / 1.2) ** 1.5  # meniscus: higher laterally
            poly = np.concatenate([np.stack([s * xs, top], 1), [[s * 1.2, 2.2], [0.0, 2.2]]])
            f.update(poly=poly, side=side, density=rng.uniform(0.45, 0.6))
        elif name == "Pneumothorax":
            side = int(rng.integers(2))
            lung = lungs[side]
            hilum = np.array([0.3 * (-1 if side == 0 else 1), 1.0])
            k = rng.uniform(0.72, 0.85)
            collapsed = hilum + (lung - hilum) * np.array([k, k * rng.uniform(0.88, 0.97)])
            f.update(side=side, collapsed=collapsed, cut=rng.uniform(0.85, 1.1))
        elif name == "Atelectasis":
            side, x, y = _sample_in_lungs(rng, lungs, heart, y_range=(0.8, 1.25), margin=0.1)
            if rng.random() < 0.5:  # plate-like (discoid) atelectasis
                L = rng.uniform(0.22, 0.38)
                ang = rng.uniform(-0.3, 0.3)
                f.update(line=np.array([(x - L / 2 * np.cos(ang), y - L / 2 * np.sin(ang)),
                                        (x + L / 2 * np.cos(ang), y + L / 2 * np.sin(ang))]),
                         width=rng.uniform(0.035, 0.06), density=rng.uniform(0.3, 0.4))
            else:  # segmental collapse: wedge from the hilum toward the periphery
                hx = 0.3 * (-1 if side == 0 else 1)
                w = rng.uniform(0.1, 0.2)
                f.update(poly=np.array([(hx, 0.92), (x - w, y + w), (x + w, y + 0.5 * w)]),
                         density=rng.uniform(0.22, 0.32))
        out.append(f)
    return out


# --------------------------------------------------------------------------- rendering
def render_findings(params, pose, u, v, lung_field_sides, lung_mask_soft, mottle):
    """Density of each finding (frontal view) and its box; consumes no randomness.

    Returns:
        (density layer, vessel-suppression layer, list of (name, x, y, w, h)).
    """
    size = pose.size
    dens = np.zeros((size, size), np.float32)
    novessel = np.zeros((size, size), np.float32)
    boxes = []
    for f in params["findings"]:
        layer = np.zeros((size, size), np.float32)
        name = f["name"]
        if name in ("Nodule", "Mass"):
            R.fill(layer, [pose.px(f["poly"])], 1.0)
            layer = R.blur(layer, 0.006 * size + 0.3) * f["density"] * (0.9 + 0.2 * mottle)
        elif name == "Infiltration":
            R.fill(layer, [pose.px(p) for p in f["polys"]], 1.0)
            layer = R.blur(layer, 0.012 * size) * lung_mask_soft
            layer *= np.clip(0.75 + 0.5 * mottle, 0.3, 1.5) * f["density"]
        elif name == "Effusion":
            R.fill(layer, [pose.px(f["poly"])], 1.0)
            layer *= lung_field_sides[f["side"]]
            layer = R.blur(layer, 0.006 * size) * f["density"]
        elif name == "Pneumothorax":
            inner = R.fill(np.zeros((size, size), np.float32), [pose.px(f["collapsed"])], 1.0)
            region = lung_field_sides[f["side"]] * (1 - inner) * (v < f["cut"]) * (np.abs(u) > 0.3)
            region = region.astype(np.float32)
            edge = R.lines(np.zeros((size, size), np.float32), [pose.px(f["collapsed"])], 1.0, 1)
            near = cv2.dilate(region, np.ones((3, 3), np.uint8))
            novessel = np.maximum(novessel, region)
            layer = -0.18 * R.blur(region, 0.004 * size) + 0.14 * edge * near * lung_mask_soft
            b = R.box_of(region > 0.5)
            if b is not None:
                boxes.append((name,) + b)
            dens += layer
            continue
        elif name == "Atelectasis":
            if "line" in f:
                R.lines(layer, [pose.px(f["line"])], 1.0, f["width"] * pose.scale)
            else:
                R.fill(layer, [pose.px(f["poly"])], 1.0)
            layer = R.blur(layer * lung_mask_soft, 0.005 * size) * f["density"]
        peak = float(layer.max())
        b = R.box_of(layer > 0.1 * peak) if peak > 0 else None
        if b is not None:
            boxes.append((name,) + b)
        dens += layer
    return dens, novessel, boxes



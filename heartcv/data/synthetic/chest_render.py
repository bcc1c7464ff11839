"""Rasterising the chest phantom: pose, density layers, findings and exposure.

A radiograph is rendered as a projected *density* (soft tissue thickness minus lung air plus
bone, vessels, heart and findings) mapped to brightness by ``1 - exp(-k * density)``, so bones,
heart and soft tissue are bright and aerated lung is dark, as on a real PA radiograph. All
geometry is drawn directly at the target size from the patient-frame shapes of
:mod:`heartcv.data.synthetic.chest_shapes`, so masks and polygons are exact at any size.
"""

import cv2
import numpy as np

_SHIFT = 4  # sub-pixel bits for smooth drawing of image layers (masks use whole pixels)


# --------------------------------------------------------------------------- pose
class Pose:
    """Per-image affine map from the patient frame to pixels (rotation, scale, shift)."""

    def __init__(self, size, rng, habitus_scale=1.0):
        theta = np.deg2rad(rng.uniform(-3.0, 3.0))
        self.scale = 0.4 * size * habitus_scale * rng.uniform(0.96, 1.04)
        dx, dy = rng.uniform(-0.03, 0.03, 2) * size
        c, s = np.cos(theta), np.sin(theta)
        self.A = self.scale * np.array([[c, -s], [s, c]])
        self.c_pat = np.array([0.0, 0.85])
        self.c_px = np.array([size / 2 + dx, 0.1 * size + 0.85 * self.scale + dy])
        self.size = size

    def px(self, p):
        """Patient-frame points (..., 2) to pixel (x, y)."""
        return (np.asarray(p) - self.c_pat) @ self.A.T + self.c_px

    def grid(self):
        """Patient-frame coordinates (u, v) of every pixel centre, float32 (H, W) each."""
        inv = np.linalg.inv(self.A).astype(np.float32)
        ys, xs = np.mgrid[0:self.size, 0:self.size].astype(np.float32)
        xs -= np.float32(self.c_px[0])
        ys -= np.float32(self.c_px[1])
        u = inv[0, 0] * xs + inv[0, 1] * ys + np.float32(self.c_pat[0])
        v = inv[1, 0] * xs + inv[1, 1] * ys + np.float32(self.c_pat[1])
        return u, v


# --------------------------------------------------------------------------- drawing helpers
def _int(p):
    return np.round(p).astype(np.int32)


def _sub(p):
    return np.round(np.asarray(p) * (1 << _SHIFT)).astype(np.int32)


def fill(layer, polys, value, exact=False):
    """Fills polygons (pixel coordinates) into ``layer`` in place, one at a time (a single
    ``cv2.fillPoly`` call would cancel where polygons overlap). ``exact`` rounds vertices to
    whole pixels, as ``cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)`` does."""
    for p in polys:
        if exact:
            cv2.fillPoly(layer, [_int(p)], value)
        else:
            cv2.fillPoly(layer, [_sub(p)], value, cv2.LINE_8, _SHIFT)
    return layer


def lines(layer, curves, value, thickness):
    """Draws open polylines (pixel coordinates; a list of (P, 2) arrays or one (S, P, 2) array)
    into ``layer`` in place."""
    if isinstance(curves, np.ndarray):
        pts = list(_sub(curves))
    else:
        pts = [_sub(c) for c in curves]
    cv2.polylines(layer, pts, False, value, max(1, int(round(thickness))), cv2.LINE_8, _SHIFT)
    return layer


def blur(img, sigma):
    """Gaussian blur; wide kernels run on a downsampled copy (same result to the eye, 10x
    faster at 320 px)."""
    sigma = max(float(sigma), 0.3)
    h, w = img.shape[:2]
    f = int(sigma // 3)
    if f >= 2 and min(h, w) // f >= 16:
        small = cv2.resize(img, (w // f, h // f), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), sigma / f, borderType=cv2.BORDER_REPLICATE)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)


def box_of(mask):
    """(x, y, w, h) of the non-zero pixels of ``mask`` or None when empty."""
    cols = np.flatnonzero(mask.any(axis=0))
    rows = np.flatnonzero(mask.any(axis=1))
    if cols.size == 0:
        return None
    return (float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1),
            float(rows[-1] - rows[0] + 1))


# --------------------------------------------------------------------------- anatomy helpers
def smooth_noise(rng, size, cells):
    n = rng.standard_normal((cells, cells), dtype=np.float32)
    return cv2.resize(n, (size, size), interpolation=cv2.INTER_CUBIC)


def draw_trees(pose, trees, size):
    layer = np.zeros((size, size), np.float32)
    for tree in trees:
        for segs, t in tree:
            tpx = t * pose.scale
            th = max(1, int(round(tpx)))
            lines(layer, pose.px(segs), float(tpx / th) ** 0.5, th)
    return blur(layer, 0.002 * size + 0.3)


def bones(size, s, layers):
    """Sum of bone layers, each drawn as a band with a brighter cortex: (curves, width, weight)."""
    out = np.zeros((size, size), np.float32)
    for curves, width, weight in layers:
        band = lines(np.zeros((size, size), np.float32), curves, 1.0, width * s)
        lines(band, curves, 0.55, 0.45 * width * s)
        out += weight * band
    return out


def rect(cx, cy, w, h, angle=0.0):
    x, y = np.array([-w, w, w, -w]) / 2, np.array([-h, -h, h, h]) / 2
    ca, sa = np.cos(angle), np.sin(angle)
    return np.stack([cx + ca * x - sa * y, cy + sa * x + ca * y], axis=1)


def loop(cx, cy, rx, ry, n=16):
    t = np.linspace(0, 2 * np.pi, n + 1)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


# --------------------------------------------------------------------------- exposure
def expose(density, rng, size, lateral=False):
    """Maps projected density to an 8-bit radiograph with random exposure and noise."""
    k = rng.uniform(1.7, 2.5)
    gamma = rng.uniform(0.85, 1.25)
    lo, hi = rng.uniform(0.0, 0.08), rng.uniform(0.9, 1.0)
    sharpen = rng.uniform(0.2, 0.8)
    sigma = rng.uniform(0.006, 0.02)
    noise = rng.standard_normal((size, size), dtype=np.float32)
    ref = 1.35 if lateral else 1.3
    img = (1.0 - np.exp(-k * np.maximum(density, 0.0))) / (1.0 - np.exp(-k * ref))
    img = np.clip(img, 0.0, 1.0) ** gamma
    img = img + sharpen * (img - blur(img, 0.025 * size))
    img = lo + (hi - lo) * img
    img += sigma * blur(noise, 0.0015 * size + 0.35) * 1.8
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)

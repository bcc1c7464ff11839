"""Rasterising the chest phantom: pose, density layers, findings and exposure.

A radiograph is rendered as a projected *density* (soft tissue thickness minus lung air plus
bone, vessels, heart and findings) mapped to brightness by ``1 - exp(-k * density)``, so bones,
heart and soft tissue are bright and aerated lung is dark, as on a real PA radiograph. All
geometry is drawn directly at the target size from the patient-frame shapes of
:mod:`heartcv.data.synthetic.chest_shapes`, so masks and polygons are exact at any size.
Per-image acquisition variation (patient rotation and position, zoom, exposure, gamma,
window, edge enhancement, blur, noise and AP heart magnification) is drawn within the ranges
of an :class:`Acquisition`, whose defaults are those of
:func:`heartcv.data.synthetic.generate_chest_xrays`.
"""

import dataclasses

import cv2
import numpy as np

_SHIFT = 4  # sub-pixel bits for smooth drawing of image layers (masks use whole pixels)


# --------------------------------------------------------------------------- acquisition
def _range(name, value, lo, hi):
    """``value`` as a float pair ``(a, b)`` with ``lo <= a <= b <= hi``, or one clear error."""
    try:
        a, b = (float(x) for x in value)
    except (TypeError, ValueError):
        raise ValueError(f"Expected `{name}` as a pair (low, high) of numbers. "
                         f"Received: {name}={value!r}") from None
    if not (np.isfinite(a) and np.isfinite(b) and lo <= a <= b <= hi):
        raise ValueError(f"Expected `{name}` as (low, high) with {lo} <= low <= high <= {hi}. "
                         f"Received: {name}={value!r}")
    return (a, b)


def _number(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (lo <= float(value) <= hi):
        raise ValueError(f"Expected `{name}` as a number in [{lo}, {hi}]. "
                         f"Received: {name}={value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class Acquisition:
    """Per-image acquisition variation, each drawn uniformly per image from its range.

    Attributes (defaults in brackets):
        rotation: patient rotation, degrees, drawn in ``[-rotation, rotation]`` [5.0].
        shift: patient position, fraction of the image side, drawn in ``[-shift, shift]`` in x
            and y [0.05].
        zoom: scale of the whole projection (patient distance, collimation) [(0.95, 1.05)].
        exposure: attenuation scale ``k`` of ``1 - exp(-k * density)``; low ``k`` is a soft,
            under-penetrated film, high ``k`` a harder, higher-kV one [(1.5, 2.7)].
        gamma: display gamma applied after exposure [(0.8, 1.3)].
        window: ``(low, high)`` ranges of the black and white levels [((0.0, 0.08),
            (0.9, 1.0))].
        sharpen: unsharp-mask amount (edge enhancement of digital radiographs) [(0.2, 0.8)].
        noise: quantum-noise standard deviation, in units of full-scale intensity
            [(0.006, 0.03)].
        blur: Gaussian blur (focal spot, motion), standard deviation as a fraction of the image
            side, applied to the exposed image before noise; 0.004 is 0.4 px at 96 px and
            1.3 px at 320 px [(0.0, 0.004)].
        ap_magnification: heart magnification on AP frontal films (the heart lies further from
            the detector): the heart's projection is scaled by this factor in width and height
            [(1.10, 1.15)].
    """

    rotation: float = 5.0
    shift: float = 0.05
    zoom: tuple = (0.95, 1.05)
    exposure: tuple = (1.5, 2.7)
    gamma: tuple = (0.8, 1.3)
    window: tuple = ((0.0, 0.08), (0.9, 1.0))
    sharpen: tuple = (0.2, 0.8)
    noise: tuple = (0.006, 0.03)
    blur: tuple = (0.0, 0.004)
    ap_magnification: tuple = (1.10, 1.15)

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("rotation", _number("rotation", self.rotation, 0.0, 45.0))
        set_("shift", _number("shift", self.shift, 0.0, 0.25))
        for name, lo, hi in (("zoom", 0.5, 1.5), ("exposure", 0.2, 10.0), ("gamma", 0.2, 5.0),
                             ("sharpen", 0.0, 3.0), ("noise", 0.0, 0.5), ("blur", 0.0, 0.05),
                             ("ap_magnification", 1.0, 1.5)):
            set_(name, _range(name, getattr(self, name), lo, hi))
        w = self.window
        try:
            black, white = w
        except (TypeError, ValueError):
            raise ValueError("Expected `window` as ((black_low, black_high), (white_low, "
                             f"white_high)). Received: window={w!r}") from None
        black, white = _range("window[0]", black, 0.0, 1.0), _range("window[1]", white, 0.0, 1.0)
        if black[1] >= white[0]:
            raise ValueError("Expected the black levels of `window` below its white levels. "
                             f"Received: window={w!r}")
        set_("window", (black, white))


DEFAULT_ACQUISITION = Acquisition()


# --------------------------------------------------------------------------- pose
class Pose:
    """Per-image affine map from the patient frame to pixels (rotation, scale, shift).

    ``acq`` (an :class:`Acquisition`) sets the ranges; ``magnify`` is the AP heart
    magnification of this image (1.0 on PA and lateral films), kept here for the renderer.
    """

    def __init__(self, size, rng, habitus_scale=1.0, acq=DEFAULT_ACQUISITION, magnify=1.0):
        theta = np.deg2rad(rng.uniform(-acq.rotation, acq.rotation))
        self.scale = 0.4 * size * habitus_scale * rng.uniform(*acq.zoom)
        dx, dy = rng.uniform(-acq.shift, acq.shift, 2) * size
        c, s = np.cos(theta), np.sin(theta)
        self.A = self.scale * np.array([[c, -s], [s, c]])
        self.c_pat = np.array([0.0, 0.85])
        self.c_px = np.array([size / 2 + dx, 0.1 * size + 0.85 * self.scale + dy])
        self.size = size
        self.magnify = float(magnify)

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
def expose(density, rng, size, lateral=False, acq=DEFAULT_ACQUISITION):
    """Maps projected density to an 8-bit radiograph with random exposure, gamma, window,
    edge enhancement, blur and noise drawn from the ranges of ``acq`` (an
    :class:`Acquisition`)."""
    k = rng.uniform(*acq.exposure)
    gamma = rng.uniform(*acq.gamma)
    lo, hi = rng.uniform(*acq.window[0]), rng.uniform(*acq.window[1])
    sharpen = rng.uniform(*acq.sharpen)
    sigma = rng.uniform(*acq.noise)
    spread = rng.uniform(*acq.blur) * size
    noise = rng.standard_normal((size, size), dtype=np.float32)
    ref = 1.35 if lateral else 1.3
    img = (1.0 - np.exp(-k * np.maximum(density, 0.0))) / (1.0 - np.exp(-k * ref))
    img = np.clip(img, 0.0, 1.0) ** gamma
    img = img + sharpen * (img - blur(img, 0.025 * size))
    if spread >= 0.2:  # below a fifth of a pixel a blur changes nothing visible
        img = cv2.GaussianBlur(img, (0, 0), spread, borderType=cv2.BORDER_REPLICATE)
    img = lo + (hi - lo) * img
    img += sigma * blur(noise, 0.0015 * size + 0.35) * 1.8
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)

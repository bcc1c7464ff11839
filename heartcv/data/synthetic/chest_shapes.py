"""Anatomy of the synthetic chest phantom: shapes in the patient frame, and patient sampling.

Everything here is pure numpy. Shapes live in a *patient frame* with isotropic units: one unit
is about half the thoracic width. In the frontal (PA) frame ``x`` runs from the patient's right
(image left, ``x < 0``) to the patient's left (image right), ``y`` runs downward from the lung
apices (``y = 0``) to the costophrenic angles (``y ~ 1.6``). In the lateral frame ``x`` runs from
anterior (image left, sternum) to posterior (image right, spine), with the same ``y``.
:mod:`heartcv.data.synthetic.chest` maps this frame to pixels with a per-image affine transform
(pose) and rasterises it.

The congenital-heart-disease (CHD) shapes follow the plain-film signs used by radiologists and
named as the diagnostic regions (left/right heart, hilum, lung fields) in Reference 1:

* VSD: left-atrial and left-ventricular enlargement (bulging left atrial appendage, apex displaced
  down and out, posterior bulge on the lateral view), prominent pulmonary artery, increased
  pulmonary vascular markings (plethora).
* ASD: right-atrial bulge of the right heart border, right-ventricular enlargement filling the
  retrosternal space on the lateral view, prominent pulmonary artery segment, plethora.
* TOF: "boot-shaped" heart (coeur en sabot): upturned, lifted apex from right-ventricular
  hypertrophy, concave pulmonary segment, often a right-sided aortic arch, oligaemic lungs.

Reference:
    1. Cardiac disease classification from chest X-rays with a VGG16 + U-Net heart mask
       (``../shared/papers/chd-xray-vgg-unet.txt``): normal / VSD / ASD / TOF radiographs,
       frontal and lateral views, heart-contour polygons.
    2. Innat et al., "A convolutional attention mapping deep neural network for classification
       and localization of cardiomegaly on chest X-rays", Sci. Rep. 13, 6247 (2023): cardiomegaly
       and the cardiothoracic ratio on ChestX-ray14.
"""

import math

import numpy as np

from heartcv.data.synthetic.chest_findings import sample_findings

CHD_CLASSES = ("normal", "VSD", "ASD", "TOF")
#: The 14 ChestX-ray14 labels in the official order (``heartcv.data.datasets.cxr14.PATHOLOGIES``),
#: each drawn with its own sign (see :mod:`heartcv.data.synthetic.chest_findings`).
FINDING_CLASSES = (
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening",
    "Hernia",
)

# Per CHD class: CTR range, vascularity range (1 = normal, >1 plethora, <1 oligaemia) and
# amplitude ranges of the heart-contour bumps (fractions of the heart radius).
_CHD_SIGNS = {
    "normal": dict(ctr=(0.40, 0.50), vasc=(0.85, 1.15), ra=(-0.02, 0.05), lv=(-0.02, 0.06),
                   pa=(-0.04, 0.05), laa=(-0.03, 0.03), boot=(0.0, 0.0), rv_lat=(0.0, 0.06),
                   la_lat=(0.0, 0.05)),
    "VSD": dict(ctr=(0.47, 0.60), vasc=(1.1, 1.55), ra=(-0.02, 0.05), lv=(0.06, 0.18),
                pa=(0.04, 0.14), laa=(0.05, 0.14), boot=(0.0, 0.0), rv_lat=(0.0, 0.07),
                la_lat=(0.08, 0.2)),
    "ASD": dict(ctr=(0.46, 0.58), vasc=(1.1, 1.5), ra=(0.08, 0.2), lv=(-0.03, 0.04),
                pa=(0.06, 0.16), laa=(-0.03, 0.03), boot=(0.0, 0.0), rv_lat=(0.1, 0.22),
                la_lat=(0.0, 0.05)),
    "TOF": dict(ctr=(0.40, 0.52), vasc=(0.5, 0.85), ra=(-0.02, 0.06), lv=(-0.04, 0.04),
                pa=(-0.2, -0.08), laa=(-0.06, 0.0), boot=(0.1, 0.24), rv_lat=(0.08, 0.2),
                la_lat=(-0.04, 0.02)),
}


# --------------------------------------------------------------------------- curves
def catmull_rom(points, samples=8, closed=True):
    """Samples a uniform Catmull-Rom spline through ``points``.

    Args:
        points: (..., P, 2) control points; leading dimensions are independent curves.
        samples: points per segment.
        closed: whether the curve closes on itself.

    Returns:
        (..., M, 2) float64 points on the curve(s).
    """
    p = np.asarray(points, dtype=np.float64)
    if closed:
        p0, p1, p2, p3 = (np.roll(p, k, -2) for k in (1, 0, -1, -2))
    else:
        ext = np.concatenate([2 * p[..., :1, :] - p[..., 1:2, :], p,
                              2 * p[..., -1:, :] - p[..., -2:-1, :]], axis=-2)
        p0, p1, p2, p3 = ext[..., :-3, :], ext[..., 1:-2, :], ext[..., 2:-1, :], ext[..., 3:, :]
    t = np.linspace(0.0, 1.0, samples, endpoint=False)[:, None]
    a, b = 2 * p1, p2 - p0
    c, d = 2 * p0 - 5 * p1 + 4 * p2 - p3, -p0 + 3 * p1 - 3 * p2 + p3
    e = lambda q: q[..., None, :]  # noqa: E731  (segment, sample, xy)
    out = 0.5 * (e(a) + e(b) * t + e(c) * t**2 + e(d) * t**3)
    out = out.reshape(p.shape[:-2] + (-1, 2))
    if not closed:
        out = np.concatenate([out, p[..., -1:, :]], axis=-2)
    return out


def _bump(phi, center, width):
    d = np.angle(np.exp(1j * (phi - center)))
    return np.exp(-0.5 * (d / width) ** 2)


def heart_outline(h, n=120):
    """Heart contour (closed, star-shaped, so always a simple polygon) in the patient frame.

    The base shape is an ellipse tilted by ``h["tilt"]`` (long axis from the great vessels down
    to the apex); chamber bumps (``h["bumps"]``: amplitude, angle, width) and a little Fourier
    jitter modulate its radius; the inferior border rests on the diaphragm (``h["base"]``).

    Args:
        h: heart parameters from :func:`sample_patient_params` (``params["heart_frontal"]`` or
            ``params["heart_lateral"]``).
        n: number of contour points.

    Returns:
        (n, 2) float64 contour; ``h["a"]`` scales it horizontally and ``h["b"]`` vertically
        about ``(h["cx"], h["cy"])``.
    """
    phi = np.linspace(-np.pi, np.pi, n, endpoint=False)
    d = phi - h["tilt"]
    r = 1.0 / np.sqrt(np.cos(d) ** 2 + (np.sin(d) / h["aspect"]) ** 2)
    mod = np.ones_like(phi)
    for amp, mu, sd in h["bumps"]:
        mod = mod + amp * _bump(phi, mu, sd)
    for k, (ca, sa) in enumerate(h["fourier"], start=2):
        mod = mod + ca * np.cos(k * phi) + sa * np.sin(k * phi)
    r = r * np.maximum(mod, 0.35)
    x = h["cx"] + h["a"] * r * np.cos(phi)
    y = h["cy"] + h["b"] * r * np.sin(phi)
    # The heart sits on the diaphragm: a gently curved base.
    base = h["base"] + h["base_curve"] * ((x - h["cx"]) / max(h["a"], 1e-6)) ** 2
    y = np.minimum(y, base)
    return np.stack([x, y], axis=1)


# --------------------------------------------------------------------------- frontal anatomy
def _frontal_lungs(rng):
    """Right (image-left) and left lung fields as closed curves."""
    j = lambda s: rng.uniform(-s, s)  # noqa: E731
    height = rng.uniform(0.9, 1.08)
    apex = rng.uniform(-0.04, 0.04)
    dome_r, dome_l = rng.uniform(1.22, 1.36), rng.uniform(1.28, 1.42)
    lungs = []
    for side, dome in ((-1, dome_r), (1, dome_l)):
        cp = 1.56 + j(0.04) + (0.04 if side > 0 else 0.0)
        pts = [
            (0.13 + j(0.02), 0.45), (0.17 + j(0.02), 0.12 + apex), (0.33, apex),
            (0.53 + j(0.03), 0.04 + apex), (0.73 + j(0.03), 0.24), (0.88 + j(0.02), 0.56),
            (0.97 + j(0.02), 0.95), (1.0, 1.3 + j(0.03)), (0.985, cp), (0.93, cp - 0.05),
            (0.8, dome + 0.07), (0.58, dome - 0.01), (0.36, dome + 0.01),
            (0.17, dome + 0.1), (0.08, 1.2), (0.1, 0.85),
        ]
        p = np.array(pts)
        p[:, 1] = p[:, 1] * height
        p[:, 0] = p[:, 0] * side
        lungs.append(catmull_rom(p, samples=8))
    return lungs, height


def _frontal_mediastinum(rng, heart, right_arch):
    """Upper mediastinum (trachea, SVC border, aortic knob), reaching into the heart."""
    knob = rng.uniform(0.2, 0.3)
    ky = rng.uniform(0.5, 0.6)
    top = heart["cy"] - heart["b"]
    s = -1.0 if right_arch else 1.0
    pts = [(-0.15 * s, -0.6), (0.13 * s, -0.6), (0.14 * s, ky - 0.12), (knob * s, ky),
           (0.17 * s, ky + 0.13), (0.15 * s, top + 0.12), (0.0, heart["cy"]),
           (-0.15 * s, heart["cy"]), (-0.17 * s, top + 0.1), (-0.16 * s, 0.3)]
    return catmull_rom(np.array(pts), samples=6)


def _ribs_frontal(rng, height):
    """Posterior and anterior rib centre lines, (20, M, 2) each: 10 rib pairs, both sides."""
    y0 = (-0.16 + 0.165 * np.arange(10) + rng.uniform(-0.01, 0.01, 10)) * height
    curl = 0.35 * np.exp(-np.arange(10) / 2.0)  # upper ribs are more curved
    z = np.zeros(10)
    post = np.stack([np.stack([z + 0.12, y0], 1), np.stack([z + 0.3, y0 - 0.05], 1),
                     np.stack([z + 0.6, y0 - 0.03 + 0.05 * curl], 1),
                     np.stack([z + 0.88, y0 + 0.1 + 0.25 * curl], 1),
                     np.stack([z + 1.08, y0 + 0.32 + 0.3 * curl], 1)], 1)
    ant = np.stack([np.stack([z + 1.08, y0 + 0.32 + 0.3 * curl], 1),
                    np.stack([z + 0.85, y0 + 0.42 + 0.3 * curl], 1),
                    np.stack([z + 0.55, y0 + 0.56 + 0.25 * curl], 1),
                    np.stack([0.32 + 0.03 * np.arange(10), y0 + 0.7 + 0.2 * curl], 1)], 1)
    mirror = np.array([-1.0, 1.0])
    post = np.concatenate([post * mirror, post])
    ant = np.concatenate([ant * mirror, ant])
    return (catmull_rom(post, samples=5, closed=False), catmull_rom(ant, samples=5, closed=False))


def _clavicles(rng):
    out = []
    for side in (-1, 1):
        y = rng.uniform(-0.08, 0.02)
        p = np.array([(0.12, y + 0.2), (0.35, y + 0.15), (0.62, y + 0.1),
                      (0.88, y + 0.02), (1.12, y - 0.1)])
        p[:, 0] *= side
        out.append(catmull_rom(p, samples=6, closed=False))
    return out


def vessel_tree(rng, hilum, angles, vascularity, generations=5, length=0.2):
    """Branching pulmonary-vessel tree from a hilum, vectorised over branch tips.

    Args:
        rng: ``np.random.Generator``.
        hilum: (x, y) root in the patient frame.
        angles: initial branch directions (radians, image convention, ``y`` down).
        vascularity: 1 is normal; > 1 plethora (thicker, longer reaching); < 1 oligaemia.
        generations: number of bifurcation levels.
        length: length of the first segments.

    Returns:
        list over generations of ``(segments (S, 3, 2), thickness)``.
    """
    n = len(angles)
    pos = np.repeat(np.asarray(hilum, float)[None], n, 0)
    ang = np.asarray(angles, float)
    thick = 0.045 * vascularity**0.8
    shrink = 0.58 + 0.12 * min(max(vascularity, 0.5), 1.6)
    seg_len = length * np.ones(n)
    out = []
    for _ in range(generations):
        d = np.stack([np.cos(ang), np.sin(ang)], 1)
        end = pos + d * seg_len[:, None]
        bend = rng.normal(0, 0.03, (len(pos), 1))
        mid = (pos + end) / 2 + np.stack([-d[:, 1], d[:, 0]], 1) * bend
        out.append((np.stack([pos, mid, end], 1), thick))
        spread = rng.uniform(0.25, 0.55, len(pos))
        ang = np.concatenate([ang - spread, ang + spread * rng.uniform(0.6, 1.0, len(pos))])
        ang = ang + rng.normal(0, 0.08, len(ang))
        pos = np.concatenate([end, end])
        seg_len = np.concatenate([seg_len, seg_len]) * rng.uniform(0.66, 0.86, len(ang))
        thick = thick * shrink
    return out


# --------------------------------------------------------------------------- lateral anatomy
def _lateral_lung(rng):
    j = lambda s: rng.uniform(-s, s)  # noqa: E731
    pts = [(0.05, -0.02 + j(0.03)), (-0.3, 0.1), (-0.6 + j(0.03), 0.42), (-0.76, 0.85),
           (-0.83 + j(0.02), 1.2), (-0.82, 1.38), (-0.6, 1.3 + j(0.03)), (-0.2, 1.22 + j(0.03)),
           (0.25, 1.3), (0.62, 1.5 + j(0.04)), (0.84, 1.74 + j(0.03)), (0.9, 1.45),
           (0.92 + j(0.02), 1.0), (0.85, 0.5), (0.55, 0.1)]
    return catmull_rom(np.array(pts), samples=8)


def _heart_params(rng, ctr, signs, view):
    """Frontal or lateral heart: centre, scales, tilt, base and the chamber bumps."""
    u = lambda key: rng.uniform(*signs[key])  # noqa: E731
    four = [(rng.normal(0, 0.012), rng.normal(0, 0.012)) for _ in range(3)]
    if view == "frontal":
        a = ctr * 1.06
        b = rng.uniform(0.54, 0.64) + 0.3 * (ctr - 0.45)
        base = rng.uniform(1.36, 1.44)
        boot = u("boot")
        bumps = [
            [u("ra"), 2.9, 0.45],             # right atrium (right heart border)
            [u("lv"), 0.3, 0.4],              # left ventricle, apex down and out
            [u("pa"), -1.2, 0.2],             # pulmonary artery segment
            [u("laa"), -0.85, 0.18],          # left atrial appendage
            [boot, -0.1, 0.3],                # TOF: upturned, lifted apex ...
            [-1.2 * boot, 0.85, 0.3],         # ... above the diaphragm
            [-0.2, -1.8, 0.4],                # narrow vascular pedicle on top
        ]
        cx = rng.uniform(0.1, 0.18) + 0.3 * (ctr - 0.45)
        tilt = rng.uniform(0.45, 0.65)
    else:
        a = ctr * 1.0
        b = rng.uniform(0.48, 0.56) + 0.25 * (ctr - 0.45)
        base = rng.uniform(1.22, 1.3)
        bumps = [
            [u("rv_lat"), -2.2, 0.35],       # right ventricle into the retrosternal space
            [u("la_lat"), -0.7, 0.3],        # left atrium, posterior bulge
            [0.5 * u("lv"), 0.35, 0.4],      # left ventricle, posterior-inferior
            [-0.15, -1.5, 0.4],
        ]
        cx = rng.uniform(-0.4, -0.3)
        tilt = rng.uniform(-0.7, -0.45)
    cy = base - rng.uniform(0.45, 0.55) * b
    return dict(cx=cx, cy=cy, a=a, b=b, base=base, base_curve=0.03, tilt=tilt,
                aspect=rng.uniform(0.68, 0.78), bumps=bumps, fourier=four)


# --------------------------------------------------------------------------- CTR distribution
CTR_DISTRIBUTIONS = ("jsrt", "bands")
# The "jsrt" default: a skew-normal with the mean, standard deviation and skewness measured on
# the 247 JSRT radiographs with SCR masks (mean 0.474, sd 0.056, skewness 0.49, 67 above 0.5
# with heartcv.data.synthetic.measure_ctr), truncated to a plausible range.
CTR_DEFAULTS = dict(ctr_distribution="jsrt", ctr_mean=0.475, ctr_sd=0.056, ctr_skew=2.0,
                    ctr_range=(0.33, 0.72), normal_ctr=(0.38, 0.47),
                    cardiomegaly_ctr=(0.53, 0.65))


def _skewnorm_draw(rng, mean, sd, skew, lo, hi, size=None):
    """Draws from the skew-normal of shape ``skew`` with this mean and sd, truncated to
    ``[lo, hi]`` (by rejection; the caller keeps the range's mass non-negligible)."""
    d = skew / np.sqrt(1.0 + skew**2)
    w = sd / np.sqrt(1.0 - 2.0 * d**2 / np.pi)
    xi = mean - w * d * np.sqrt(2.0 / np.pi)
    n = 1 if size is None else int(size)
    out = np.empty(0)
    for _ in range(1000):
        z0, z1 = rng.standard_normal((2, max(4 * n, 16)))
        x = xi + w * (d * np.abs(z0) + np.sqrt(1.0 - d**2) * z1)
        out = np.concatenate([out, x[(x >= lo) & (x <= hi)]])
        if out.size >= n:
            break
    else:
        raise ValueError(f"The CTR distribution (mean {mean}, sd {sd}) has almost no mass in "
                         f"[{lo}, {hi}]; widen `ctr_range` or move `ctr_mean`.")
    return float(out[0]) if size is None else out[:n]


def ctr_share_above(ctr_mean=0.475, ctr_sd=0.056, ctr_skew=2.0, ctr_range=(0.33, 0.72),
                    threshold=0.5):
    """Share of the truncated skew-normal CTR distribution above ``threshold`` (numerically
    integrated density; 0.30 for the defaults, JSRT: 67 of 247 = 0.27)."""
    d = ctr_skew / np.sqrt(1.0 + ctr_skew**2)
    w = ctr_sd / np.sqrt(1.0 - 2.0 * d**2 / np.pi)
    xi = ctr_mean - w * d * np.sqrt(2.0 / np.pi)
    x = np.linspace(ctr_range[0], ctr_range[1], 20001)
    z = (x - xi) / w
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(ctr_skew * z / np.sqrt(2.0)))
    pdf = np.exp(-0.5 * z**2) * cdf
    total = np.trapezoid(pdf, x)
    above = np.trapezoid(np.where(x > threshold, pdf, 0.0), x)
    return float(above / total) if total > 0 else float("nan")


def check_ctr_options(ctr_distribution="jsrt", ctr_mean=0.475, ctr_sd=0.056, ctr_skew=2.0,
                      ctr_range=(0.33, 0.72), normal_ctr=(0.38, 0.47),
                      cardiomegaly_ctr=(0.53, 0.65)):
    """Validates the CTR options (one clear ``ValueError`` line each); returns them as a dict
    with tuples of floats."""
    if ctr_distribution not in CTR_DISTRIBUTIONS:
        raise ValueError(f"Expected `ctr_distribution` to be one of {list(CTR_DISTRIBUTIONS)}. "
                         f"Received: ctr_distribution={ctr_distribution!r}")
    normal_ctr = _pair("normal_ctr", normal_ctr)
    cardiomegaly_ctr = _pair("cardiomegaly_ctr", cardiomegaly_ctr)
    if not (0 < normal_ctr[0] < normal_ctr[1] < 0.5 < cardiomegaly_ctr[0]
            < cardiomegaly_ctr[1] < 1):
        raise ValueError("Expected normal_ctr[0] < normal_ctr[1] < 0.5 < cardiomegaly_ctr[0] < "
                         f"cardiomegaly_ctr[1] < 1. Received: normal_ctr={normal_ctr}, "
                         f"cardiomegaly_ctr={cardiomegaly_ctr}")
    ctr_range = _pair("ctr_range", ctr_range)
    if not 0.2 <= ctr_range[0] < 0.5 < ctr_range[1] <= 0.9:
        raise ValueError("Expected `ctr_range` as (low, high) with 0.2 <= low < 0.5 < high <= 0.9. "
                         f"Received: ctr_range={ctr_range}")
    for name, v, lo, hi in (("ctr_mean", ctr_mean, 0.25, 0.8), ("ctr_sd", ctr_sd, 1e-3, 0.2),
                            ("ctr_skew", ctr_skew, -10.0, 10.0)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not lo <= float(v) <= hi:
            raise ValueError(f"Expected `{name}` as a number in [{lo}, {hi}]. "
                             f"Received: {name}={v!r}")
    return dict(ctr_distribution=ctr_distribution, ctr_mean=float(ctr_mean),
                ctr_sd=float(ctr_sd), ctr_skew=float(ctr_skew), ctr_range=ctr_range,
                normal_ctr=normal_ctr, cardiomegaly_ctr=cardiomegaly_ctr)


def _pair(name, value):
    try:
        a, b = (float(x) for x in value)
    except (TypeError, ValueError):
        raise ValueError(f"Expected `{name}` as a pair (low, high) of numbers. "
                         f"Received: {name}={value!r}") from None
    return (a, b)


def sample_ctr(rng, enlarged=None, *, ctr_distribution="jsrt", ctr_mean=0.475, ctr_sd=0.056,
               ctr_skew=2.0, ctr_range=(0.33, 0.72), normal_ctr=(0.38, 0.47),
               cardiomegaly_ctr=(0.53, 0.65)):
    """One patient's true (PA-equivalent) cardiothoracic ratio.

    ``"jsrt"``: the truncated skew-normal (``ctr_mean``, ``ctr_sd``, ``ctr_skew``,
    ``ctr_range``), conditioned on ``CTR > 0.5`` when ``enlarged`` is true and on
    ``CTR <= 0.5`` when it is false (None: unconditioned). ``"bands"``: uniform in
    ``cardiomegaly_ctr`` or ``normal_ctr`` (``enlarged=None`` picks one at even odds), an
    easy task with a margin around 0.5.
    """
    if ctr_distribution == "bands":
        if enlarged is None:
            enlarged = rng.random() < 0.5
        return float(rng.uniform(*(cardiomegaly_ctr if enlarged else normal_ctr)))
    lo, hi = ctr_range
    if enlarged is not None:
        lo, hi = (np.nextafter(0.5, 1.0), hi) if enlarged else (lo, 0.5)
    return _skewnorm_draw(rng, ctr_mean, ctr_sd, ctr_skew, lo, hi)


# --------------------------------------------------------------------------- patients
def _chd_patient(rng, label):
    """(label, CHD class, findings, CTR) of a CHD-task patient; ``label`` None draws one."""
    if label is None:
        label = int(rng.integers(len(CHD_CLASSES)))
    if not 0 <= int(label) < len(CHD_CLASSES):
        raise ValueError(f"Expected `label` in 0..{len(CHD_CLASSES) - 1} for task='chd'. "
                         f"Received: label={label!r}")
    chd = CHD_CLASSES[int(label)]
    return label, chd, [], rng.uniform(*_CHD_SIGNS[chd]["ctr"])


def _findings_patient(rng, label, finding_prob, p_big, ctr_kw):
    """(label, CHD class, findings, CTR) of a findings-task patient; ``label`` None draws
    each finding with ``finding_prob`` and Cardiomegaly with ``p_big``."""
    if label is None:
        label = (rng.random(len(FINDING_CLASSES)) < finding_prob).astype(int)
        label[FINDING_CLASSES.index("Cardiomegaly")] = int(rng.random() < p_big)
    label = np.asarray(label, dtype=int)
    if label.shape != (len(FINDING_CLASSES),):
        raise ValueError(f"Expected `label` of shape ({len(FINDING_CLASSES)},) for "
                         f"task='findings'. Received: label.shape={label.shape}")
    findings = [n for n, v in zip(FINDING_CLASSES, label) if v]
    big = bool(label[FINDING_CLASSES.index("Cardiomegaly")])
    return label, "normal", findings, sample_ctr(rng, big, **ctr_kw)


def sample_patient_params(rng, task="cardiomegaly", label=None, *, normal_ctr=(0.38, 0.47),
                          cardiomegaly_ctr=(0.53, 0.65), prevalence=None, finding_prob=0.25,
                          ctr_distribution="jsrt", ctr_mean=0.475, ctr_sd=0.056, ctr_skew=2.0,
                          ctr_range=(0.33, 0.72)):
    """Samples one synthetic patient: anatomy, disease and findings, for both views.

    Args:
        rng: ``np.random.Generator`` (the patient's own stream).
        task: ``"cardiomegaly"``, ``"chd"``, ``"findings"`` or ``"view"``.
        label: the patient's class. ``cardiomegaly``/``view``: 0 or 1 (cardiomegaly or not);
            ``chd``: index into ``("normal", "VSD", "ASD", "TOF")``; ``findings``: a 0/1
            vector over :data:`FINDING_CLASSES`. ``None`` draws it from ``rng``.
        normal_ctr, cardiomegaly_ctr: CTR ranges for normal and enlarged hearts
            (``ctr_distribution="bands"``).
        prevalence: probability of cardiomegaly when ``label`` is None; None draws the CTR
            from its distribution unconditioned (``"bands"``: even odds).
        finding_prob: probability of each other finding when ``label`` is None (findings task).
        ctr_distribution, ctr_mean, ctr_sd, ctr_skew, ctr_range: the CTR distribution of the
            cardiomegaly and findings tasks (see :func:`sample_ctr`); the CHD classes keep
            their own CTR ranges.

    Returns:
        dict of patient parameters for :func:`heartcv.data.synthetic.chest.render_phantom`.
    """
    if task not in ("cardiomegaly", "chd", "findings", "view"):
        raise ValueError("Expected `task` to be one of 'cardiomegaly', 'chd', 'findings', 'view'. "
                         f"Received: task={task!r}")
    ctr_kw = check_ctr_options(ctr_distribution, ctr_mean, ctr_sd, ctr_skew, ctr_range,
                               normal_ctr, cardiomegaly_ctr)
    if task == "chd":
        label, chd, findings, ctr = _chd_patient(rng, label)
    elif task == "findings":
        p_big = (ctr_share_above(ctr_mean, ctr_sd, ctr_skew, ctr_range)
                 if ctr_distribution == "jsrt" else 0.5) if prevalence is None else prevalence
        label, chd, findings, ctr = _findings_patient(rng, label, finding_prob, p_big, ctr_kw)
    else:
        if label is None and prevalence is not None:
            label = int(rng.random() < prevalence)
        ctr = sample_ctr(rng, None if label is None else bool(int(label)), **ctr_kw)
        label = int(ctr > 0.5) if label is None else label
        chd, findings = "normal", []
    signs = _CHD_SIGNS[chd]
    vasc = rng.uniform(*signs["vasc"])
    lungs, height = _frontal_lungs(rng)
    heart_f = _heart_params(rng, ctr, signs, "frontal")
    medial = [lg[np.abs(lg[:, 0]) < 0.6, 1].max() for lg in lungs]
    shift = float(np.max(medial)) + rng.uniform(0.0, 0.03) - heart_f["base"]
    heart_f.update(base=heart_f["base"] + shift, cy=heart_f["cy"] + shift)
    heart_l = _heart_params(rng, ctr, signs, "lateral")
    right_arch = chd == "TOF" and rng.random() < 0.25
    # Hila: enlarged with plethora, small with oligaemia; the left hilum sits higher.
    hila = [(-0.3 - 0.04 * (vasc - 1), 0.86 * height), (0.33 + 0.04 * (vasc - 1), 0.78 * height)]
    trees = []
    for side, (hx, hy) in zip((-1, 1), hila):
        base = np.array([-2.1, -1.6, -1.15, -0.6, -0.15, 0.35, 0.85, 1.25])
        base = base + rng.normal(0, 0.08, base.size)
        ang = base if side > 0 else np.pi - base
        trees.append(vessel_tree(rng, (hx, hy), ang, vasc, generations=6, length=0.17))
    lat_ang = np.linspace(-np.pi, np.pi, 11, endpoint=False) + rng.normal(0, 0.1, 11)
    lat_tree = vessel_tree(rng, (0.1, 0.85), lat_ang, vasc, generations=6, length=0.17)
    p_post, p_ant = _ribs_frontal(rng, height)
    outline = heart_outline(heart_f)
    return dict(
        task=task, label=label, chd=chd, ctr=float(ctr), vascularity=float(vasc),
        habitus=dict(scale=rng.uniform(0.94, 1.04), body=rng.uniform(1.22, 1.4),
                     neck=rng.uniform(0.3, 0.42), soft=rng.uniform(0.8, 1.2),
                     bone=rng.uniform(0.8, 1.2), air=rng.uniform(0.85, 1.1)),
        lungs=lungs, heart_frontal=heart_f, heart_lateral=heart_l,
        mediastinum=_frontal_mediastinum(rng, heart_f, right_arch),
        trees=trees, lateral_tree=lat_tree, lateral_lung=_lateral_lung(rng),
        ribs_post=p_post, ribs_ant=p_ant, clavicles=_clavicles(rng),
        spine_step=0.165 * height, gastric=rng.random() < 0.7,
        findings=sample_findings(rng, findings, lungs, outline),
        finding_names=[n for n in findings if n != "Cardiomegaly"],
    )

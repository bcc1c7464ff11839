"""Synthetic chest radiographs: the embedded default data for the demo and the tests.

A parametric phantom renders frontal (PA) and lateral radiograph-like images at any size with
body outline, lungs with branching vessel texture, spine, ribs, clavicles, diaphragm, trachea
and a parametric heart whose exact mask and polygon are returned. Four tasks mirror the papers
heartcv reproduces:

* ``"cardiomegaly"`` (binary, Reference 1): the true label is ``CTR > 0.5`` for the patient's
  PA-equivalent cardiothoracic ratio (``ctr_true``); the observed label (``labels``) is that
  flipped by label noise. The heart is sized on each image so that the CTR measured from the
  returned masks by :func:`measure_ctr` (``ctr``) matches the patient's (to about a pixel,
  always on the same side of 0.5), magnified on AP films; lateral views use the same
  horizontal-extent measure on their own masks. Lung masks are the anatomical lung fields
  without the heart and mediastinum; findings (an effusion, say) do not change them.
* ``"chd"`` (multiclass normal / VSD / ASD / TOF, Reference 2): heart shapes and lung
  vascularity follow the plain-film signs (see :mod:`heartcv.data.synthetic.chest_shapes`).
* ``"findings"`` (multilabel, Reference 3): the 14 ChestX-ray14 labels in the official order
  and spelling (``FINDING_CLASSES``: Atelectasis, Cardiomegaly, Effusion, Infiltration, Mass,
  Nodule, Pneumonia, Pneumothorax, Consolidation, Edema, Emphysema, Fibrosis,
  Pleural_Thickening, Hernia), drawn independently (so they co-occur), each with its
  plain-film sign (see :mod:`heartcv.data.synthetic.chest_findings`) and its box in pixels.
* ``"view"`` (frontal vs lateral, Reference 2's first experiment).

Each synthetic patient (``"SYN00012"``) gets ``images_per_patient`` images of the same anatomy
with changes of pose, exposure and noise, so patient-wise splits are exercised. Patients
are drawn from their own ``np.random.SeedSequence`` child, so the output depends only on
``seed`` and not on ``workers``; label noise and AP films have their own streams, so their
rates change nothing else.

Realism (issue 14; defaults of :func:`generate_chest_xrays`, all reachable from a config as
``data.synthetic_options``; ``docs/phantom.md`` has the measurements):

=====================  =======================================  ==============================
parameter              default (``ctr_distribution="jsrt"``)    ``"bands"`` (the easy phantom)
=====================  =======================================  ==============================
CTR                    skew-normal, ``ctr_mean`` 0.475,         uniform in ``normal_ctr``
                       ``ctr_sd`` 0.056, ``ctr_skew`` 2.0,      (0.38, 0.47) or
                       ``ctr_range`` (0.33, 0.72): 30% > 0.5    ``cardiomegaly_ctr``
                       (JSRT/SCR: mean 0.474, sd 0.056, skew    (0.53, 0.65)
                       0.49, 67 of 247 > 0.5)
``prevalence``         None: from the distribution (0.30)       None: 0.5
``label_noise``        (0.04, 0.10): P(1 | true 0),             0
                       P(0 | true 1), per image (precision and
                       recall ~0.90 at 30% prevalence)
``ap_prob``            0.4 (cardiomegaly, findings; else 0)     0
``ap_magnification``   (1.10, 1.15), heart width and height     (same, unused)
``rotation``           ±5°                                      same
``shift``              ±0.05 of the side                        same
``zoom``               (0.95, 1.05)                             same
``exposure``           k in (1.5, 2.7)                          same
``gamma``              (0.8, 1.3)                               same
``window``             black (0, 0.08), white (0.9, 1.0)        same
``sharpen``            (0.2, 0.8)                               same
``noise``              sd (0.006, 0.03) of full scale           same
``blur``               sigma (0, 0.004) of the side             same
=====================  =======================================  ==============================

On AP films the label follows the true, PA-equivalent CTR, not the magnified CTR measured on
the film (a choice: the disease, not the projection, defines the label, so a model has to
discount AP magnification as a radiologist does); AP films are recognisable by their higher
clavicles (``view_position`` names them). The Bayes ceiling,
:func:`heartcv.data.synthetic.ceiling.bayes_ceiling` of ``ctr_true`` against ``labels``, is the
best AUROC any model can reach.

References:
    1. Innat et al., "A convolutional attention mapping deep neural network for classification
       and localization of cardiomegaly on chest X-rays", Sci. Rep. 13, 6247 (2023).
    2. Heart disease (VSD/ASD/TOF) from chest X-rays with VGG16 and a U-Net heart mask
       (``../shared/papers/chd-xray-vgg-unet.txt``).
    3. Wang et al., "ChestX-ray8: Hospital-scale chest X-ray database and benchmarks on
       weakly-supervised classification and localization of common thorax diseases",
       CVPR 2017.
"""

import dataclasses
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np

from heartcv.data.synthetic import chest_render as R
from heartcv.data.synthetic.chest_findings import render_findings
from heartcv.data.synthetic.chest_options import resolve_phantom_options
from heartcv.data.synthetic.chest_shapes import (
    CHD_CLASSES, FINDING_CLASSES, catmull_rom, heart_outline, sample_patient_params,
)
from heartcv.registry import did_you_mean

TASKS = {
    "cardiomegaly": ("binary", ["No Finding", "Cardiomegaly"]),
    "chd": ("multiclass", list(CHD_CLASSES)),
    "findings": ("multilabel", list(FINDING_CLASSES)),
    "view": ("multiclass", ["frontal", "lateral"]),
}
VIEWS = ("frontal", "lateral", "both")


def _choice(name, value, options):
    if value not in options:
        hint = did_you_mean(value, options)
        raise ValueError(f"Expected `{name}` to be one of {list(options)}.{hint} "
                         f"Received: {name}={value!r}")


# --------------------------------------------------------------------------- CTR
def measure_ctr(heart_mask, lung_mask):
    """Cardiothoracic ratio measured from masks.

    The widest horizontal extent of the heart (rightmost minus leftmost heart column, + 1)
    over the widest horizontal extent of the two lungs together, as in the JSRT/SCR
    convention; cardiomegaly is ``CTR > 0.5``.

    Args:
        heart_mask: (H, W), (N, H, W) or (N, H, W, 1) mask. Non-zero
            is foreground, except for 8-bit masks scaled to 255, which are thresholded at 128.
        lung_mask: same shape as ``heart_mask``, both lungs.

    Returns:
        float for one pair of masks, or a float32 (N,) array; NaN where a mask is empty.
    """
    h, lung = np.asarray(heart_mask), np.asarray(lung_mask)
    if h.shape != lung.shape:
        raise ValueError("Expected `heart_mask` and `lung_mask` of the same shape. "
                         f"Received: heart_mask.shape={h.shape}, lung_mask.shape={lung.shape}")
    if h.ndim == 4 and h.shape[-1] == 1:
        h, lung = h[..., 0], lung[..., 0]
    if h.ndim not in (2, 3):
        raise ValueError("Expected masks of shape (H, W) or (N, H, W). "
                         f"Received: heart_mask.shape={np.asarray(heart_mask).shape}")

    def binar(m):
        return m >= 128 if (m.dtype == np.uint8 and m.max(initial=0) > 1) else m > 0

    def extent(m):
        cols = m.any(axis=-2)
        idx = np.arange(cols.shape[-1])
        lo = np.where(cols, idx, cols.shape[-1]).min(-1)
        hi = np.where(cols, idx, -1).max(-1)
        return np.where(hi >= lo, hi - lo + 1, 0)

    hw, lw = extent(binar(h)), extent(binar(lung))
    with np.errstate(divide="ignore", invalid="ignore"):
        ctr = np.where((hw > 0) & (lw > 0), hw / np.maximum(lw, 1), np.nan).astype(np.float32)
    return float(ctr) if ctr.ndim == 0 else ctr


# --------------------------------------------------------------------------- rendering
def _clean(lung):
    """Drops lung slivers cut off by the heart (components under 5% of the largest)."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(lung, connectivity=8)
    if n <= 2:
        return lung
    area = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(n, np.uint8)
    keep[1:] = area >= 0.05 * area.max()
    return keep[lab]


def _fit_heart(h, ctr, pose, lung_polys_px, lung_from_heart, anterior=None):
    """Scales the heart horizontally so that :func:`measure_ctr` of the rasterised masks is
    ``ctr`` (to about a pixel) and always on the same side of 0.5 as ``ctr``.

    Args:
        h: heart parameters (patient frame).
        ctr: target ratio.
        pose: the image's :class:`~heartcv.data.synthetic.chest_render.Pose`.
        lung_polys_px: lung polygons in pixels (for the first, analytic guess).
        lung_from_heart: function heart mask -> lung mask.
        anterior: lateral view: the heart's leftmost point is placed this many patient units
            behind the lungs' leftmost point (the heart lies against the sternum).

    Returns:
        (heart polygon (M, 2) in pixels, heart mask, lung mask), uint8 masks.
    """
    size = pose.size
    lx = np.concatenate([np.round(p[:, 0]) for p in lung_polys_px])
    lung_w = lx.max() - lx.min() + 1
    hh = dict(h)
    for _ in range(3):  # analytic: polygon widths
        poly = pose.px(heart_outline(hh))
        hh["a"] *= (ctr * lung_w - 1.0) / max(poly[:, 0].max() - poly[:, 0].min(), 1e-6)
    want = ctr > 0.5
    step = 0.6 / pose.scale
    for it in range(60):  # measured: rasterised masks
        poly = pose.px(heart_outline(hh))
        if anterior is not None:
            poly[:, 0] += np.round(lx.min() + anterior * pose.scale - poly[:, 0].min())
        heart = R.fill(np.zeros((size, size), np.uint8), [poly], 1, exact=True)
        lung = lung_from_heart(heart)
        ratio = measure_ctr(heart, lung)
        if (ratio > 0.5) == want and (it >= 3 or abs(ratio - ctr) * lung_w <= 1.0):
            break
        if it < 3:
            hh["a"] *= ctr / ratio
        else:
            hh["a"] += step if want else -step
    return poly, heart, lung


def _noise_fields(rng, size):
    """The three smooth noise fields of a view, drawn in this order: mottle, fine, broad."""
    mottle = R.smooth_noise(rng, size, max(size // 12, 4))
    fine = R.smooth_noise(rng, size, max(size // 4, 8))
    broad = R.smooth_noise(rng, size, 3)
    return mottle, fine, broad


def _frontal(params, size, rng, pose):
    hab, s = params["habitus"], pose.scale
    u, v = pose.grid()
    mottle, fine, broad = _noise_fields(rng, size)
    lungs_px = [pose.px(p) for p in params["lungs"]]
    z8 = lambda: np.zeros((size, size), np.uint8)  # noqa: E731
    sides = [R.fill(z8(), [p], 1, exact=True) for p in lungs_px]
    fields = R.fill(sides[0] | sides[1], [pose.px(params["mediastinum"])], 0, exact=True)
    # AP films: the heart, further from the detector, projects larger (pose.magnify > 1) and
    # the clavicles project higher (a visible cue of the AP projection).
    m = pose.magnify
    hf = dict(params["heart_frontal"])
    hf.update(b=hf["b"] * m, cy=hf["base"] - (hf["base"] - hf["cy"]) * m)
    heart_px, heart_mask, lung_mask = _fit_heart(
        hf, params["ctr"] * m, pose, lungs_px, lambda heart: _clean(fields * (1 - heart)))
    # Soft tissue: an elliptic cross-section, widening into the shoulders, neck on top.
    a_u = np.abs(u)
    w = hab["body"] * (1 - 0.06 * np.clip((v - 0.9) / 0.8, 0, 1))
    w = w + 0.5 * np.clip((0.35 - v) / 0.6, 0, 1) ** 2
    shoulder = -0.4 + 0.3 * np.clip((a_u - hab["neck"]) / 1.0, 0, 1) ** 1.5
    inside = ((a_u < w) & ((v > shoulder) | (a_u < hab["neck"]))).astype(np.float32)
    inside = R.blur(inside, 0.006 * size)
    body = 0.2 + 0.8 * np.sqrt(np.clip(1 - (u / w) ** 2, 0, 1))
    body *= 0.78 + 0.22 * np.clip((v + 0.1) / 0.5, 0, 1)  # thinner over the shoulders
    dens = 0.95 * hab["soft"] * body * inside * (1 + 0.04 * broad)
    # Lung air: darker centrally, less dark at the apices; some lung lies behind the heart.
    lm = lung_mask.astype(np.float32)
    hm = heart_mask.astype(np.float32)
    lung_soft = R.blur(lm, 0.005 * size)
    behind = lm + 0.25 * hm * np.clip((params["heart_frontal"]["base"] - v) / 0.5, 0, 1)
    air = 0.55 * R.blur(behind, 0.005 * size) + 0.45 * R.blur(behind, 0.04 * size)
    air *= np.clip(0.5 + 0.75 * v, 0.5, 1.0) * (1 + 0.025 * mottle + 0.02 * fine)
    ly = params["lungs"][1]
    dome_l = ly[np.abs(ly[:, 0] - 0.5) < 0.15, 1].max()
    tube = np.zeros((size, size), np.float32)
    R.lines(tube, [pose.px([(0, -0.7), (0.01, 0.2), (0.03, 0.52)])], 1.0, 0.1 * s)
    R.lines(tube, [pose.px([(0.03, 0.52), (-0.24, 0.74)]), pose.px([(0.03, 0.52), (0.24, 0.68)])],
            0.8, 0.06 * s)
    if params["gastric"]:
        R.fill(tube, [pose.px(catmull_rom([(0.35, dome_l + 0.1), (0.62, dome_l + 0.06),
                                          (0.68, dome_l + 0.2), (0.4, dome_l + 0.22)], 6))], 1.0)
    air += 0.2 * R.blur(tube, 0.005 * size)
    dens -= 0.78 * hab["air"] * (1.1 - 0.1 * params["vascularity"]) * air
    # Findings first: a pneumothorax removes the vessel markings beyond the pleural line.
    find, novessel, boxes = render_findings(params, pose, u, v, sides, lung_soft, mottle)
    vessels = R.draw_trees(pose, params["trees"], size) * (1 - novessel)
    dens += 0.075 * params["vascularity"] * vessels * lung_soft + find
    dens += 0.035 * fine * lung_soft
    # Bones: spine (bodies, pedicles), ribs with a brighter cortex, clavicles.
    step = params["spine_step"]
    ys = np.arange(-0.6, 2.9, step)
    bone = R.fill(np.zeros((size, size), np.float32),
                  [pose.px(R.rect(0.0, y, 0.27, 0.8 * step)) for y in ys], 0.09)
    R.lines(bone, [pose.px(R.loop(sx * 0.095, y - 0.2 * step, 0.03, 0.042)) for y in ys
                   for sx in (-1, 1)], 0.16, 0.012 * s)
    bone += R.bones(size, s, [(pose.px(params["ribs_post"]), 0.06, 0.13),
                             (pose.px(params["ribs_ant"]), 0.07, 0.035),
                             ([pose.px(c + [0.0, -0.1 if m > 1 else 0.0])
                               for c in params["clavicles"]], 0.07, 0.16)])
    dens += hab["bone"] * R.blur(bone, 0.003 * size + 0.3) * inside
    return dens, heart_mask, lung_mask, heart_px, boxes


def _lateral(params, size, rng, pose):
    hab, s = params["habitus"], pose.scale
    u, v = pose.grid()
    mottle, fine, broad = _noise_fields(rng, size)
    lung_px = pose.px(params["lateral_lung"])
    z8 = lambda: np.zeros((size, size), np.uint8)  # noqa: E731
    field = R.fill(z8(), [lung_px], 1, exact=True)
    heart_px, heart_mask, lung_mask = _fit_heart(
        params["heart_lateral"], params["ctr"], pose, [lung_px],
        lambda heart: _clean(field * (1 - heart)), anterior=0.03)
    # Body: anterior chest wall on the left, back on the right, neck and raised arms on top.
    xa = -1.08 - 0.1 * np.clip((v - 1.1) / 0.7, 0, 1) + 0.5 * np.clip(-(v + 0.05) / 0.4, 0, 1)
    xp = 1.15 - 0.3 * np.clip(-(v + 0.1) / 0.4, 0, 1)
    inside = R.blur(((u > xa) & (u < xp)).astype(np.float32), 0.006 * size)
    mid, half = (xa + xp) / 2, (xp - xa) / 2
    prof = 0.6 + 0.4 * np.sqrt(np.clip(1 - ((u - mid) / half) ** 2, 0, 1))
    arms = np.exp(-(((u + 0.3) / 0.7) ** 2 + ((v + 0.25) / 0.35) ** 2))
    dens = 0.97 * hab["soft"] * prof * inside * (1 + 0.04 * broad + 0.25 * arms)
    lm = lung_mask.astype(np.float32)
    lung_soft = R.blur(lm, 0.005 * size)
    behind = lm + 0.22 * heart_mask.astype(np.float32)
    air = 0.5 * R.blur(behind, 0.005 * size) + 0.5 * R.blur(behind, 0.05 * size)
    # The other hemidiaphragm: a second dome a little lower.
    field2 = R.fill(z8(), [pose.px(params["lateral_lung"] + np.array([0.03, 0.08]))], 1)
    air += 0.3 * R.blur((field2 & (1 - field)).astype(np.float32), 0.006 * size)
    air *= np.clip(0.55 + 0.6 * v, 0.55, 1.0) * (1 + 0.035 * mottle + 0.03 * fine)
    tube = np.zeros((size, size), np.float32)
    R.lines(tube, [pose.px([(-0.1, -0.7), (0.0, 0.2), (0.1, 0.62)])], 1.0, 0.09 * s)
    air += 0.22 * R.blur(tube, 0.004 * size)
    dens -= 0.85 * hab["air"] * (1.1 - 0.1 * params["vascularity"]) * air
    vessels = R.draw_trees(pose, [params["lateral_tree"]], size)
    dens += (0.08 * params["vascularity"] ** 0.5) * vessels * lung_soft + 0.035 * fine * lung_soft
    aorta = np.zeros((size, size), np.float32)
    R.lines(aorta, [pose.px(catmull_rom([(-0.35, 0.85), (-0.3, 0.5), (-0.1, 0.3), (0.2, 0.32),
                                         (0.42, 0.6), (0.52, 1.3)], 6, closed=False))],
            1.0, 0.14 * s)
    dens += 0.08 * R.blur(aorta, 0.008 * size) * lung_soft
    # Bones: vertebral bodies along a kyphotic curve, posterior elements, sternum, ribs.
    step = params["spine_step"]
    ys = np.arange(-0.6, 2.9, step)
    xs = 0.68 + 0.06 * np.cos((ys - 0.6) / 1.4)
    bodies = [pose.px(R.rect(x, y, 0.3, 0.8 * step, -0.08 * (y - 0.8))) for x, y in zip(xs, ys)]
    bone = R.fill(np.zeros((size, size), np.float32), bodies, 0.12)
    R.fill(bone, [pose.px(R.loop(x + 0.3, y + 0.03, 0.06, 0.05)) for x, y in zip(xs, ys)], 0.1)
    y0 = -0.05 + 0.16 * np.arange(10)[:, None]
    rib = catmull_rom(np.stack([np.broadcast_to([[1.0, 0.78, 0.45, 0.1]], (10, 4)),
                                y0 + [0.0, 0.12, 0.32, 0.55]], -1), 5, closed=False)
    curves = pose.px(np.concatenate([rib, rib + np.array([0.04, 0.07])]))
    sternum = [pose.px(catmull_rom([(-0.72, 0.08), (-0.82, 0.45), (-0.9, 0.85), (-0.94, 1.25)], 5,
                                   closed=False))]
    bone += R.bones(size, s, [(curves, 0.05, 0.07), (sternum, 0.08, 0.14)])
    dens += hab["bone"] * R.blur(bone, 0.003 * size + 0.3) * inside
    return dens, heart_mask, lung_mask, heart_px, []


def render_phantom(params, size, rng, view="frontal", *, acquisition=None, ap=False):
    """Renders one radiograph of a patient from :func:`sample_patient_params`.

    Pose (rotation, scale, shift), exposure, gamma, window, sharpening, blur and noise are
    drawn from ``rng`` within the ranges of ``acquisition``; the anatomy and findings come
    from ``params``.

    Args:
        params: patient parameters.
        size: output height and width in pixels (>= 32).
        rng: ``np.random.Generator`` for the per-image variation.
        view: ``"frontal"`` or ``"lateral"``. Findings are rendered on frontal views only.
        acquisition: a :class:`~heartcv.data.synthetic.chest_render.Acquisition` (None: its
            defaults).
        ap: frontal views only: an AP film, whose heart projects larger by a factor drawn
            from ``acquisition.ap_magnification`` (the measured CTR and the heart mask are the
            magnified ones; ``params["ctr"]`` stays the PA-equivalent CTR).

    Returns:
        ``(image (size, size) uint8, heart_mask uint8 0/1, lung_mask uint8 0/1,
        heart polygon (M, 2) float32 (x, y) pixels, boxes)`` where boxes is a list of
        ``(label, x, y, w, h)`` in pixels, including a ``"Cardiomegaly"`` heart box when the
        patient's true (PA-equivalent) CTR, ``params["ctr"]``, exceeds 0.5 in the cardiomegaly
        and findings tasks (the box follows the clean label, like a radiologist's box).
    """
    _choice("view", view, ("frontal", "lateral"))
    if not isinstance(size, (int, np.integer)) or size < 32:
        raise ValueError(f"Expected `size` to be an integer >= 32. Received: size={size!r}")
    size = int(size)
    acq = R.DEFAULT_ACQUISITION if acquisition is None else acquisition
    mag = rng.uniform(*acq.ap_magnification)  # drawn always: AP and PA share the stream
    mag = mag if (ap and view == "frontal") else 1.0
    pose = R.Pose(size, rng, params["habitus"]["scale"], acq, magnify=mag)
    draw = _frontal if view == "frontal" else _lateral
    dens, heart_mask, lung_mask, heart_px, boxes = draw(params, size, rng, pose)
    image = R.expose(dens, rng, size, lateral=view == "lateral", acq=acq)
    if params["task"] in ("cardiomegaly", "findings") and params["ctr"] > 0.5:
        boxes = [("Cardiomegaly",) + R.box_of(heart_mask > 0)] + list(boxes)
    return image, heart_mask, lung_mask, heart_px.astype(np.float32), boxes


# --------------------------------------------------------------------------- datasets
def _patient_job(job):
    """Renders all images of one patient (module level so that worker processes can run it)."""
    seq, label, views, aps, size, task, kw, acq = job
    rng = np.random.default_rng(seq)
    params = sample_patient_params(rng, task, label, **kw)
    renders = [render_phantom(params, size, rng, vw, acquisition=acq, ap=ap)
               for vw, ap in zip(views, aps)]
    return params["finding_names"], renders, params["ctr"]


def generate_chest_xrays(n_patients=100, images_per_patient=2, size=320, *, task="cardiomegaly",
                         view="frontal", seed=0, workers=None, ctr_distribution=None,
                         ctr_mean=0.475, ctr_sd=0.056, ctr_skew=2.0, ctr_range=(0.33, 0.72),
                         normal_ctr=None, cardiomegaly_ctr=None, prevalence=None,
                         label_noise=None, finding_prob=0.25, ap_prob=None,
                         ap_magnification=(1.10, 1.15), rotation=5.0, shift=0.05,
                         zoom=(0.95, 1.05), exposure=(1.5, 2.7), gamma=(0.8, 1.3),
                         window=((0.0, 0.08), (0.9, 1.0)), sharpen=(0.2, 0.8),
                         noise=(0.006, 0.03), blur=(0.0, 0.004)):
    """Generates a synthetic chest X-ray dataset with masks, labels and patient ids.

    The defaults are the realistic phantom (``ctr_distribution="jsrt"``): CTRs as on JSRT,
    text-mining-like label noise and 40% AP films; ``ctr_distribution="bands"`` (or passing
    ``normal_ctr``/``cardiomegaly_ctr``) is the easy phantom: CTRs in bands away from 0.5,
    clean labels, prevalence 0.5, PA films only. The module docstring has the full table.

    Args:
        n_patients: number of synthetic patients.
        images_per_patient: images per patient (same anatomy; pose, exposure, noise vary).
        size: image height and width in pixels (>= 32).
        task: ``"cardiomegaly"`` (binary, CTR > 0.5), ``"chd"`` (normal/VSD/ASD/TOF),
            ``"findings"`` (multilabel, ChestX-ray14 names) or ``"view"`` (frontal/lateral).
        view: ``"frontal"``, ``"lateral"`` or ``"both"`` (a patient's images alternate between
            the views from a random first view). Ignored by ``task="view"``, which uses
            ``"both"``; ``task="findings"`` needs ``"frontal"``.
        seed: seed of the whole dataset; the output does not depend on ``workers``.
        workers: worker processes; None or 1 renders in this process (about 15-25 ms per
            320-px image). More workers use "spawn" processes, which import heartcv (a few
            seconds each) and need the calling script to guard its entry point with
            ``if __name__ == "__main__":``; worth it only for thousands of images.
        ctr_distribution: ``"jsrt"`` (default; a skew-normal CTR with ``ctr_mean`` 0.475,
            ``ctr_sd`` 0.056, ``ctr_skew`` 2.0 (shape; skewness 0.45), truncated to
            ``ctr_range`` (0.33, 0.72): 30% of patients above 0.5; JSRT: 67 of 247) or
            ``"bands"`` (uniform in ``normal_ctr`` (0.38, 0.47) or ``cardiomegaly_ctr``
            (0.53, 0.65)). None: ``"bands"`` when a band is given, else ``"jsrt"``.
        ctr_mean, ctr_sd, ctr_skew, ctr_range: the ``"jsrt"`` distribution.
        normal_ctr, cardiomegaly_ctr: the ``"bands"`` ranges (below and above 0.5).
        prevalence: share of patients with a true ``CTR > 0.5`` (cardiomegaly, findings,
            view; exactly ``round(prevalence * n_patients)`` patients). None: what the CTR
            distribution gives (``"jsrt"``: 0.30 for the defaults; ``"bands"``: 0.5). A number
            keeps the distribution's shape on each side of 0.5 and reweights the sides.
        label_noise: text-mining noise of the Cardiomegaly label (cardiomegaly task and the
            findings task's Cardiomegaly column): ``(P(observed 1 | true 0),
            P(observed 0 | true 1))``, or one number for both, flipped independently per image
            (each image has its own report). None: (0.04, 0.10) for ``"jsrt"`` (at a 30%
            prevalence a precision and a recall of about 0.90, as ChestX-ray14's text-mined
            labels, ~90% precise), 0 for ``"bands"``.
        finding_prob: probability of each non-cardiac finding per patient (findings task).
        ap_prob: probability that a frontal image is an AP film, whose heart projects larger
            by ``ap_magnification`` (1.10-1.15) and whose clavicles project higher. The label
            follows the patient's true PA-equivalent CTR (``ctr_true``), not the magnified
            one measured on the AP film (``ctr``). None: 0.4 (ChestX-ray14: 40% AP) for
            ``"jsrt"`` in the cardiomegaly and findings tasks, else 0.
        ap_magnification, rotation, shift, zoom, exposure, gamma, window, sharpen, noise,
            blur: acquisition variation per image, see
            :class:`~heartcv.data.synthetic.chest_render.Acquisition` (defaults: 1.10-1.15,
            ±5°, ±5% of the side, 0.95-1.05, k 1.5-2.7, 0.8-1.3, black 0-0.08 / white
            0.9-1.0, 0.2-0.8, sd 0.006-0.03, sigma 0-0.4% of the side).

    Returns:
        dict with ``images`` (N, size, size, 1) uint8, ``heart_masks`` and ``lung_masks``
        (N, size, size) uint8 0/1, ``labels`` float32 ((N, 1) binary, (N, K) one-hot or
        multi-hot; the observed, noisy labels models train and test on), ``labels_true``
        (the same without label noise), ``class_names``, ``task_type``, ``patient_id`` and
        ``image_id`` (N,) str, ``ctr`` (N,) float32 measured from the masks (magnified on AP
        films), ``ctr_true`` (N,) float32 the patient's PA-equivalent CTR (``labels_true`` of
        the cardiomegaly task is ``ctr_true > 0.5``), ``view`` (N,) str, ``view_position``
        (N,) str ``"PA"``, ``"AP"`` or ``"LAT"``, ``heart_polygons`` (list of (M, 2) float32
        pixel (x, y)), ``boxes`` (per image, a list of ``(label, x, y, w, h)`` in pixels) and
        ``options`` (the effective CTR, prevalence, label-noise, AP and acquisition settings).
    """
    _check_sizes(task, view, workers, n_patients, images_per_patient, size)
    opts = resolve_phantom_options(
        task, ctr_distribution=ctr_distribution, ctr_mean=ctr_mean, ctr_sd=ctr_sd,
        ctr_skew=ctr_skew, ctr_range=ctr_range, normal_ctr=normal_ctr,
        cardiomegaly_ctr=cardiomegaly_ctr, prevalence=prevalence, label_noise=label_noise,
        ap_prob=ap_prob)
    if isinstance(finding_prob, bool) or not isinstance(
            finding_prob, (int, float, np.integer, np.floating)) or not 0.0 <= finding_prob <= 1.0:
        raise ValueError(f"Expected `finding_prob` in [0, 1]. "
                         f"Received: finding_prob={finding_prob}")
    acq = R.Acquisition(rotation=rotation, shift=shift, zoom=zoom, exposure=exposure,
                        gamma=gamma, window=window, sharpen=sharpen, noise=noise, blur=blur,
                        ap_magnification=ap_magnification)
    if task == "findings" and view != "frontal":
        raise ValueError("Findings are rendered on frontal views only; expected view='frontal' "
                         f"with task='findings'. Received: view={view!r}")
    task_type, class_names = TASKS[task]
    view = "both" if task == "view" else view
    # Children: 0 labels and views, 1..n patients, n+1 label noise, n+2 AP films (so that the
    # noise rate and ap_prob change nothing else, and a higher rate flips a superset).
    seqs = np.random.SeedSequence(seed).spawn(n_patients + 3)
    top = np.random.default_rng(seqs[0])
    n, per = n_patients, images_per_patient
    prevalence = opts["prevalence"]
    labels = _patient_labels(top, task, n, prevalence, finding_prob)
    first = top.integers(0, 2, n)
    flip_u = np.random.default_rng(seqs[n + 1]).random(n * per)
    ap_u = np.random.default_rng(seqs[n + 2]).random(n * per).reshape(n, per)
    kw = dict(opts["ctr"], prevalence=prevalence, finding_prob=finding_prob)
    jobs = []
    for i in range(n):
        views = _patient_views(view, first[i], per)
        aps = [bool(vw == "frontal" and u < opts["ap_prob"]) for vw, u in zip(views, ap_u[i])]
        jobs.append((seqs[i + 1], labels[i], views, aps, int(size), task, kw, acq))
    out = _assemble(_run_jobs(jobs, workers), jobs, task, task_type, class_names, size, per)
    out["labels"] = _observed_labels(out["labels_true"], task, opts["label_noise"], flip_u)
    out["options"] = dict(opts["ctr"], prevalence=prevalence, label_noise=opts["label_noise"],
                          ap_prob=opts["ap_prob"], finding_prob=float(finding_prob),
                          **dataclasses.asdict(acq))
    return out


def _check_sizes(task, view, workers, n_patients, images_per_patient, size):
    _choice("task", task, TASKS)
    _choice("view", view, VIEWS)
    if workers is not None and (not isinstance(workers, (int, np.integer)) or workers < 1):
        raise ValueError(f"Expected `workers` to be None or an integer >= 1. "
                         f"Received: workers={workers!r}")
    for name, val, lo in (("n_patients", n_patients, 1),
                          ("images_per_patient", images_per_patient, 1), ("size", size, 32)):
        if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < lo:
            raise ValueError(f"Expected `{name}` to be an integer >= {lo}. "
                             f"Received: {name}={val!r}")


def _patient_labels(top, task, n, prevalence, finding_prob):
    """Each patient's true label, drawn from ``top`` (class index, 0/1 or a multi-hot row)."""
    if task == "chd":
        return top.permutation(np.arange(n) % len(CHD_CLASSES))
    if task == "findings":
        labels = (top.random((n, len(FINDING_CLASSES))) < finding_prob).astype(int)
        labels[:, FINDING_CLASSES.index("Cardiomegaly")] = top.permutation(
            np.arange(n) < round(prevalence * n))
        return labels
    return top.permutation((np.arange(n) < round(prevalence * n)).astype(int))


def _patient_views(view, first, per):
    if view == "both":
        return [("frontal", "lateral")[(first + j) % 2] for j in range(per)]
    return [view] * per


def _run_jobs(jobs, workers):
    if workers is None or workers <= 1:
        return [_patient_job(j) for j in jobs]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(int(workers), os.cpu_count() or 1),
                             mp_context=ctx) as pool:
        return list(pool.map(_patient_job, jobs, chunksize=max(1, len(jobs) // (4 * workers))))


def _observed_labels(labels_true, task, label_noise, flip_u):
    """Label noise: the observed Cardiomegaly label flips with P(1 | 0) or P(0 | 1)."""
    col = {"cardiomegaly": 0, "findings": FINDING_CLASSES.index("Cardiomegaly")}.get(task)
    labels = labels_true.copy()
    if col is not None:
        fp, fn = label_noise
        clean = labels[:, col] > 0.5
        flip = np.where(clean, flip_u < fn, flip_u < fp)
        labels[:, col] = np.where(flip, ~clean, clean)
    return labels


def _assemble(results, jobs, task, task_type, class_names, size, per):
    n_img = len(jobs) * per
    images = np.empty((n_img, size, size, 1), np.uint8)
    hearts = np.empty((n_img, size, size), np.uint8)
    lungs = np.empty((n_img, size, size), np.uint8)
    labels = np.zeros((n_img, 1 if task_type == "binary" else len(class_names)), np.float32)
    digits = max(5, len(str(len(jobs) - 1)))
    pids, iids, views, polys, boxes, positions, ctr_true = [], [], [], [], [], [], []
    k = 0
    for i, ((finding_names, renders, ctr_p), job) in enumerate(zip(results, jobs)):
        for j, ((img, hm, lm, poly, bx), vw, ap) in enumerate(zip(renders, job[2], job[3])):
            images[k, ..., 0], hearts[k], lungs[k] = img, hm, lm
            pids.append(f"SYN{i:0{digits}d}")
            iids.append(f"SYN{i:0{digits}d}_{j:03d}")
            views.append(vw)
            positions.append("LAT" if vw == "lateral" else ("AP" if ap else "PA"))
            ctr_true.append(ctr_p)
            polys.append(poly)
            boxes.append(list(bx))
            k += 1
    ctr = measure_ctr(hearts, lungs)
    ctr_true = np.asarray(ctr_true, np.float32)
    if task == "cardiomegaly":
        labels[:, 0] = ctr_true > 0.5
    elif task == "chd":
        labels[np.arange(n_img), np.repeat([int(j[1]) for j in jobs], per)] = 1
    elif task == "view":
        labels[np.arange(n_img), np.array([vw == "lateral" for vw in views], dtype=int)] = 1
    else:
        for k, names in enumerate(r[0] for r in results for _ in range(per)):
            for name in names:
                labels[k, class_names.index(name)] = 1
        labels[:, class_names.index("Cardiomegaly")] = ctr_true > 0.5
    return dict(images=images, heart_masks=hearts, lung_masks=lungs, labels=labels,
                labels_true=labels.copy(), class_names=list(class_names), task_type=task_type,
                patient_id=np.array(pids), image_id=np.array(iids), ctr=ctr, ctr_true=ctr_true,
                view=np.array(views), view_position=np.array(positions), heart_polygons=polys,
                boxes=boxes)

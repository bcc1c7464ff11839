"""Segmentation results: mask channels named and drawn, areas measured, the CTR with its
quality control and the cardiomegaly call."""

from __future__ import annotations

import cv2
import numpy as np

from heartcv.ctr import CARDIOMEGALY_THRESHOLD, STRUCTURES, ctr_from_prediction
from heartcv.data.images import resize_image
from heartcv.qc import check_anatomy


MASK_THRESHOLD = 0.5
MASK_ALPHA = 0.4
# Masks are measured (areas, CTR) with the longer side at most this many pixels, then scaled
# to the film's pixels: benchmarks/ctr_resolution.py (342 real films) chose it.
MEASURE_SIDE = 512
# Structure names when the card does not store them, by number of mask channels.
DEFAULT_STRUCTURES = {1: ["heart"], 3: ["heart", "left_lung", "right_lung"]}
# RGB colours of the mask overlay; other structures take the palette in order.
STRUCTURE_COLOURS = {"heart": (230, 40, 40), "left_lung": (40, 200, 60),
                     "right_lung": (50, 120, 250)}
_PALETTE = ((250, 200, 0), (200, 60, 230), (0, 210, 210), (250, 130, 0), (150, 150, 150))
QC_COLOURS = {"ok": (40, 200, 60), "review": (250, 170, 0), "fail": (230, 40, 40)}


def ctr_call(value, *, qc_status="ok", flags=(), view=None, ctr_threshold=None):
    """The cardiomegaly call of one CTR: ``(call or None, cut-off or None, note)``.

    No call when the CTR is missing, the heart is wider than the thorax, QC fails, or the
    film is AP and no cut-off was given. Otherwise ``value > cut-off`` with the given cut-off,
    else :data:`heartcv.ctr.CARDIOMEGALY_THRESHOLD` (a PA rule; an unknown view is read as PA).
    """
    if value is None:
        return None, None, "no CTR: " + (", ".join(flags) or "not measurable")
    if "heart_wider_than_thorax" in flags:
        return None, None, "no call: the heart is wider than the thorax (a failed segmentation)"
    if qc_status == "fail":
        return None, None, "no call: quality control failed"
    if ctr_threshold is not None:
        return bool(value > ctr_threshold), ctr_threshold, f"cut-off {ctr_threshold} given"
    if view == "AP":
        return None, None, ("AP film: the PA cut-off 0.5 overestimates the heart (AP "
                            "magnifies it); no call unless a cut-off is given (--ctr-threshold)")
    note = "PA film" if view == "PA" else "view not given: read as a PA film"
    return bool(value > CARDIOMEGALY_THRESHOLD), CARDIOMEGALY_THRESHOLD, note


def structure_names(card, k: int) -> list[str]:
    """Names of a segmentation model's ``k`` mask channels.

    From the card (``mask_names`` or ``structures``, else its ``class_names`` when it has
    ``k`` of them), else :data:`DEFAULT_STRUCTURES` (1: heart; 3: heart and both lungs),
    else ``structure_0`` … ``structure_{k-1}``.
    """
    for key in ("mask_names", "structures", "class_names"):
        names = card.get(key)
        if isinstance(names, list) and len(names) == k and all(isinstance(n, str) for n in names):
            return list(names)
    return list(DEFAULT_STRUCTURES.get(k, [f"structure_{i}" for i in range(k)]))


def structure_colour(name: str, index: int) -> tuple[int, int, int]:
    """RGB colour of a structure in the mask overlay."""
    return STRUCTURE_COLOURS.get(name, _PALETTE[index % len(_PALETTE)])


def overlay_masks(image: np.ndarray, masks: np.ndarray, names, alpha: float = MASK_ALPHA,
                  legend=None):
    """Each mask channel filled in its colour at ``alpha`` and outlined, on the image (RGB out).

    Args:
        image: (H, W) or (H, W, C) uint8 image.
        masks: (H, W, K) boolean masks at the image's size.
        names: the K structure names (they choose the colours).
        legend: ``None``, or a list of ``(text, rgb)`` lines drawn under the structure
            names in the top-left legend box (:func:`draw_legend`).
    """
    img = np.asarray(image)
    img = img if img.ndim == 3 else img[..., None]
    rgb = np.repeat(img[..., :1], 3, axis=-1) if img.shape[-1] != 3 else img
    rgb = rgb.astype(np.float32)
    thickness = max(1, round(max(rgb.shape[:2]) / 256))
    outlines = []
    for i, name in enumerate(names):
        m = masks[..., i]
        colour = np.asarray(structure_colour(name, i), np.float32)
        rgb[m] = (1 - alpha) * rgb[m] + alpha * colour
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        outlines.append((contours, tuple(int(c) for c in colour)))
    out = np.ascontiguousarray(np.clip(rgb, 0, 255).astype(np.uint8))
    for contours, colour in outlines:
        cv2.drawContours(out, contours, -1, colour, thickness, cv2.LINE_AA)
    if legend is not None:
        lines = [(name.replace("_", " "), structure_colour(name, i)) for i, name in enumerate(names)]
        out = draw_legend(out, lines + list(legend))
    return out


def draw_legend(rgb, lines):
    """A legend box in the top-left corner: each ``(text, rgb)`` line with a colour swatch.

    The font scales with the image (legible at 256 px and at 2048 px).
    """
    out = np.ascontiguousarray(rgb.copy())
    h, w = out.shape[:2]
    scale = max(0.35, min(h, w) / 700.0)
    thick = max(1, round(scale * 1.5))
    font = cv2.FONT_HERSHEY_SIMPLEX
    sizes = [cv2.getTextSize(t, font, scale, thick)[0] for t, _ in lines]
    line_h = max(sz[1] for sz in sizes) + int(10 * scale) + 2
    sw = line_h - 4
    box_w = min(w - 2, max(sz[0] for sz in sizes) + sw + int(20 * scale) + 6)
    box_h = min(h - 2, line_h * len(lines) + 6)
    region = out[2:2 + box_h, 2:2 + box_w].astype(np.float32)
    out[2:2 + box_h, 2:2 + box_w] = (0.35 * region).astype(np.uint8)  # darken behind the text
    for k, (text, colour) in enumerate(lines):
        y = 4 + k * line_h
        cv2.rectangle(out, (6, y + 2), (6 + sw, y + sw), tuple(int(c) for c in colour), -1)
        cv2.putText(out, text, (12 + sw, y + line_h - int(6 * scale) - 2), font, scale,
                    (255, 255, 255), thick, cv2.LINE_AA)
    return out


def _ctr_result(probs, names, *, model_probs=None, model_image=None, tta=None, view=None,
                ctr_threshold=None, px_scale=(1.0, 1.0)):
    """The CTR block of a segmentation result (``None`` without heart and both lungs).

    ``probs`` may be at a smaller size than the image (:func:`measure_size`): ``px_scale``
    ``(x, area)`` brings the widths and areas to the image's pixels (the CTR, a ratio of
    widths, needs no scaling).
    """
    if not has_ctr_structures(names):
        return None
    c = ctr_from_prediction(probs, names, threshold=MASK_THRESHOLD)
    value = c["ctr"]
    low = high = None
    if tta is not None and tta["low"] is not None and value is not None:
        low, high = min(tta["low"], value), max(tta["high"], value)
    qc = check_anatomy(probs if model_probs is None else model_probs, names, model_image,
                       ctr=value, ctr_interval=None if low is None else (low, high),
                       threshold=MASK_THRESHOLD)
    call, cut, note = ctr_call(value, qc_status=qc["status"], flags=c["flags"], view=view,
                               ctr_threshold=ctr_threshold)
    return {"value": value, "low": low, "high": high, "cardiomegaly": call,
            "cardiomegaly_threshold": cut, "call_note": note, "view": view,
            "qc": qc["status"], "qc_reasons": qc["reasons"], "qc_measures": qc["measures"],
            "tta_views": None if tta is None else tta["views"], "flags": c["flags"],
            "heart_width_px": _scaled(c["heart_width_px"], px_scale[0]),
            "thorax_width_px": _scaled(c["thorax_width_px"], px_scale[0]),
            "largest_component_areas_px": {k: _scaled(v, px_scale[1])
                                           for k, v in c["areas_px"].items()}}


def _scaled(px, scale):
    return None if px is None else int(round(px * scale))


def _legend_lines(ctr):
    if ctr is None:
        return []
    if ctr["value"] is None:
        head = "CTR: not measurable"
    elif ctr["low"] is not None:
        head = f"CTR {ctr['value']:.3f} [{ctr['low']:.3f}-{ctr['high']:.3f}]"
    else:
        head = f"CTR {ctr['value']:.3f}"
    call = {True: "cardiomegaly", False: "no cardiomegaly", None: "no call"}[ctr["cardiomegaly"]]
    qc = f"QC {ctr['qc']}" + (f": {', '.join(ctr['qc_reasons'][:2])}" if ctr["qc_reasons"] else "")
    return [(head, (255, 255, 255)), (call + (f" ({ctr['view']})" if ctr["view"] else ""),
                                          (255, 255, 255)),
            (qc, QC_COLOURS[ctr["qc"]])]


def segmentation_result(image, pred, names, *, draw=True, model_image=None, tta=None, view=None,
                        ctr_threshold=None):
    """Masks, areas, CTR and quality control of one prediction, in the image's own pixels.

    Args:
        image: the (H, W) or (H, W, C) uint8 image as read.
        pred: ``(h, w, K)`` mask probabilities at the model's input size; they are resized
            (:func:`heartcv.data.images.resize_image`) to :func:`measure_size` of (H, W)
            (the image's own size, or its longer side :data:`MEASURE_SIDE` = 512 px for
            larger films) and thresholded at :data:`MASK_THRESHOLD`; areas and CTR are
            measured there and scaled to the image's pixels (on 342 real 1024-px films the
            CTR is within 0.005 of the one measured at 1024 px, at most 0.0045:
            ``benchmarks/ctr_resolution.py``). The overlay is drawn at (H, W).
        names: the K structure names (:func:`structure_names`).
        model_image: the ``(h, w)`` grey image the model saw (for the QC grey-level check;
            QC runs at the model's size).
        tta: one entry of :func:`heartcv.qc.tta_ctr_interval` (``None``: no interval).
        view: ``"PA"``, ``"AP"`` or ``None``; ctr_threshold: a cut-off, see :func:`ctr_call`.

    Returns:
        ``(fields, overlay)``: the result's ``task``, ``structure_names``,
        ``mask_threshold``, ``measure_size`` (the ``[height, width]`` the masks were
        measured at), ``structures`` (per name: ``area_px`` in the image's pixels, measured
        at ``measure_size`` and scaled; ``area_fraction`` of the image; ``colour_rgb``) and
        ``ctr`` (``None`` unless heart, left_lung and right_lung are all named; else
        ``value``, ``low``/``high`` (the TTA interval), ``cardiomegaly`` (``None``: no call)
        with ``call_note``, ``qc`` and ``qc_reasons``, flags and widths in the image's
        pixels), and the RGB overlay with its legend (``None`` when ``draw`` is false).
    """
    h, w = image.shape[:2]
    probs = np.asarray(pred, np.float32)
    if probs.ndim == 2:
        probs = probs[..., None]
    names = list(names)
    if len(names) != probs.shape[-1]:
        raise ValueError(f"Expected one structure name per mask channel ({probs.shape[-1]}). "
                         f"Received: names={names}")
    model_probs = np.clip(probs, 0.0, 1.0)
    size = measure_size((h, w))
    measured = _probs_at(probs, size)
    masks = measured > MASK_THRESHOLD
    area_scale = (h * w) / float(size[0] * size[1])
    structures = {}
    for i, name in enumerate(names):
        area = int(masks[..., i].sum())
        structures[name] = {"area_px": int(round(area * area_scale)),
                            "area_fraction": area / float(size[0] * size[1]),
                            "colour_rgb": list(structure_colour(name, i))}
    ctr = _ctr_result(measured, names, model_probs=model_probs, model_image=model_image, tta=tta,
                      view=view, ctr_threshold=ctr_threshold,
                      px_scale=(w / float(size[1]), area_scale))
    fields = {"task": "segmentation", "structure_names": names, "mask_threshold": MASK_THRESHOLD,
              "measure_size": list(size), "structures": structures, "ctr": ctr}
    picture = None
    if draw:  # the overlay is drawn at the image's own size
        full = masks if size == (h, w) else _probs_at(probs, (h, w)) > MASK_THRESHOLD
        picture = overlay_masks(image, full, names, legend=_legend_lines(ctr))
    return fields, picture


def _probs_at(probs, size):
    """``(H, W, K)`` probabilities resized to ``size`` (:func:`resize_image`), in [0, 1]."""
    if probs.shape[:2] != tuple(size):
        probs = resize_image(probs, tuple(size))
        probs = probs if probs.ndim == 3 else probs[..., None]
        return np.clip(probs, 0.0, 1.0, out=probs)  # a new array: clipped in place
    return np.clip(probs, 0.0, 1.0)


def measure_size(image_hw, side=MEASURE_SIDE):
    """``(height, width)`` at which a film's masks are measured: its own size when its longer
    side is at most ``side`` (or ``side`` is ``None``), else scaled so that it is ``side``."""
    h, w = int(image_hw[0]), int(image_hw[1])
    if side is None or max(h, w) <= side:
        return h, w
    scale = side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def has_ctr_structures(names) -> bool:
    return all(s in names for s in STRUCTURES)


def ctr_line(result: dict) -> str:
    """One line for the CLI: the CTR with its interval, QC, and the call or why there is none."""
    ctr = result.get("ctr")
    if ctr is None:
        return ("CTR: not measured (needs heart, left_lung and right_lung masks; this model "
                f"segments {', '.join(result['structure_names'])})")
    flags = f" [{', '.join(ctr['flags'])}]" if ctr["flags"] else ""
    if ctr["value"] is None:
        return f"CTR: not measurable{flags}; QC {ctr['qc']}"
    interval = f" [{ctr['low']:.3f}, {ctr['high']:.3f}]" if ctr.get("low") is not None else ""
    qc = f"QC {ctr['qc']}" + (f" ({', '.join(ctr['qc_reasons'])})" if ctr["qc_reasons"] else "")
    if ctr["cardiomegaly"] is None:
        call = ctr["call_note"]
    else:
        sign = ">" if ctr["cardiomegaly"] else "<="
        word = "cardiomegaly" if ctr["cardiomegaly"] else "no cardiomegaly"
        call = f"{sign} {ctr['cardiomegaly_threshold']}: {word}; {ctr['call_note']}"
    return f"CTR: {ctr['value']:.3f}{interval}{flags}; {qc}; {call}"

"""Predict one image with a saved model (``heartcv predict IMAGE --model FILE``), or many.

Many images (``heartcv predict PATH... --model FILE``: files, folders, globs, a CSV of
paths, a bundle split) go through :func:`collect_inputs` and :func:`predict_batch`: one
model load, parallel reading, batched prediction, ``predictions.csv`` and ``skipped.csv``.

Input size. A model runs at the size it was trained at unless told otherwise, because a
classifier trained at 96 px and run on a 1024-px radiograph sees structures ten times larger
than any it learnt (the demo model, trained at 96 px, was reported at AUROC 0.998 on
phantom images at 96 px and 0.585 at 1024 px). The size is, in order: ``image_size`` (``N`` for N×N, or ``"full"``: the image's own
size, for fully convolutional models only), the ``input_size`` on the model card
(``<model>.card.json`` beside the model, written by :func:`heartcv.train.write_card`), the
model's fixed input size, else the image's own size. The result says which
(``image_size_source``: ``"option"``, ``"card"``, ``"model"`` or ``"image"``). Images are
resized with :func:`heartcv.data.images.resize_image` (``INTER_AREA`` when shrinking), the
function ``heartcv prep`` uses to bring images to a bundle's size; heatmaps and masks are
resized back up and drawn on the image at its own size.

Segmentation models (a ``(1, H, W, K)`` sigmoid output) give masks instead of
probabilities: the overlay shows each structure in a colour, the JSON holds each structure's
area in the image's pixels (measured with the longer side at most :data:`MEASURE_SIDE` = 512
px and scaled: :func:`measure_size`) and, when the model segments the heart and both lungs, the
cardiothoracic ratio (:func:`heartcv.ctr.ctr_from_prediction`) with an interval from
test-time augmentation (:data:`heartcv.qc.TTA_VIEWS`, predicted in the same model call), a
quality-control status (:func:`heartcv.qc.check_anatomy`: ``ok`` / ``review`` / ``fail`` and
the reasons) and the cardiomegaly call (:func:`ctr_call`): ``CTR > 0.5`` on PA films; no call
when QC fails, when the heart is wider than the thorax, or on AP films (the AP projection
magnifies the heart, so the PA cut-off overestimates it) unless a cut-off is given. The view
comes from ``view`` (``--view``), a ``view`` column of ``--csv``, or the DICOM
``ViewPosition``; unknown is read as PA and said so.

Checks, in this order, before any work: the arguments (``alpha`` in [0, 1], ``image_size``),
the output folder (a folder, or one that can be created, and writable:
:func:`heartcv.files.check_output_dir`; it is created only when the results are written),
the image (read, at least 8×8 pixels, no multi-page TIFF or all-NaN pixels:
:mod:`heartcv.data.images`), and only then the model (loading takes seconds) and whether the
image can be given to it (:func:`check_model_channels`).
"""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path

import numpy as np

FULL = "full"
SIZE_SOURCES = ("option", "card", "model", "image")
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
VIEWS = ("PA", "AP")
QC_COLOURS = {"ok": (40, 200, 60), "review": (250, 170, 0), "fail": (230, 40, 40)}


def check_view(view):
    """``None``, ``"PA"`` or ``"AP"`` (any case); anything else is a ValueError."""
    if view is None or (isinstance(view, str) and not view.strip()):
        return None
    if isinstance(view, str) and view.strip().upper() in VIEWS:
        return view.strip().upper()
    raise ValueError(f"Expected a view in {list(VIEWS)} (or none). Received: view={view!r}")


def check_ctr_threshold(threshold):
    """``None`` or a cut-off in (0, 1)."""
    if threshold is None:
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or not math.isfinite(threshold) or not 0 < threshold < 1:
        raise ValueError(f"Expected a CTR cut-off in (0, 1). Received: ctr_threshold={threshold!r}")
    return float(threshold)


def dicom_view(path):
    """The DICOM ``ViewPosition`` (``"PA"``/``"AP"``) of ``path``, or ``None``.

    ``None`` for files that are not DICOM, without the tag, or with another value (``LL``,
    ``LATERAL``: those are not frontal films, and QC will say so).
    """
    if Path(str(path)).suffix.lower() not in (".dcm", ".dicom", ""):
        return None
    try:
        import pydicom

        ds = pydicom.dcmread(str(path), stop_before_pixels=True)
        value = str(ds.get("ViewPosition", "") or "").strip().upper()
    except Exception:  # noqa: BLE001 - not DICOM, or unreadable: the reader will say so
        return None
    return value if value in VIEWS else None


def ctr_call(value, *, qc_status="ok", flags=(), view=None, ctr_threshold=None):
    """The cardiomegaly call of one CTR: ``(call or None, cut-off or None, note)``.

    No call when the CTR is missing, the heart is wider than the thorax, QC fails, or the
    film is AP and no cut-off was given. Otherwise ``value > cut-off`` with the given cut-off,
    else :data:`heartcv.ctr.CARDIOMEGALY_THRESHOLD` (a PA rule; an unknown view is read as PA).
    """
    from heartcv.ctr import CARDIOMEGALY_THRESHOLD

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


def read_card(model_path) -> dict:
    """The result card written beside a model (``<stem>.card.json`` or ``model.card.json``)."""
    model_path = Path(model_path)
    for cand in (model_path.with_suffix(".card.json"), model_path.parent / "model.card.json"):
        if cand.is_file():
            try:
                card = json.loads(cand.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise ValueError(f"{cand}: not a readable model card ({err})") from None
            return card if isinstance(card, dict) else {}
    return {}


def check_image_size(image_size):
    """``None``, a positive int, or ``"full"``; ``ValueError`` otherwise."""
    if image_size is None or image_size == FULL:
        return image_size
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool) \
            and image_size >= 1:
        return int(image_size)
    raise ValueError("Expected `image_size` as a positive int, 'full' or None. "
                     f"Received: image_size={image_size!r}")


def check_alpha(alpha) -> float:
    """The overlay intensity as a float in [0, 1]; ``ValueError`` otherwise (NaN included)."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) \
            or not math.isfinite(float(alpha)) or not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"Expected `alpha` (--alpha) in [0, 1]. Received: alpha={alpha!r}")
    return float(alpha)


def check_model_channels(input_shape, image_path, model_name="the model"):
    """Refuse a model whose input channels a read image cannot be converted to.

    Images are read grey and repeated to 1 or 3 channels (interchangeable for grey
    radiographs). A 13-channel model (the five-class ECG paper) takes the 13-lead volumes of
    ``heartcv prep ecg_khan --leads``, not one image; any other count is refused too.
    """
    c = input_shape[-1]
    if c in (None, 1, 3):
        return
    if c == 13:
        raise ValueError(f"{model_name} takes 13-channel inputs (the 13-lead volumes of "
                         "`heartcv prep ecg_khan --leads`), not one image; evaluate it on a "
                         f"lead bundle instead. Received: image={str(image_path)!r}")
    raise ValueError(f"{model_name} takes {c}-channel inputs; an image converts only to 1 or 3 "
                     f"channels. Received: image={str(image_path)!r}")


def _card_size(card):
    size = card.get("input_size")
    if size is None:
        return None
    h, w = (size, size) if isinstance(size, int) else size
    return int(h), int(w)


def resolve_input_size(input_shape, card, image_hw, image_size=None, *, model_name="the model"):
    """The ``(height, width)`` a model runs at for one image, and where it came from.

    Args:
        input_shape: the model's input shape ``(None, H, W, C)`` (``H``, ``W`` may be None).
        card: the model card (:func:`read_card`; ``{}`` when there is none).
        image_hw: the image's own ``(height, width)``.
        image_size: ``None`` (card, else model, else image), an int ``N`` (N×N) or
            ``"full"`` (the image's own size; fully convolutional models only).
        model_name: how error messages name the model.

    Returns:
        ``((height, width), source)`` with ``source`` one of :data:`SIZE_SOURCES`.

    Raises:
        ValueError: a size the model cannot take (``"full"`` or another ``N`` for a model
            with a fixed input size).
    """
    image_size = check_image_size(image_size)
    mh, mw = input_shape[1], input_shape[2]
    fixed = (mh, mw) if mh is not None and mw is not None else None
    if image_size is None:
        card_hw = _card_size(card)
        if card_hw is not None and (fixed is None or card_hw == fixed):
            return card_hw, "card"
        if fixed is not None:
            return fixed, "model"
        return tuple(int(s) for s in image_hw[:2]), "image"
    if fixed is not None and image_size == FULL:
        raise ValueError(f"--image-size full needs a fully convolutional model (input shape "
                         f"(None, None, C)); {model_name} takes only {mh}x{mw} images. "
                         "Received: image_size='full'")
    hw = tuple(int(s) for s in image_hw[:2]) if image_size == FULL else (image_size, image_size)
    if fixed is not None and hw != fixed:
        raise ValueError(f"{model_name} takes only {mh}x{mw} images. "
                         f"Received: image_size={image_size}")
    return hw, "option"


def prepare_image(image: np.ndarray, input_shape, size=None) -> np.ndarray:
    """Grey/RGB uint8 image → (1, H, W, C) float32 in [0, 255] at ``size`` (height, width).

    ``size`` defaults to the model's fixed input size (the image's own size when it has
    none). Resizing is :func:`heartcv.data.images.resize_image` (area when shrinking).
    """
    from heartcv.data.images import resize_image

    img = image if image.ndim == 3 else image[..., None]
    if size is None:
        size = (input_shape[1] or img.shape[0], input_shape[2] or img.shape[1])
    if img.shape[:2] != tuple(size):
        img = resize_image(img, tuple(size))
    c = input_shape[-1] or 3
    if img.shape[-1] != c:
        img = np.repeat(img[..., :1], c, axis=-1)
    return img[None].astype(np.float32)


def heatmap_for(model, x: np.ndarray, method: str = "auto") -> tuple[str, np.ndarray]:
    """(method name, (H, W) map in [0, 1]) for one prepared image ``x`` (1, H, W, C).

    ``auto``: the AMM attention map for Cardio-XAttentionNet models, else Grad-CAM.
    """
    from heartcv import explain
    from heartcv.models.blocks import ATTENTION_LAYER

    has_attention = any(layer.name == ATTENTION_LAYER for layer in model.layers)
    if method == "auto":
        method = "attention" if has_attention else "gradcam"
    if method == "attention":
        if not has_attention:
            raise ValueError("--method attention needs a Cardio-XAttentionNet (cxa_*) model.")
        return "AMM attention", explain.attention_maps(model, x)[1][0]
    if method in ("gradcam", "gradcam++"):
        return ("Grad-CAM++" if method == "gradcam++" else "Grad-CAM",
                explain.gradcam(model, x, plus=method == "gradcam++")[0])
    if method == "saliency":
        return "saliency", explain.saliency(model, x)[0]
    if method == "deep_taylor":
        return "deep Taylor", explain.deep_taylor(model, x)[0]
    raise ValueError(f"Expected `method` in ('auto', 'attention', 'gradcam', 'gradcam++', "
                     f"'saliency', 'deep_taylor'). Received: method={method!r}")


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
    import cv2

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
    import cv2

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
    from heartcv.ctr import ctr_from_prediction
    from heartcv.qc import check_anatomy

    if not _has_ctr_structures(names):
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
    from heartcv.data.images import resize_image

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


def _has_ctr_structures(names) -> bool:
    from heartcv.ctr import STRUCTURES

    return all(s in names for s in STRUCTURES)


def _grey_model_input(x):
    """The ``(h, w)`` grey image of a prepared model input ``(1, h, w, C)``."""
    x = np.asarray(x, np.float32)[0]
    return x[..., 0] if x.shape[-1] == 1 else x.mean(axis=-1)


def _classification(model, x, out, card, method, alpha, image):
    """(result fields, overlay RGB) for one classifier output."""
    from heartcv.callbacks import overlay_heatmap

    probs = np.asarray(out, np.float32)[0]
    names = card.get("class_names") or [f"class_{i}" for i in range(len(probs))]
    if len(probs) == 1 and len(names) == 2:
        names = names[1:]
    label, heat = heatmap_for(model, x, method)
    fields = {"probabilities": {n: float(p) for n, p in zip(names, probs.ravel())},
              "heatmap": {"method": label, "shape": list(heat.shape), "overlay_alpha": alpha}}
    return fields, overlay_heatmap(image, heat, alpha=alpha)  # resized to the image's size


def predict_image(image_path, model_path, *, out_dir=".", method="auto", alpha=0.2,
                  image_size=None, view=None, ctr_threshold=None, tta=True) -> dict:
    """Probabilities (or masks) for one image, drawn on the image at its own size.

    Writes ``<image>.prediction.json`` and ``<image>.overlay.png`` in ``out_dir``
    (atomically: both or neither; ``out_dir`` is created if missing). Classifiers: probabilities and a heatmap (the AMM attention map for
    Cardio-XAttentionNet models, else Grad-CAM, or ``method``) overlaid at ``alpha``.
    Segmentation models: the masks, each structure's area and, with heart and both lungs,
    the CTR (see the module docstring). Images: PNG/JPG/BMP/TIFF (grey, RGB, RGBA, 8 or
    16 bit) and DICOM.

    Args:
        alpha: heatmap overlay intensity in [0, 1] (:func:`check_alpha`).
        image_size: ``None`` (the card's input size, else the model's, else the image's),
            an int ``N`` (N×N) or ``"full"`` (the image's own size; fully convolutional
            models only). The result's ``image_size_source`` says which was used.
        view: ``"PA"``, ``"AP"`` or ``None`` (then the DICOM ``ViewPosition``, else unknown,
            read as PA); ctr_threshold: a CTR cut-off (see :func:`ctr_call`).
        tta: heart + lungs models: also predict the :data:`heartcv.qc.TTA_VIEWS` (one model
            call) for the CTR's interval.

    Raises:
        ValueError: a bad argument, an image that cannot be read or is smaller than 8×8, a
            model the image cannot be given to (see the module docstring), or an output
            folder that is a file or not writable (:class:`heartcv.files.OutputPathError`,
            also an ``OSError``; so is a failed write, e.g. a full disk).
        FileNotFoundError: the image or the model does not exist.
    """
    from heartcv.data.images import check_min_size, read_image
    from heartcv.files import atomic_path, check_output_dir, check_output_file, write_image
    from heartcv.io import load_model

    alpha = check_alpha(alpha)
    image_size = check_image_size(image_size)
    view = check_view(view) or dicom_view(image_path)
    ctr_threshold = check_ctr_threshold(ctr_threshold)
    out_dir = check_output_dir(out_dir)
    stem = Path(image_path).stem
    targets = (out_dir / f"{stem}.overlay.png", out_dir / f"{stem}.prediction.json")
    for target in targets:
        check_output_file(target)
    image = check_min_size(read_image(image_path, grey=True), image_path)
    card = read_card(model_path)
    model = load_model(model_path)
    model_name = f"{Path(model_path).name} ({model.name})"
    check_model_channels(model.input_shape, image_path, model_name)
    size, source = resolve_input_size(model.input_shape, card, image.shape[:2], image_size,
                                      model_name=model_name)
    x = prepare_image(image, model.input_shape, size)
    names = structure_names(card, model.output_shape[-1]) \
        if len(model.output_shape) == 4 else None
    with_tta = bool(tta) and names is not None and _has_ctr_structures(names)
    if with_tta:
        from heartcv.qc import tta_ctr_interval, tta_inputs

        views = model.predict(tta_inputs(x), verbose=0)
        views = views[0] if isinstance(views, (list, tuple)) else views
        out, interval = views[:1], tta_ctr_interval(views, names, 1)[0]
    else:
        out = model.predict(x, verbose=0)
        out = out[0] if isinstance(out, (list, tuple)) else out
        interval = None
    result = {"image": str(image_path), "model": str(model_path),
              "image_shape": list(image.shape[:2]), "model_input": list(x.shape[1:3]),
              "image_size": list(size), "image_size_source": source}
    if np.ndim(out) == 4:
        if method not in ("auto", None):
            raise ValueError(f"{Path(model_path).name} is a segmentation model: it draws its "
                             f"masks, not a heatmap. Received: method={method!r}")
        fields, picture = segmentation_result(image, out[0],
                                              structure_names(card, np.shape(out)[-1]),
                                              model_image=_grey_model_input(x), tta=interval,
                                              view=view, ctr_threshold=ctr_threshold)
    else:
        fields, picture = _classification(model, x, out, card, method, alpha, image)
    result.update(fields)
    result["written"] = [str(targets[1]), str(targets[0])]
    record = {k: v for k, v in result.items() if k != "written"}
    # both files or neither: each is renamed into place only when both were written
    with atomic_path(targets[0]) as tmp_png, atomic_path(targets[1]) as tmp_json:
        write_image(tmp_png, picture[..., ::-1], targets[0])
        tmp_json.write_text(json.dumps(record, indent=2, default=float), encoding="utf-8")
    return result


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


# ------------------------------------------------------------------ many images (batch mode)

PREDICTIONS_CSV = "predictions.csv"
SKIPPED_CSV = "skipped.csv"
DEFAULT_BATCH_SIZE = 16
DEFAULT_THRESHOLD = 0.5
_GLOB_CHARS = "*?["
_OVERLAY_SUFFIX = ".overlay.png"  # heartcv's own outputs, never taken as inputs from a folder


def _is_image_name(path: Path) -> bool:
    from heartcv.data.images import SUPPORTED_EXTENSIONS

    return (path.suffix.lower() in SUPPORTED_EXTENSIONS and not path.name.startswith(".")
            and not path.name.endswith(_OVERLAY_SUFFIX))


def _folder_images(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(p for p in found if p.is_file() and _is_image_name(p))


def _csv_paths(csv_path) -> list[str]:
    import csv

    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"CSV file not found: {csv_path}")
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "path" not in reader.fieldnames:
            raise ValueError(f"Expected a `path` column in {csv_path}. "
                             f"Received: columns={reader.fieldnames or []}")
        rows = [(row.get("path") or "").strip() for row in reader]
    return [str(p if p.is_absolute() else csv_path.parent / p)
            for p in (Path(r) for r in rows if r)]


DUPLICATE = "duplicate"
CSV_FOLDER = "a folder, not an image file (a --csv row names one image)"


def collect_inputs(paths=(), *, recursive=False, csv=None):
    """The image files named by ``paths`` and ``csv``, in order, and each input not taken.

    Each of ``paths`` is a file (taken whatever its extension: reading it decides), a folder
    (its PNG/JPG/BMP/TIFF/DICOM files, sorted; with ``recursive`` its sub-folders too; hidden
    files and heartcv's own ``*.overlay.png`` are left out) or a glob pattern the shell did
    not expand (``**`` needs ``recursive``). ``csv`` is a CSV file with a ``path`` column,
    one image per row (a row naming a folder is not expanded); relative paths are relative
    to the CSV's folder.

    Every input is accounted for once: each file found is in ``files`` or, with a reason,
    in ``missing``: ``"file not found"``, ``"no file matches this pattern"``, ``"a folder
    with no image files"``, :data:`CSV_FOLDER` (a CSV row naming a folder), or
    :data:`DUPLICATE` (a file already taken, named again by the same or another path,
    folder or pattern: it is predicted once, at its first place, and each repeat is listed
    as skipped, not predicted again).

    Returns:
        ``(files, missing)``: the files (``Path``) and ``(path, reason)`` pairs.

    Raises:
        FileNotFoundError: ``csv`` does not exist.
        ValueError: ``csv`` has no ``path`` column.
    """
    import glob

    files, missing, seen = [], [], set()

    def add(path: Path):
        key = Path(path).resolve()
        if key in seen:
            missing.append((str(path), DUPLICATE))
        else:
            seen.add(key)
            files.append(Path(path))

    named = [*((str(p), False) for p in paths),
             *((row, True) for row in (_csv_paths(csv) if csv is not None else []))]
    for arg, from_csv in named:
        path = Path(arg)
        if path.is_dir():
            if from_csv:
                missing.append((arg, CSV_FOLDER))
                continue
            found = _folder_images(path, recursive)
            if not found:
                missing.append((arg, "a folder with no image files" + (
                    "" if recursive else " (--recursive: sub-folders too)")))
            for f in found:
                add(f)
        elif path.exists():
            add(path)
        elif any(c in arg for c in _GLOB_CHARS):
            matches = sorted(glob.glob(arg, recursive=recursive))
            if not matches:
                missing.append((arg, "no file matches this pattern"))
            for m in map(Path, matches):
                for f in (_folder_images(m, recursive) if m.is_dir() else [m]):
                    if f.is_file() and (m.is_dir() or not f.name.startswith(".")):
                        add(f)
        else:
            missing.append((arg, "file not found"))
    return files, missing


def _card_threshold(card, names):
    """The card's decision threshold(s) as one float per output, or ``None``.

    Accepted: ``threshold`` (or ``decision_threshold``) as a number, a list with one number
    per output, or a mapping from class name to number. (Cards written by
    :func:`heartcv.train.write_card` store none today; the defaults then apply.)
    """
    for key in ("threshold", "decision_threshold"):
        t = card.get(key)
        if isinstance(t, numbers.Real) and not isinstance(t, bool) and math.isfinite(t):
            return [float(t)] * len(names)
        if isinstance(t, list) and len(t) == len(names) \
                and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in t):
            return [float(v) for v in t]
        if isinstance(t, dict) and all(n in t for n in names):
            return [float(t[n]) for n in names]
    return None


def _classifier_task(model, card, k):
    """``binary``, ``multiclass`` or ``multilabel`` for a classifier with ``k`` outputs."""
    task = card.get("task")
    if task in ("binary", "multiclass", "multilabel"):
        return "binary" if k == 1 else task
    if k == 1:
        return "binary"
    activation = getattr(getattr(model.layers[-1], "activation", None), "__name__", "")
    return "multiclass" if activation == "softmax" else "multilabel"


def _class_names(card, k):
    names = card.get("class_names") or [f"class_{i}" for i in range(k)]
    if k == 1 and len(names) == 2:
        return list(names[1:]), names[0]
    names = list(names) if len(names) == k else [f"class_{i}" for i in range(k)]
    return names, None


class _Decision:
    """How a classifier's probabilities become a call (card threshold, 0.5 or argmax)."""

    def __init__(self, model, card, k):
        self.names, self.negative = _class_names(card, k)
        self.task = _classifier_task(model, card, k)
        self.thresholds = None
        if self.task == "multiclass":
            self.source = "argmax"
        else:
            self.thresholds = _card_threshold(card, self.names)
            self.source = "card" if self.thresholds is not None else "default"
            if self.thresholds is None:
                self.thresholds = [DEFAULT_THRESHOLD] * len(self.names)

    def describe(self) -> str:
        if self.task == "multiclass":
            return "call: the most probable class (argmax)"
        ts = ", ".join(f"{t:g}" for t in sorted(set(self.thresholds)))
        return f"call: probability >= {ts} ({'the card' if self.source == 'card' else 'default; the card has no threshold'})"

    def columns(self):
        return [*self.names, "predicted", "threshold"]

    def row(self, probs):
        probs = [float(p) for p in np.ravel(probs)]
        if self.task == "multiclass":
            call, threshold = self.names[int(np.argmax(probs))], ""
        elif self.task == "binary":
            positive = probs[0] >= self.thresholds[0]
            call = self.names[0] if positive else (self.negative or f"not {self.names[0]}")
            threshold = f"{self.thresholds[0]:g}"
        else:
            call = ";".join(n for n, p, t in zip(self.names, probs, self.thresholds) if p >= t)
            threshold = ";".join(f"{t:g}" for t in self.thresholds)
        return [*(repr(p) for p in probs), call, threshold]


def _segmentation_columns(names):
    return ["ctr", "ctr_low", "ctr_high", "cardiomegaly", "cardiomegaly_threshold", "qc",
            "qc_reasons", "view", "call_note", "ctr_flags", *(f"{n}_area_px" for n in names),
            *(f"{n}_area_fraction" for n in names), "measured_at"]


def _num(value):
    return "" if value is None else repr(float(value))


def _segmentation_row(fields):
    ctr = fields["ctr"]
    if ctr is None:
        head = ["", "", "", "", "", "", "", "", "",
                "not measured (needs heart, left_lung and right_lung)"]
    else:
        head = [_num(ctr["value"]), _num(ctr["low"]), _num(ctr["high"]),
                "" if ctr["cardiomegaly"] is None else str(bool(ctr["cardiomegaly"])),
                _num(ctr["cardiomegaly_threshold"]), ctr["qc"], ";".join(ctr["qc_reasons"]),
                ctr["view"] or "", ctr["call_note"], ";".join(ctr["flags"])]
    s = fields["structures"]
    return [*head, *(str(s[n]["area_px"]) for n in s),
            *(repr(float(s[n]["area_fraction"])) for n in s),
            "x".join(map(str, fields["measure_size"]))]


def csv_views(csv_path) -> dict:
    """``{path as collect_inputs gives it: view}`` from a ``view`` column of ``csv_path``.

    Empty when the CSV has no ``view`` column. Raises ValueError on a value other than
    PA/AP/empty, naming the row.
    """
    import csv

    csv_path = Path(csv_path)
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "view" not in reader.fieldnames:
            return {}
        out = {}
        for line, row in enumerate(reader, start=2):
            path = (row.get("path") or "").strip()
            if not path:
                continue
            try:
                view = check_view(row.get("view"))
            except ValueError:
                raise ValueError(f"{csv_path}: line {line}: view {row.get('view')!r} is not "
                                 f"PA, AP or empty") from None
            p = Path(path)
            out[str(p if p.is_absolute() else csv_path.parent / p)] = view
    return out


def _bundle_items(data, split):
    """``(names, reader)`` of a bundle split: image ids and ``reader(i)`` → grey image."""
    from heartcv.data.bundle import open_bundle

    bundle = open_bundle(data)
    splits = np.asarray(bundle.split).astype(str)
    index = np.flatnonzero(splits == split) if split != "all" else np.arange(len(splits))
    if len(index) == 0:
        have = sorted(set(splits.tolist()))
        bundle.close()
        raise ValueError(f"{data} has no images in split {split!r} (splits: {have}, or 'all'). "
                         f"Received: split={split!r}")
    if bundle.images.shape[-1] not in (1, 3):
        bundle.close()
        raise ValueError(f"{data} holds {bundle.images.shape[-1]}-channel images, not "
                         "radiographs; evaluate it with `heartcv evaluate` instead.")
    ids = np.asarray(bundle.image_id).astype(str)
    import threading

    lock = threading.Lock()

    def read(i):
        import cv2

        with lock:  # h5py reads one at a time anyway
            img = np.asarray(bundle.images[int(i)])
        return img[..., 0] if img.shape[-1] == 1 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)

    return bundle, [(str(ids[i]), i) for i in index], read


def _decoded(items, load, jobs, window):
    """``(item, image, error)`` for each item in order, ``jobs`` threads reading ahead."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    def safe(item):
        try:
            return item, load(item), None
        except (ValueError, OSError, ImportError) as err:  # what read_image and the checks raise
            return item, None, err

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        pending = deque()
        for item in items:
            pending.append(pool.submit(safe, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _reason(err) -> str:
    """One line: an :class:`~heartcv.data.images.ImageReadError`'s reason, else the message."""
    if getattr(err, "reason", None):
        return err.reason
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _overlay_name(name: str, used: set) -> str:
    import re

    stem = re.sub(r"[^\w.\-]+", "_", Path(name).stem) or "image"
    candidate, n = stem, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}-{n}"
    used.add(candidate)
    return f"{candidate}{_OVERLAY_SUFFIX}"


def _rows_csv(header, rows) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def predict_batch(inputs=(), model_path=None, *, out_dir=".", missing=(), data=None,
                  split="test", image_size=None, batch_size=DEFAULT_BATCH_SIZE, jobs=None,
                  overlays=False, method="auto", alpha=0.2, progress=True, view=None,
                  views=None, ctr_threshold=None, tta=True) -> dict:
    """Predict many images with one model load; write ``predictions.csv`` and ``skipped.csv``.

    Images are read in parallel (``jobs`` threads; :func:`heartcv.data.images.read_image`
    and :func:`~heartcv.data.images.check_min_size`, as :func:`predict_image` reads them),
    brought to the size :func:`resolve_input_size` gives (the card's ``input_size`` puts
    every image at one size) in the same threads, grouped by that size and predicted
    ``batch_size`` at a time; every model call has exactly ``batch_size`` rows (the last batch
    and the test-time-augmentation views are padded), so the model is traced once per input
    size. Segmentation results (masks, areas, CTR, QC, overlay) are made by a pool of
    ``jobs`` threads while the model predicts the next batch (OpenCV releases the GIL).

    ``predictions.csv`` (rows in input order): ``path`` (the file, or the bundle's image
    id), then for classifiers one column per class probability, ``predicted`` (the call:
    the card's ``threshold`` when it stores one, else ``p >= 0.5`` for binary and
    multilabel models, the argmax for multiclass ones) and ``threshold``; for segmentation
    models ``ctr``, ``ctr_low``/``ctr_high`` (the test-time-augmentation interval),
    ``cardiomegaly`` (empty: no call, see ``call_note``), ``cardiomegaly_threshold``, ``qc``
    (ok / review / fail), ``qc_reasons``, ``view``, ``call_note``, ``ctr_flags``, each
    structure's ``<name>_area_px`` (in the image's pixels) and ``<name>_area_fraction``, and
    ``measured_at``: the ``HxW`` at which the masks were measured (:func:`measure_size`: the
    image's own size, or its longer side 512 px; areas and widths are scaled from it); with
    ``overlays``, an ``overlay`` column. ``skipped.csv``: ``path, reason`` for every input
    that was not predicted (unreadable: corrupt, empty, too small, multi-page TIFF, a
    folder, ...; missing; a ``duplicate`` of an earlier input: :func:`collect_inputs`), so
    each input is in exactly one of the two files; a skipped image never stops the run. Both
    files are written atomically when all images are done; each overlay (``overlays``: the
    heatmap or mask overlay :func:`predict_image` draws, as ``<stem>.overlay.png``, ``-2``,
    ``-3`` … added when stems repeat) as it is made.

    Args:
        inputs: image files (:func:`collect_inputs`).
        model_path: the model (and its card beside it), loaded once.
        missing: ``(path, reason)`` pairs to list as skipped (from :func:`collect_inputs`).
        data, split: a bundle and its split (``"all"`` for every image) to predict as well;
            its image ids name the rows.
        jobs: reading threads (default: the CPU count, at most 8).
        method, alpha: the heatmap of the overlays (as :func:`predict_image`).
        progress: show a tqdm progress bar (stderr).
        view: ``"PA"``/``"AP"`` for every image; views: ``{path: view}`` per image (a CSV's
            ``view`` column, :func:`csv_views`); else each DICOM's ``ViewPosition``.
        ctr_threshold, tta: as :func:`predict_image`.

    Returns:
        dict with ``n_inputs``, ``n_predicted``, ``skipped`` (``(path, reason)`` list),
        ``task``, ``decision`` (how calls were made), ``image_sizes`` (count per model input
        size) and ``written`` (the files written).

    Raises:
        ValueError: a bad argument, an unreadable model card or bundle, a model the images
            cannot be given to, an output folder that cannot be written.
        FileNotFoundError: the model (or bundle) does not exist.
    """
    import os
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from heartcv.data.images import check_min_size, read_image
    from heartcv.files import atomic_write_image, atomic_write_text, check_output_dir, \
        check_output_file
    from heartcv.io import load_model

    alpha = check_alpha(alpha)
    image_size = check_image_size(image_size)
    view = check_view(view)
    ctr_threshold = check_ctr_threshold(ctr_threshold)
    views = {str(k): check_view(v) for k, v in (views or {}).items()}
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError(f"Expected `batch_size` as a positive int. Received: batch_size={batch_size!r}")
    jobs = min(8, os.cpu_count() or 1) if jobs is None else jobs
    if isinstance(jobs, bool) or not isinstance(jobs, numbers.Integral) or jobs < 1:
        raise ValueError(f"Expected `jobs` as a positive int. Received: jobs={jobs!r}")
    out_dir = check_output_dir(out_dir)
    targets = {"predictions": out_dir / PREDICTIONS_CSV, "skipped": out_dir / SKIPPED_CSV}
    for target in targets.values():
        check_output_file(target)
    items = [(str(p), p) for p in inputs]
    bundle, reader = None, None
    if data is not None:
        bundle, bundle_items, reader = _bundle_items(data, split)
        items += [(name, ("bundle", i)) for name, i in bundle_items]
    skipped = [(str(p), r) for p, r in missing]
    if not items:
        raise ValueError("No input images found" + (f" ({skipped[0][0]}: {skipped[0][1]})"
                                                    if skipped else ""))
    try:
        card = read_card(model_path)
        model = load_model(model_path)
        model_name = f"{Path(model_path).name} ({model.name})"
        check_model_channels(model.input_shape, items[0][0], model_name)
        # the size arguments are checked once, not image by image
        resolve_input_size(model.input_shape, card, (64, 64), image_size, model_name=model_name)
        segmentation = len(model.output_shape) == 4 if not isinstance(model.output_shape, list) \
            else len(model.output_shape[0]) == 4
        if segmentation and method not in ("auto", None):
            raise ValueError(f"{Path(model_path).name} is a segmentation model: it draws its "
                             f"masks, not a heatmap. Received: method={method!r}")

        def load(item):
            """Read, check and bring one input to the model's size (in a reading thread)."""
            _, src = item
            image = reader(src[1]) if isinstance(src, tuple) else read_image(src, grey=True)
            image = check_min_size(image, item[0])
            size, _ = resolve_input_size(model.input_shape, card, image.shape[:2], image_size,
                                         model_name=model_name)
            return image, size, prepare_image(image, model.input_shape, size)

        rows, sizes, used = {}, {}, set()
        state = {"columns": None, "decision": None, "names": None}
        groups = {}
        pending = deque()  # futures of segmentation rows, in submission order

        if segmentation:
            state["names"] = structure_names(card, model.output_shape[-1])
        with_tta = bool(tta) and segmentation and _has_ctr_structures(state["names"])

        def call_model(x):
            """One model call of exactly ``batch_size`` rows (padded), so one trace."""
            n = len(x)
            if n < batch_size:
                x = np.concatenate([x, np.repeat(x[-1:], batch_size - n, axis=0)])
            out = model.predict_on_batch(x)
            out = out[0] if isinstance(out, (list, tuple)) else out
            return np.asarray(out)[:n]

        def segmentation_row(idx, name, image, pred, x, view_preds, target):
            """``(idx, row)`` of one segmentation prediction (in a post-processing thread)."""
            from heartcv.qc import tta_ctr_interval

            interval = None if view_preds is None else \
                tta_ctr_interval(view_preds, state["names"], 1)[0]
            fields, picture = segmentation_result(
                image, pred, state["names"], draw=target is not None,
                model_image=_grey_model_input(x), tta=interval,
                view=views.get(name) or view or dicom_view(name), ctr_threshold=ctr_threshold)
            row = _segmentation_row(fields)
            if target is not None:
                atomic_write_image(target, picture[..., ::-1])
                row = [*row, str(target)]
            return idx, [name, *row]

        def drain(limit):
            """Collect finished rows, oldest first, until at most ``limit`` are pending."""
            while len(pending) > limit:
                idx, row = pending.popleft().result()
                rows[idx] = row
                bar.update(1)

        def run(group):
            """Predict one batch; segmentation rows are finished by the pool meanwhile."""
            from heartcv.qc import tta_inputs

            batch_items, images, xs = zip(*group)
            x = np.concatenate(xs)
            n = len(x)
            view_out = None
            if with_tta:  # the views of every image, batch_size rows per model call
                view_x = tta_inputs(x)
                view_out = np.concatenate([call_model(view_x[k:k + batch_size])
                                           for k in range(0, len(view_x), batch_size)])
                out = view_out[:n]
            else:
                out = call_model(x)
            for j, (idx, name) in enumerate(batch_items):
                image = images[j]
                target = out_dir / _overlay_name(name, used) if overlays else None
                if segmentation:
                    pending.append(post.submit(
                        segmentation_row, idx, name, image, out[j], xs[j],
                        None if view_out is None else view_out[j::n], target))
                    continue
                if state["decision"] is None:
                    state["decision"] = _Decision(model, card, int(np.prod(out.shape[1:])))
                row = state["decision"].row(out[j])
                if overlays:
                    from heartcv.callbacks import overlay_heatmap

                    _, heat = heatmap_for(model, xs[j], method)
                    atomic_write_image(target, overlay_heatmap(image, heat, alpha=alpha)[..., ::-1])
                    row = [*row, str(target)]
                rows[idx] = [name, *row]
                bar.update(1)
            drain(2 * batch_size)

        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc="predict", unit="img", disable=not progress,
                   dynamic_ncols=True)
        with bar, ThreadPoolExecutor(max_workers=jobs) as post:
            numbered = [(i, item) for i, item in enumerate(items)]
            for (i, item), loaded, err in _decoded(numbered, lambda it: load(it[1]), jobs,
                                                    window=max(2 * batch_size, 4 * jobs)):
                if err is not None:
                    skipped.append((item[0], _reason(err)))
                    bar.update(1)
                    continue
                image, size, x = loaded
                sizes[size] = sizes.get(size, 0) + 1
                group = groups.setdefault(size, [])
                group.append(((i, item[0]), image, x))
                if len(group) >= batch_size:
                    run(groups.pop(size))
            for size in list(groups):
                run(groups.pop(size))
            drain(0)
    finally:
        if bundle is not None:
            bundle.close()
    if segmentation:
        columns = _segmentation_columns(state["names"] or structure_names(card, model.output_shape[-1]))
        decision = ("segmentation: masks at probability > 0.5; cardiomegaly: CTR > "
                    f"{ctr_threshold or 0.5} (no call on QC fail"
                    + (", or on AP films" if ctr_threshold is None else "") + ")"
                    + ("; CTR interval from test-time augmentation" if with_tta else ""))
        task = "segmentation"
    else:
        k = int(np.prod(model.output_shape[1:]))
        dec = state["decision"] or _Decision(model, card, k)
        columns, decision, task = dec.columns(), dec.describe(), dec.task
    header = ["path", *columns, *(["overlay"] if overlays else [])]
    atomic_write_text(targets["predictions"], _rows_csv(header, [rows[i] for i in sorted(rows)]))
    atomic_write_text(targets["skipped"], _rows_csv(["path", "reason"], skipped))
    return {"n_inputs": len(items) + len(missing), "n_predicted": len(rows), "skipped": skipped,
            "task": task, "decision": decision,
            "image_sizes": {"x".join(map(str, s)): n for s, n in sizes.items()},
            "written": [str(targets["predictions"]), str(targets["skipped"])]
            + ([f"{len(rows)} overlays in {out_dir}"] if overlays else [])}

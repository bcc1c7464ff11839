"""Segmentation reports: per-structure Dice/IoU and, with heart and lungs, the CTR.

:func:`segmentation_report` scores thresholded masks image by image (Dice and IoU per
structure: mean, sd, median and the share of images below 0.8) and, when the structures
include ``heart``, ``left_lung`` and ``right_lung``, the cardiothoracic ratio of each
prediction (:mod:`heartcv.ctr`, SCR convention) against the reference CTR: absolute error
(mean, median, max), the AUROC of the predicted CTR for reference CTR > 0.5 with a bootstrap
CI, and how many images the CTR could not be measured on (no heart, no lung). The result is
a JSON-able dict whose keys read ``dice.heart.mean``, ``ctr.mae``, ``ctr.auroc``.

Partial labels: a reference channel holding :data:`heartcv.losses.MISSING_MASK` (any value
above 1) is a structure that image has no reference for. Each structure is scored on the
images that have its reference; a structure no image has is listed in
``unscored_structures``; without a reference CTR (heart and both lungs, or ``ref_ctr``) the
report says ``"ctr": {"measured": false, "reason": ...}``.

:func:`shift_report` runs the same report under the acquisition shifts of
:mod:`heartcv.evaluation.shifts` (dimmed, gamma, contrast, blur, noise, JPEG, low
resolution), the ImageNet-C idea for radiographs.
"""

from __future__ import annotations

import numpy as np

from heartcv.ctr import STRUCTURES as CTR_STRUCTURES
from heartcv.ctr import ctr_batch
from heartcv.evaluation.roc import auroc, bootstrap_counts, percentile_ci, weighted_auc
from heartcv.evaluation.shifts import evaluate_under_shifts

DICE_FLOOR = 0.8  # "share of images below 0.8": a mask a reader would redraw


def _resize_like(masks, shape):
    import cv2

    if masks.shape[1:3] == tuple(shape):
        return masks
    return np.stack([cv2.resize(m.astype(np.uint8), shape[::-1], interpolation=cv2.INTER_NEAREST)
                     .reshape(shape + masks.shape[3:]) for m in masks])


def _as_4d(a):
    a = np.asarray(a)
    return a[..., None] if a.ndim == 3 else a


def _summary(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "median": float(np.median(v)), "min": float(v.min()),
            "below_0.8": float(np.mean(v < DICE_FLOOR)), "n": int(v.size)}


def dice_iou(true, pred):
    """Per-image Dice and IoU of boolean masks ``(N, H, W)``; an empty pair counts 1."""
    inter = (true & pred).sum(axis=(1, 2))
    tot = true.sum(axis=(1, 2)) + pred.sum(axis=(1, 2))
    union = (true | pred).sum(axis=(1, 2))
    dice = np.where(tot > 0, 2 * inter / np.maximum(tot, 1), 1.0)
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return dice, iou


def ctr_scores(pred_ctr, ref_ctr, *, n_boot=1000, seed=0) -> dict:
    """Error of predicted CTRs against reference CTRs and the AUROC for reference > 0.5.

    Images whose predicted CTR is None (flagged) are counted, not scored.
    """
    pred = np.array([np.nan if c is None else c for c in pred_ctr], dtype=float)
    ref = np.asarray(ref_ctr, dtype=float)
    ok = np.isfinite(pred) & np.isfinite(ref)
    err = np.abs(pred[ok] - ref[ok])
    out = {"n": int(ok.sum()), "n_unmeasured": int((~np.isfinite(pred)).sum()),
           "mae": float(err.mean()) if err.size else float("nan"),
           "median_abs_error": float(np.median(err)) if err.size else float("nan"),
           "max_abs_error": float(err.max()) if err.size else float("nan"),
           "bias": float((pred[ok] - ref[ok]).mean()) if err.size else float("nan"),
           "threshold": 0.5, "n_positive": int((ref[ok] > 0.5).sum())}
    y, s = ref[ok] > 0.5, pred[ok]
    out["auroc"] = auroc(y, s)
    boots = []
    if 0 < y.sum() < y.size:
        rng = np.random.default_rng(seed)
        for counts in bootstrap_counts(y.size, n_boot, rng):
            boots.extend(weighted_auc(y, s, counts.astype(float)))
    out["auroc_ci"] = percentile_ci(boots, 0.95)
    called = s > 0.5
    out["accuracy_at_0.5"] = float(np.mean(called == y)) if y.size else float("nan")
    out["bands"] = ctr_band_bias(pred[ok], ref[ok])
    return out


CTR_BANDS = ((0.0, 0.50), (0.50, 0.55), (0.55, 0.60), (0.60, 0.70), (0.70, 1.01))
"""Reference-CTR bands of :func:`ctr_band_bias` (``[low, high)``); the last takes CTR >= 0.70."""


def ctr_band_bias(pred, ref, bands=CTR_BANDS) -> dict:
    """Signed error (predicted - reference) of the CTR per band of the reference CTR.

    An error that grows with the true CTR (hearts larger than any in training measured too
    small) shows here and not in the mean absolute error, where the many normal hearts hide
    it.

    Returns:
        ``{"<low>-<high>": {"n", "bias", "mae"}}`` for every band, ``bias``/``mae`` NaN where
        the band is empty.
    """
    pred, ref = np.asarray(pred, dtype=float), np.asarray(ref, dtype=float)
    out = {}
    for low, high in bands:
        inside = (ref >= low) & (ref < high)
        err = pred[inside] - ref[inside]
        key = f"{low:.2f}-{min(high, 1.0):.2f}"
        out[key] = {"n": int(inside.sum()),
                    "bias": float(err.mean()) if err.size else float("nan"),
                    "mae": float(np.abs(err).mean()) if err.size else float("nan")}
    return out


def segmentation_report(masks_true, probs, structures, *, ref_ctr=None, threshold=0.5,
                        n_boot=1000) -> dict:
    """Per-structure Dice/IoU and (heart + both lungs) CTR scores of one set of predictions.

    Args:
        masks_true: reference masks ``(N, H, W)`` or ``(N, H, W, K)`` (values > 0.5 are in).
        probs: predicted probabilities ``(N, h, w, K)`` (references are resized to h × w).
        structures: the ``K`` channel names, e.g. ``["heart", "left_lung", "right_lung"]``.
        ref_ctr: reference CTR per image (e.g. the bundle's ``meta/ctr``, measured on the
            masks at their source resolution); None → measured on ``masks_true``.
        threshold: probability threshold of the predicted masks.

    Returns:
        ``{"task", "n_samples", "structures", "dice": {mean, sd, median, below_0.8, <name>:
        {...}}, "iou": {...}, "per_image_dice": [...first structure...],
        "per_structure_dice": {name: [...]}, "ctr": {"measured": true, ...} (when the
        predictions include heart and both lungs), "per_image_ctr": [...]}``; ``dice.mean``
        is the first structure's, as before multi-structure training. With unlabelled
        reference channels (see the module docstring): ``structures`` lists the structures
        scored, ``unscored_structures`` those without any reference, per-image lists hold
        None for the images without that reference, and ``ctr`` may be ``{"measured":
        false, "reason": ...}``.

    Raises:
        ValueError: channel counts that do not match ``structures``, or no reference mask
            for any structure.
    """
    probs = _as_4d(probs)
    raw = _as_4d(masks_true)
    structures = [str(s) for s in structures]
    if probs.shape[-1] != len(structures) or raw.shape[-1] != len(structures):
        raise ValueError(f"Expected {len(structures)} mask channels for structures "
                         f"{structures}. Received: predictions {probs.shape}, "
                         f"references {raw.shape}")
    labelled = raw.max(axis=(1, 2)) <= 1  # (N, K): MISSING_MASK channels are not
    true = _resize_like(raw > 0.5, probs.shape[1:3]) > 0
    pred = probs > threshold
    dice, iou, per = {}, {}, {}
    for k, name in enumerate(structures):
        rows = labelled[:, k]
        if not rows.any():
            continue
        d, i = dice_iou(true[rows, ..., k], pred[rows, ..., k])
        dice[name], iou[name] = _summary(d), _summary(i)
        per[name] = d.round(5).tolist() if rows.all() else _spread(d.round(5), rows)
    if not dice:
        raise ValueError(f"Expected a reference mask for at least one of the structures "
                         f"{structures}. Received: every reference channel unlabelled")
    scored = [s for s in structures if s in dice]
    first = scored[0]
    out = {"task": "segmentation", "n_samples": int(len(probs)), "structures": scored,
           "mask_threshold": threshold,
           "dice": {**{k: v for k, v in dice[first].items()}, **dice},
           "iou": {**{k: v for k, v in iou[first].items()}, **iou},
           "per_image_dice": per[first], "per_structure_dice": per}
    if len(scored) < len(structures):
        out["unscored_structures"] = [s for s in structures if s not in dice]
    if set(CTR_STRUCTURES) <= set(structures):
        out.update(_ctr_part(probs, true, labelled, structures, ref_ctr, threshold, n_boot))
    return out


def _spread(values, rows) -> list:
    """``values`` of the ``rows`` (bool) images, None for the others."""
    it = iter(values.tolist())
    return [next(it) if r else None for r in rows]


def _ctr_part(probs, true, labelled, structures, ref_ctr, threshold, n_boot) -> dict:
    """``ctr`` (scores, or why it was not measured) and ``per_image_ctr`` of the report."""
    pred_rows = ctr_batch(probs, structures, threshold)
    per_image = [None if r["ctr"] is None else round(float(r["ctr"]), 5) for r in pred_rows]
    if ref_ctr is not None:
        ref, source = np.asarray(ref_ctr, dtype=float), "bundle meta/ctr"
    else:
        idx = [structures.index(s) for s in CTR_STRUCTURES]
        have = labelled[:, idx].all(axis=1)
        if not have.any():
            lacking = [s for s, k in zip(CTR_STRUCTURES, idx) if not labelled[:, k].any()]
            what = (f"no reference {' or '.join(lacking)} mask" if lacking else
                    "no image with reference heart, left_lung and right_lung masks together")
            return {"ctr": {"measured": False,
                            "reason": f"{what}: the CTR needs heart and both lungs"},
                    "per_image_ctr": per_image}
        ref_rows = ctr_batch(true.astype(np.float32), structures, 0.5)
        ref = [r["ctr"] if ok and r["ctr"] is not None else np.nan
               for r, ok in zip(ref_rows, have)]
        source = "reference masks at the evaluation size"
    return {"ctr": {"measured": True,
                    **ctr_scores([r["ctr"] for r in pred_rows], ref, n_boot=n_boot),
                    "reference": source, "flags": _flag_counts(pred_rows)},
            "per_image_ctr": per_image}


def _flag_counts(rows) -> dict:
    counts: dict[str, int] = {}
    for r in rows:
        for f in r["flags"]:
            counts[f] = counts.get(f, 0) + 1
    return counts


def shift_report(images, predict_fn, masks_true, structures, *, ref_ctr=None, shifts=None,
                 seed=0, threshold=0.5) -> dict:
    """:func:`segmentation_report` of ``predict_fn(shifted uint8 images)`` for every shift.

    Returns ``{shift name: report without the per-image lists}`` in the suite's order.
    """
    def score(shifted):
        rep = segmentation_report(masks_true, predict_fn(shifted), structures, ref_ctr=ref_ctr,
                                  threshold=threshold, n_boot=200)
        return {k: v for k, v in rep.items() if not k.startswith("per_")}

    return evaluate_under_shifts(images, score, shifts=shifts, seed=seed)


def shift_table(shift_results: dict) -> list[dict]:
    """One row per shift: heart (first structure) Dice, each structure's mean, CTR MAE/AUROC."""
    rows = []
    for name, rep in shift_results.items():
        row = {"shift": name}
        for s in rep["structures"]:
            row[f"dice.{s}.mean"] = rep["dice"][s]["mean"]
            row[f"dice.{s}.below_0.8"] = rep["dice"][s]["below_0.8"]
        if rep.get("ctr", {}).get("measured", False):
            row["ctr.mae"] = rep["ctr"]["mae"]
            row["ctr.auroc"] = rep["ctr"]["auroc"]
            row["ctr.n_unmeasured"] = rep["ctr"]["n_unmeasured"]
        rows.append(row)
    return rows

"""Is a heatmap faithful? Ablation, input-dependence, flip and blank-image checks of a map.

A map drawn over an image says "the model looked here"; these checks ask whether that is
true of the model (does its output depend on the map?) and of the image (does the map move
when the image does?), for the AMM attention map W of Cardio-XAttentionNet (``cxa_*``) and
for the Grad-CAM of its GAP baselines alike (issue 26):

- **constant-map ablation** (:func:`constant_map_ablation`, AMM only): the AUROC with W
  replaced by its per-image mean (:func:`constant_map_model`, a
  :class:`heartcv.layers.SpatialMean` after the attention layer), beside the plain AUROC. A
  classifier that ignores where W is high loses nothing: with a constant W the AMM's
  GAP(A) / GAP(W) (Eq. 9) is plain global average pooling. A GAP model pools uniformly by
  construction: its Grad-CAM is read off the model afterwards and there is no map to ablate.
- **input dependence**: each map's correlation with the mean map of the other images
  (leave-one-out), beside the same number for the heart masks (how much the hearts
  themselves vary); and the **flip test**: the map of the left–right flipped image, flipped
  back, against the map (``flip_follow``: high when the map moves with the anatomy) and the
  map of the flipped image as it is (``flip_stay``: high when it stays in place).
  ``flip_gain = flip_follow - flip_stay`` > 0 says the map follows the (off-centre) heart.
- **blank-input map**: the map of a uniform grey image; a map that still has a pattern there
  (correlated with the mean map) carries a position prior, not evidence from the image.
- **heart correlation** and **mass on the heart after per-map min–max**: Pearson correlation
  of each map with its heart mask (unchanged by min–max), and the share of the min–max
  normalised map's mass on the heart against the heart's area (chance), so a sigmoid map
  with a floor of 0.6 and a Grad-CAM clipped at 0 are scored on the same footing.

Every per-image number comes with a percentile bootstrap CI over images
(:func:`heartcv.localization.bootstrap_column_means`); the ablation's ΔAUROC with DeLong's
paired test. Maps are compared at the images' own size: score them at the training scale
(the default of the Cardio-XAttentionNet experiment) or say which (``--map-size``).

References:
    Adebayo J, Gilmer J, Muelly M, Goodfellow I, Hardt M, Kim B. Sanity checks for saliency
    maps. NeurIPS 2018.
    Jain S, Wallace BC. Attention is not explanation. NAACL 2019 (does the output change
    when the attention is replaced?).
    Innat, Hossain, Mader, Kouzani. A convolutional attention mapping deep neural network for
    classification and localization of cardiomegaly on chest X-rays. Sci Rep 13, 2023.
"""

from __future__ import annotations

import keras
import numpy as np

from heartcv.data.images import resize_image
from heartcv.evaluation._common import to_jsonable
from heartcv.evaluation.delong import delong_test
from heartcv.evaluation.roc import auroc
from heartcv.explain._common import prepare_images, upsample
from heartcv.explain.attention import attention_maps
from heartcv.explain.gradients import gradcam
from heartcv.layers import SpatialMean
from heartcv.localization import bootstrap_column_means, mass_inside
from heartcv.models.blocks import ATTENTION_LAYER

MIN_AUROC_CHANGE = 0.02  # an ablation that moves the AUROC less than this changes nothing
BLANK_PRIOR_CORRELATION = 0.5  # a blank image's map this like the mean map: a position prior
BLANK_LEVEL = 128.0
_FLAT = 1e-6  # a map whose values vary less than this (sd) is flat: no correlation defined


# --------------------------------------------------------------------------- maps
def model_maps(model, images, *, batch_size=8) -> tuple[str, np.ndarray]:
    """The model's own map at the input size: AMM attention W when the model has the
    attention layer (``cxa_*``), else Grad-CAM. Returns ``(method, (N, H, W) float32)``."""
    if map_method(model) == "AMM attention":
        return "AMM attention", attention_maps(model, images, batch_size=batch_size)[1]
    return "Grad-CAM", gradcam(model, images, batch_size=batch_size)


def map_method(model) -> str:
    """``"AMM attention"`` for a model with the AMM attention layer, else ``"Grad-CAM"``."""
    names = {layer.name for layer in model.layers}
    return "AMM attention" if ATTENTION_LAYER in names else "Grad-CAM"


def minmax(maps) -> np.ndarray:
    """Each (h, w) map rescaled to [0, 1] by its own minimum and maximum; a flat map → zeros."""
    m = np.asarray(maps, dtype=np.float64)
    lo = m.min(axis=(1, 2), keepdims=True)
    span = m.max(axis=(1, 2), keepdims=True) - lo
    return np.where(span > 0, (m - lo) / np.where(span > 0, span, 1.0), 0.0)


def map_correlation(maps_a, maps_b) -> np.ndarray:
    """Pearson correlation of each pair of maps over their pixels: (N,) float64.

    ``maps_b`` is resized (bilinear) to the size of ``maps_a``; one (h, w) map is compared
    with each of ``maps_a``. NaN where either map is flat (no correlation is defined).
    """
    a = np.asarray(maps_a, dtype=np.float32)
    b = np.asarray(maps_b, dtype=np.float32)
    if b.ndim == 2:
        b = np.broadcast_to(b, (len(a),) + b.shape)
    if a.ndim != 3 or b.ndim != 3 or len(a) != len(b):
        raise ValueError(f"Expected two stacks of N maps (N, h, w). "
                         f"Received: shapes {np.shape(maps_a)} and {np.shape(maps_b)}")
    b = upsample(b, a.shape[1:])
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    sa, sb = np.sqrt((a * a).mean(axis=1)), np.sqrt((b * b).mean(axis=1))
    ok = (sa > _FLAT) & (sb > _FLAT)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).mean(axis=1) / np.where(ok, sa * sb, 1.0)
    return np.where(ok, np.clip(r, -1.0, 1.0), np.nan)


def mean_map_correlation(maps) -> np.ndarray:
    """Each map's correlation with the mean of the OTHER maps (after per-map min–max): (N,).

    Leave-one-out, so an image does not correlate with itself; NaN for N = 1.
    """
    m = minmax(maps)
    if len(m) < 2:
        return np.full(len(m), np.nan)
    others = (m.sum(axis=0, keepdims=True) - m) / (len(m) - 1)
    return map_correlation(m, others)


# --------------------------------------------------------------------------- ablation
def constant_map_model(model, layer=ATTENTION_LAYER) -> keras.Model:
    """The model with the output of ``layer`` replaced by its per-image spatial mean.

    Shares every weight with ``model`` (``keras.models.clone_model`` with the layers
    themselves, and a :class:`heartcv.layers.SpatialMean` inserted after ``layer``). For a
    ``cxa_*`` model, W becomes constant and the head pools the features uniformly.

    Raises:
        ValueError: if the model has no layer ``layer``.
    """
    names = [x.name for x in model.layers]
    if layer not in names:
        raise ValueError(f"Model {model.name!r} has no layer {layer!r} whose map could be made "
                         f"constant (only Cardio-XAttentionNet models, cxa_*, have the AMM "
                         f"attention layer). Received: layer={layer!r}")

    def call(op, *args, **kwargs):
        out = op(*args, **kwargs)
        if op.name == layer:
            out = SpatialMean(name=f"{layer}_constant")(out)
        return out

    clone = keras.models.clone_model(model, clone_function=lambda op: op, call_function=call)
    return keras.Model(clone.inputs, clone.outputs, name=f"{model.name}_constant_map")


def _scores(model, x, batch_size):
    p = np.asarray(model.predict(x, verbose=0, batch_size=batch_size), dtype=np.float64)
    return p[:, 0] if p.ndim == 2 else p


def constant_map_ablation(model, images, labels, *, layer=ATTENTION_LAYER, scores=None,
                          batch_size=16, min_change=MIN_AUROC_CHANGE) -> dict:
    """AUROC of ``model`` and of :func:`constant_map_model` on the same images.

    Args:
        images: (N, H, W[, C]) in [0, 255], both classes present.
        labels: (N,) binary labels.
        scores: the model's own (N,) probabilities on ``images`` when already computed.
        min_change: the least |ΔAUROC| that counts as the classifier using the map.

    Returns:
        ``{"applicable": False, "note"}`` for a model without ``layer`` (GAP models, whose
        pooling is uniform by construction); else ``auroc``, ``auroc_constant_map``,
        ``difference`` (plain − constant), ``ci``, ``p_value`` (DeLong, paired),
        ``uses_map`` (|difference| >= ``min_change`` and p < 0.05), ``input_size``, ``n``.
    """
    if layer not in {x.name for x in model.layers}:
        return {"applicable": False,
                "note": "no attention layer: the model pools uniformly (a GAP head), so its "
                        "map is read off afterwards and there is no map to make constant"}
    y = np.asarray(labels).ravel() > 0.5
    if y.all() or not y.any():
        return {"applicable": True, "note": "one class only: AUROC undefined"}
    x = prepare_images(model, images)
    p = _scores(model, x, batch_size) if scores is None else np.asarray(scores, np.float64).ravel()
    p_const = _scores(constant_map_model(model, layer), x, batch_size)
    t = delong_test(y, p, p_const, names=(model.name, f"{model.name} (constant W)"))
    diff, pv = t["difference"], t["p_value"]
    # p is NaN only when the difference has zero variance: then the size alone decides
    uses = bool(abs(diff) >= min_change and (not np.isfinite(pv) or pv < 0.05))
    return {"applicable": True, "auroc": float(auroc(y, p)),
            "auroc_constant_map": float(auroc(y, p_const)), "difference": diff, "ci": t["ci"],
            "p_value": pv, "uses_map": uses, "min_change": float(min_change),
            "input_size": list(x.shape[1:3]), "n": int(len(y)),
            "mean_abs_probability_change": float(np.mean(np.abs(p - p_const)))}


# --------------------------------------------------------------------------- map checks
MAP_KEYS = ("mean_map_correlation", "mask_mean_correlation", "excess_mean_map_correlation",
            "flip_follow", "flip_stay", "flip_gain", "heart_correlation", "mass_minmax",
            "area_fraction", "mass_minmax_over_chance")


def map_checks(model, images, *, masks=None, maps=None, n_boot=1000, ci=0.95, seed=0,
               batch_size=8, blank_level=BLANK_LEVEL) -> dict:
    """Input-dependence, flip, blank-image and heart scores of the model's maps on ``images``.

    Args:
        images: (N, H, W[, C]) in [0, 255]: the images whose maps are scored (e.g. the
            cardiomegaly test images), at the scale the maps are scored at.
        masks: optional (N, H', W') heart masks (or rasterised boxes) of those images.
        maps: the model's maps of ``images`` (:func:`model_maps`) when already computed.

    Returns:
        JSON-able dict: ``method``, ``input_size``, ``n_images``, every key of ``MAP_KEYS``
        present as ``{mean, ci, n}`` (the mask-based ones only with ``masks``), ``blank``
        {``correlation_with_mean_map`` (NaN when flat), ``range``, ``flat``,
        ``position_prior``}, ``n_flat_maps``, ``verdict`` {``follows_input``,
        ``position_prior``}, ``thresholds``, ``notes``.
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if maps is None:
        method, heat = model_maps(model, x, batch_size=batch_size)
    else:
        method, heat = map_method(model), np.asarray(maps, dtype=np.float32)
    probes = np.concatenate([x[:, :, ::-1], np.full((1,) + x.shape[1:], blank_level, np.float32)])
    _, probe_maps = model_maps(model, probes, batch_size=batch_size)  # one pass: flipped, blank
    flipped, blank = probe_maps[:-1], probe_maps[-1:]
    n = len(heat)
    follow = map_correlation(heat, np.ascontiguousarray(flipped[:, :, ::-1]))
    stay = map_correlation(heat, flipped)
    cols = {"mean_map_correlation": mean_map_correlation(heat), "flip_follow": follow,
            "flip_stay": stay, "flip_gain": follow - stay}
    scaled = minmax(heat).astype(np.float32)
    if masks is not None:
        m = np.asarray(masks) > 0
        if m.ndim != 3 or len(m) != n:
            raise ValueError(f"Expected `masks` of shape (N={n}, H, W). "
                             f"Received: masks.shape={np.shape(masks)}")
        ref = mean_map_correlation(m.astype(np.float32))
        cols["mask_mean_correlation"] = ref
        cols["excess_mean_map_correlation"] = cols["mean_map_correlation"] - ref
        cols["heart_correlation"] = map_correlation(m.astype(np.float32), heat)
        has_mass = scaled.reshape(n, -1).max(axis=1) > 0
        cols["mass_minmax"] = np.where(has_mass, mass_inside(scaled, m), np.nan)
        cols["area_fraction"] = m.reshape(n, -1).mean(axis=1)
        cols["mass_minmax_over_chance"] = cols["mass_minmax"] - cols["area_fraction"]
    keys = [k for k in MAP_KEYS if k in cols]
    stats = bootstrap_column_means(np.stack([cols[k] for k in keys], axis=1), n_boot=n_boot,
                                   ci=ci, seed=seed)
    out = {"method": method, "input_size": list(x.shape[1:3]), "n_images": n}
    out.update(zip(keys, stats))
    blank_range = float(blank.max() - blank.min())
    flat = bool(blank[0].std() <= _FLAT)
    r_blank = float(map_correlation(minmax(heat).mean(axis=0)[None], blank)[0])
    prior = bool(not flat and np.isfinite(r_blank) and r_blank >= BLANK_PRIOR_CORRELATION)
    out["blank"] = {"correlation_with_mean_map": r_blank, "range": blank_range, "flat": flat,
                    "level": float(blank_level), "position_prior": prior}
    out["n_flat_maps"] = int(np.sum(heat.reshape(n, -1).std(axis=1) <= _FLAT))
    gain = out["flip_gain"]
    low = gain["ci"][0] if np.isfinite(gain["ci"][0]) else gain["mean"]
    out["verdict"] = {"follows_input": bool(np.isfinite(low) and low > 0),
                      "position_prior": prior}
    out["thresholds"] = {"blank_prior_correlation": BLANK_PRIOR_CORRELATION}
    out["notes"] = [
        "follows_input: the flip gain (the flipped image's map flipped back, minus as it is, "
        "each correlated with the map) is above 0, its CI's lower bound when bootstrapped; "
        "the mean-map correlation is for reading beside the heart masks' own "
        "(mask_mean_correlation): a smooth map that tracks the heart exceeds it a little.",
        "mean-map correlations are leave-one-out; heart correlation is Pearson's r of the "
        "map and the mask (min–max does not change it); mass_minmax is the share of the "
        "min–max normalised map on the heart, area_fraction its chance level."]
    return out


def faithfulness_checks(model, images, labels, *, scored=None, masks=None, maps=None,
                        scores=None, train_size=None, ablation_at_map_size=True, n_boot=1000,
                        ci=0.95, seed=0, batch_size=8) -> dict:
    """All checks of one model on one test set: :func:`map_checks` on the ``scored`` images
    and :func:`constant_map_ablation` on all of them, at their size and at ``train_size``.

    Args:
        images: (N, H, W[, C]) test images in [0, 255] at the scale the maps are scored at.
        labels: (N,) binary labels.
        scored: indices of the images whose maps are scored (default: the positives).
        masks: heart masks of the ``scored`` images (optional).
        maps: the model's maps of the ``scored`` images, when already computed.
        scores: the model's (N,) probabilities on ``images``, when already computed.
        train_size: the training image size; when it differs from the images' size, the
            ablation is also run on the images resized to it (where the classifier works).
        ablation_at_map_size: False skips the ablation at the images' own size when it is
            run at ``train_size`` (the demo: one forward pass of every test image at 224 px
            less); ``ablation`` then holds ``{"applicable", "skipped": True}``.

    Returns:
        ``{"maps": map_checks(...), "ablation": {...}, "ablation_at_train_size": {...} or
        absent, "verdict": {classifier_uses_map, follows_input, position_prior}}``.
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    y = np.asarray(labels).ravel() > 0.5
    idx = np.flatnonzero(y) if scored is None else np.asarray(scored, dtype=int)
    out = {"maps": map_checks(model, x[idx], masks=masks, maps=maps, n_boot=n_boot, ci=ci,
                              seed=seed, batch_size=batch_size)}
    applicable = ATTENTION_LAYER in {layer.name for layer in model.layers}
    rescale = bool(train_size) and int(train_size) != x.shape[1]
    if rescale and applicable and not ablation_at_map_size:
        out["ablation"] = {"applicable": True, "skipped": True,
                           "note": "not run at the map size (ablation_at_map_size=False)"}
    else:
        out["ablation"] = constant_map_ablation(model, x, y, scores=scores,
                                                batch_size=batch_size)
    if rescale and applicable:
        small = np.stack([resize_image(im, int(train_size)) for im in x])
        small = small.reshape(small.shape[:3] + (x.shape[-1],))
        out["ablation_at_train_size"] = constant_map_ablation(model, small, y,
                                                              batch_size=batch_size)
    uses = out.get("ablation_at_train_size", out["ablation"]).get("uses_map")
    out["verdict"] = {"classifier_uses_map": uses, **out["maps"]["verdict"]}
    return to_jsonable(out)


def faithfulness_numbers(result: dict) -> dict:
    """The flat numbers of a :func:`faithfulness_checks` result (for ``results.json``).

    ``auroc``, ``auroc_constant_map``, ``auroc_drop`` (plain − constant), ``auroc_drop_p``,
    ``uses_map``, ``size`` (pixels) of the ablation, the same with ``_train_size`` appended
    for the ablation at the training size; the mean of every ``MAP_KEYS`` entry with
    ``_ci_low`` / ``_ci_high``; ``blank_correlation`` (absent when the blank map is flat),
    ``blank_range``; the verdicts as 0/1 (``classifier_uses_map``, ``follows_input``,
    ``position_prior``). Non-finite values are left out.
    """
    out = {}
    for tag, key in (("", "ablation"), ("_train_size", "ablation_at_train_size")):
        a = result.get(key) or {}
        if "auroc" in a:
            out.update({f"auroc{tag}": a["auroc"],
                        f"auroc_constant_map{tag}": a["auroc_constant_map"],
                        f"auroc_drop{tag}": a["difference"], f"auroc_drop{tag}_p": a["p_value"],
                        f"uses_map{tag}": float(a["uses_map"]), f"size{tag}": a["input_size"][0]})
    maps = result["maps"]
    for k in MAP_KEYS:
        if k in maps:
            out[k] = maps[k]["mean"]
            out[f"{k}_ci_low"], out[f"{k}_ci_high"] = maps[k]["ci"]
    out["blank_correlation"] = maps["blank"]["correlation_with_mean_map"]
    out["blank_range"] = maps["blank"]["range"]
    out.update({k: float(v) for k, v in result["verdict"].items() if v is not None})
    return {k: float(v) for k, v in out.items()
            if v is not None and np.isfinite(float(v))}

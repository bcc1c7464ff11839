"""Overlays and figures of explanation maps (Cardio-XAttentionNet Fig. 7–9 style).

Reference:
    Innat et al., Sci Rep 13, 2023: Fig. 7 shows each image beside its attention map; Fig. 8
    superimposes the map on the X-ray "with intensity factor 0.2"; Fig. 9 compares the AMM map
    with the class-activation map of the DenseNet121-GAP baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from heartcv.callbacks import overlay_heatmap as overlay  # noqa: F401  (re-exported)
from heartcv.explain._common import normalize_max, prepare_images, upsample
from heartcv.explain.attention import attention_maps
from heartcv.explain.gradients import feature_tensor, gradcam_raw
from heartcv.models.blocks import ATTENTION_LAYER

ALPHA = 0.2  # the paper's overlay intensity


def _check_alpha(alpha):
    if isinstance(alpha, bool) or not (isinstance(alpha, (int, float)) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"Expected `alpha` in [0, 1]. Received: alpha={alpha!r}")
    return float(alpha)


def _images_uint8(images) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] != 3) or len(x) == 0:
        raise ValueError(f"Expected `images` of shape (N, H, W), (N, H, W, 1) or (N, H, W, 3). "
                         f"Received: images.shape={x.shape}")
    return np.clip(x, 0, 255).astype(np.uint8)


def _map_columns(maps, n):
    items = list(maps.items()) if isinstance(maps, Mapping) else [("map", maps)]
    if not items:
        raise ValueError("Expected at least one map. Received: maps={}")
    out = []
    for label, m in items:
        m = np.asarray(m, dtype=np.float32)
        if m.ndim != 3 or len(m) != n:
            raise ValueError(f"Expected maps of shape (N={n}, h, w). "
                             f"Received: maps[{label!r}].shape={m.shape}")
        out.append((str(label), m))
    return out


def _wrap(text, width):
    import textwrap

    return "\n".join(textwrap.fill(part, width, break_long_words=True) or part
                     for part in str(text).split("\n"))


def save_overlay_grid(images, maps, path, titles=None, alpha=ALPHA, *, dpi=120,
                      panel_titles=None):
    """Write a PNG grid, one row per image: original | map | overlay (paper Fig. 7–9).

    Every panel carries its own short title, wrapped to the panel's width (no title runs
    into its neighbour): the image panel the row title, each map panel its method label
    (and its ``panel_titles`` entry for that image, e.g. the model's probability), each
    overlay panel ``overlay (alpha)``.

    Args:
        images: (N, H, W[, 1 or 3]) in [0, 255].
        maps: (N, h, w) maps in [0, 1] (resized to each image), or a dict ``{label: maps}``
            for several methods side by side (e.g. ``{"AMM": w, "GAP Grad-CAM": cam}``, Fig. 9).
        path: PNG file to write (atomically: temp file in the same folder, then renamed).
        titles: N row titles (e.g. ``"y=1  p=0.93"``), or None.
        alpha: overlay intensity of the JET-coloured map (0.2 in the paper).
        panel_titles: optional ``{label: N strings}`` shown under each map panel's label.

    Returns:
        The written path.
    """
    from matplotlib.figure import Figure

    from heartcv.evaluation._common import atomic_save_figure

    alpha = _check_alpha(alpha)
    imgs = _images_uint8(images)
    n = len(imgs)
    columns = _map_columns(maps, n)
    if titles is not None and len(titles) != n:
        raise ValueError(f"Expected {n} `titles`. Received: {len(titles)} titles")
    panel_titles = dict(panel_titles or {})
    for label, entries in panel_titles.items():
        if label not in dict(columns) or len(entries) != n:
            raise ValueError(f"Expected `panel_titles` keyed by the map labels, {n} entries "
                             f"each. Received: {label!r} with {len(entries)} entries")
    ncols = 1 + 2 * len(columns)
    width = 30  # characters per title line at fontsize 8 in a 2.6-inch panel
    lines = max([1] + [len(_wrap(t, width).split("\n")) for t in (titles or [])]
                + [len(_wrap(f"{lab}\n{panel_titles.get(lab, [''] * n)[i]}", width).split("\n"))
                   for lab, _ in columns for i in range(n)])
    fig = Figure(figsize=(2.6 * ncols, (2.6 + 0.17 * lines) * n), layout="constrained")
    axes = fig.subplots(n, ncols, squeeze=False)
    for i, img in enumerate(imgs):
        axes[i, 0].imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
        title = "image" if titles is None else str(titles[i])
        axes[i, 0].set_title(_wrap(title, width), fontsize=8)
        for j, (label, m) in enumerate(columns):
            heat = np.clip(upsample(m[i:i + 1], img.shape[:2])[0], 0.0, 1.0)
            axes[i, 1 + 2 * j].imshow(heat, cmap="jet", vmin=0.0, vmax=1.0)
            axes[i, 2 + 2 * j].imshow(overlay(img if img.ndim == 3 else img[..., None], heat,
                                               alpha=alpha))
            extra = panel_titles.get(label)
            head = label if extra is None else f"{label}\n{extra[i]}"
            axes[i, 1 + 2 * j].set_title(_wrap(head, width), fontsize=8)
            axes[i, 2 + 2 * j].set_title(f"overlay ({alpha:g})", fontsize=8)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    return atomic_save_figure(fig, Path(path), dpi=dpi)


def _annotate(rgb, probs):
    p = np.atleast_1d(probs)
    text = f"p={float(p[0]):.2f}" if p.size == 1 else f"c{int(np.argmax(p))}:{float(np.max(p)):.2f}"
    scale = max(rgb.shape[0] / 160.0, 0.3)
    cv2.putText(rgb, text, (2, int(14 * scale) + 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 0), 1, cv2.LINE_AA)
    return rgb


def attention_renderer(alpha=ALPHA, *, annotate=True, batch_size=8):
    """A ``render(model, images)`` for the training engine's TensorBoard ``ImageSummary``.

    For Cardio-XAttentionNet models (an ``amm_attention`` layer) it overlays the attention map
    W; for other classifiers, Grad-CAM of each image's top class at the default layer.

    Args:
        alpha: overlay intensity (0.2 as in the paper's Fig. 1 and 8).
        annotate: write the predicted probability in the corner.
        batch_size: images per forward/backward pass.

    Returns:
        ``render(model, images) -> uint8 (N, H, W, 3)``, images float32 in [0, 255] (N, H, W, C).
    """
    alpha = _check_alpha(alpha)

    def render(model, images):
        if ATTENTION_LAYER in {layer.name for layer in model.layers}:
            probs, maps = attention_maps(model, images, batch_size=batch_size)
        else:
            x = prepare_images(model, images)
            cams, probs = gradcam_raw(model, x, feature_tensor(model, None), None,
                                      batch_size=batch_size)
            maps = normalize_max(upsample(cams, x.shape[1:3]))
            probs = probs[:, 0] if probs.shape[-1] == 1 else probs
        imgs = np.asarray(images)
        out = []
        for img, heat, p in zip(imgs, maps, probs):
            rgb = np.ascontiguousarray(overlay(img, heat, alpha=alpha))
            out.append(_annotate(rgb, p) if annotate else rgb)
        return np.stack(out).astype(np.uint8)

    return render

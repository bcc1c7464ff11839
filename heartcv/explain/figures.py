"""Overlays and figures of explanation maps (Cardio-XAttentionNet Fig. 7–9 style).

Reference:
    Innat et al., Sci Rep 13, 2023: Fig. 7 shows each image beside its attention map; Fig. 8
    superimposes the map on the X-ray "with intensity factor 0.2"; Fig. 9 compares the AMM map
    with the class-activation map of the DenseNet121-GAP baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from heartcv.callbacks import DISPLAY_SIZE, draw_label, probability_label, upscale_for_display
from heartcv.callbacks import overlay_heatmap as overlay  # noqa: F401  (re-exported)
from heartcv.evaluation._common import atomic_save_figure
from heartcv.explain._common import normalize_max, prepare_images, upsample
from heartcv.explain.attention import attention_maps
from heartcv.explain.gradients import feature_tensor, gradcam_raw
from heartcv.models.blocks import ATTENTION_LAYER

ALPHA = 0.2  # the paper's overlay intensity


def check_alpha(alpha):
    if isinstance(alpha, bool) or not (isinstance(alpha, (int, float)) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"Expected `alpha` in [0, 1]. Received: alpha={alpha!r}")
    return float(alpha)


def images_uint8(images) -> np.ndarray:
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


CMAP = "jet"  # the one colour map of a figure's maps and overlays (the paper's JET)


def _blend(rgb, heat, alpha, cmap):
    """``rgb`` (H, W, 3) uint8 with ``heat`` (H, W) in [0, 1] laid over it in ``cmap`` (the
    matplotlib colour map the figure's colour bar shows) at intensity ``alpha``."""
    colour = cmap(heat)[..., :3] * 255.0
    return np.clip((1 - alpha) * rgb + alpha * colour, 0, 255).astype(np.uint8)


def save_overlay_grid(images, maps, path, titles=None, alpha=ALPHA, *, dpi=120,
                      panel_titles=None, title=None):
    """Write a PNG grid, one row per image: original | map | overlay (paper Fig. 7–9).

    Every panel carries its own short title, wrapped to the panel's width (no title runs
    into its neighbour): the image panel the row title, each map panel its method label
    (and its ``panel_titles`` entry for that image, e.g. the model's probability), each
    overlay panel ``overlay (alpha)``. Maps and overlays share one colour map (:data:`CMAP`)
    and one colour bar; the images are drawn as they are (grey as grey RGB, no colour map).

    Args:
        images: (N, H, W[, 1 or 3]) in [0, 255].
        maps: (N, h, w) maps in [0, 1] (resized to each image), or a dict ``{label: maps}``
            for several methods side by side (e.g. ``{"AMM": w, "GAP Grad-CAM": cam}``, Fig. 9).
        path: PNG file to write (atomically: temp file in the same folder, then renamed).
        titles: N row titles (e.g. ``"y=1  p=0.93"``), or None.
        alpha: overlay intensity of the coloured map (0.2 in the paper).
        panel_titles: optional ``{label: N strings}`` shown under each map panel's label.
        title: the figure's title (name the model(s) the maps come from), or None.

    Returns:
        The written path.
    """
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    alpha = check_alpha(alpha)
    imgs = images_uint8(images)
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
    cmap = matplotlib.colormaps[CMAP]
    head_lines = 0 if title is None else len(_wrap(title, int(11 * 2.6 * ncols)).split("\n"))
    fig = Figure(figsize=(2.6 * ncols + 0.8, (2.6 + 0.17 * lines) * n + 0.25 * head_lines),
                 layout="constrained")
    axes = fig.subplots(n, ncols, squeeze=False)
    for i, img in enumerate(imgs):
        rgb = img if img.ndim == 3 else np.repeat(img[..., None], 3, axis=-1)
        axes[i, 0].imshow(rgb)
        row_title = "image" if titles is None else str(titles[i])
        axes[i, 0].set_title(_wrap(row_title, width), fontsize=8)
        for j, (label, m) in enumerate(columns):
            heat = np.clip(upsample(m[i:i + 1], img.shape[:2])[0], 0.0, 1.0)
            axes[i, 1 + 2 * j].imshow(heat, cmap=cmap, vmin=0.0, vmax=1.0)
            axes[i, 2 + 2 * j].imshow(_blend(rgb, heat, alpha, cmap))
            extra = panel_titles.get(label)
            head = label if extra is None else f"{label}\n{extra[i]}"
            axes[i, 1 + 2 * j].set_title(_wrap(head, width), fontsize=8)
            axes[i, 2 + 2 * j].set_title(f"overlay ({alpha:g})", fontsize=8)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap), ax=axes[:, 1:],
                       shrink=min(1.0, 0.5 + 0.1 * n), aspect=12 + 8 * n)
    bar.set_label("map value (0 low, 1 high)", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if title is not None:
        fig.suptitle(_wrap(title, int(11 * 2.6 * ncols)), fontsize=10)
    return atomic_save_figure(fig, Path(path), dpi=dpi)


def attention_renderer(alpha=ALPHA, *, annotate=True, batch_size=8, min_size=DISPLAY_SIZE):
    """A ``render(model, images)`` for the training engine's TensorBoard ``ImageSummary``.

    For Cardio-XAttentionNet models (an ``amm_attention`` layer) it overlays the attention map
    W; for other classifiers, Grad-CAM of each image's top class at the default layer.

    Args:
        alpha: overlay intensity (0.2 as in the paper's Fig. 1 and 8).
        annotate: write the predicted probability in the corner.
        batch_size: images per forward/backward pass.
        min_size: images smaller than this (shorter side) are enlarged by a whole factor
            before the map is laid over them and the label drawn (192: legible in
            TensorBoard); None or 0 keeps the input size.

    Returns:
        ``render(model, images) -> uint8 (N, H', W', 3)``, images float32 in [0, 255]
        (N, H, W, C).
    """
    alpha = check_alpha(alpha)

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
            big = upscale_for_display(np.clip(img, 0, 255).astype(np.uint8), min_size)
            rgb = np.ascontiguousarray(overlay(big, heat, alpha=alpha))
            out.append(draw_label(rgb, probability_label(p)) if annotate else rgb)
        return np.stack(out).astype(np.uint8)

    return render

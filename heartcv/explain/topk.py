"""Grad-CAM (or Grad-CAM++) of an image's most probable labels, as the cxr14 paper's Fig. 7–8.

The cxr14 transfer-learning paper shows, for one chest X-ray, the original image followed by
the heatmaps of "the four most probable diagnosis", each titled with its label and
probability ("Nodule: p=0.763"). :func:`top_k_gradcam` computes those maps for a batch of
images and :func:`save_top_k_figure` draws one row per image in that layout.

Engines: ``engine="heartcv"`` (default) uses :func:`heartcv.explain.gradcam` (``plus=True``
for Grad-CAM++), the same maps that :mod:`heartcv.localization` scores against boxes;
``engine="tf-keras-vis"`` runs tf-keras-vis 0.8.7's ``Gradcam`` / ``GradcamPlusPlus``. It
does work with these Keras 3 models, but only when called as done here: with
``ReplaceToLinear`` (the class logit, not the sigmoid output, as Grad-CAM prescribes) and
``seek_penultimate_conv_layer=False``. Checked on ``cxr14_densenet121`` at 96 px (2026-11-23):
its Grad-CAM correlates r = 0.978 with ours at DenseNet's ``relu`` layer, but with its
default layer seeking r = -0.527, because it silently replaces the named ``relu`` layer by
the last Conv2D before it (``conv5_block16_2_conv``, 32 channels); its Grad-CAM++
renormalises the alphas (r = 0.962 with ours). The default stays with heartcv's
implementation so that figures and box scores show the same maps; the tf-keras-vis engine
is there to cross-check them (``tests/test_cxr14_experiment.py`` compares the two).

Reference:
    cxr14 transfer-learning paper, Section 3.4 and Fig. 7–8 (top-4 Grad-CAM heatmaps with
    probabilities). Selvaraju et al., Grad-CAM, ICCV 2017; Chattopadhay et al., Grad-CAM++,
    WACV 2018.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from heartcv.evaluation._common import atomic_save_figure
from heartcv.explain._common import (check_batch_size, default_target_layer, normalize_max,
                                     prepare_images, upsample)
from heartcv.explain.backend import require_tensorflow
from heartcv.explain.figures import check_alpha, images_uint8, overlay
from heartcv.explain.gradients import gradcam


def _check_k(k, n_classes):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_classes:
        raise ValueError(f"Expected `k` to be an int in [1, {n_classes}] (the model's outputs). "
                         f"Received: k={k!r}")
    return int(k)


ENGINES = ("heartcv", "tf-keras-vis")


def _tf_keras_vis_maps(model, x, order, plus, layer):
    """(N, k, H, W) maps of the labels ``order`` (N, k) with tf-keras-vis, set up correctly."""
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    layer = layer or default_target_layer(model)
    cam = (GradcamPlusPlus if plus else Gradcam)(model, model_modifier=ReplaceToLinear(),
                                                 clone=True)
    maps = np.zeros((len(x), order.shape[1], *x.shape[1:3]), np.float32)
    for j in range(order.shape[1]):
        m = cam(CategoricalScore([int(c) for c in order[:, j]]), x, penultimate_layer=layer,
                seek_penultimate_conv_layer=False, normalize_cam=False)
        maps[:, j] = normalize_max(upsample(np.asarray(m), x.shape[1:3]))
    return maps


def top_k_gradcam(model, images, *, k=4, plus=False, layer=None, class_names=None,
                  batch_size=8, engine="heartcv"):
    """Heatmaps of each image's ``k`` most probable labels.

    Args:
        model: a multi-label heartcv classifier (``predictions`` Dense layer, sigmoid).
        images: (N, H, W[, C]) in [0, 255] at the model's input size.
        k: how many labels per image (the paper shows 4).
        plus: Grad-CAM++ instead of Grad-CAM.
        layer: feature layer to explain (default: the backbone's last feature layer).
        class_names: one name per output (default ``class_0`` ...).
        batch_size: images per forward pass for the probabilities.
        engine: ``"heartcv"`` (any Keras backend) or ``"tf-keras-vis"`` (TensorFlow only; a
            ``ValueError`` names the backend otherwise); see the module docstring.

    Returns:
        dict with ``probabilities`` (N, K) float32, ``indices`` (N, k) int (most probable
        first), ``labels`` (N lists of k names), ``scores`` (N, k) and ``maps`` (N, k, H, W)
        float32 in [0, 1], ``method`` ("Grad-CAM" or "Grad-CAM++").
    """
    batch_size = check_batch_size(batch_size)
    if engine not in ENGINES:
        raise ValueError(f"Expected `engine` in {ENGINES}. Received: engine={engine!r}")
    if engine == "tf-keras-vis":
        require_tensorflow("top_k_gradcam(engine='tf-keras-vis')")
    x = prepare_images(model, images)
    probs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)
    if probs.ndim != 2:
        raise ValueError(f"Expected a classifier with (N, K) outputs. Received: output shape "
                         f"{probs.shape}")
    n_classes = probs.shape[1]
    k = _check_k(k, n_classes)
    names = (list(class_names) if class_names is not None
             else [f"class_{i}" for i in range(n_classes)])
    if len(names) != n_classes:
        raise ValueError(f"Expected {n_classes} `class_names` (one per output). "
                         f"Received: {len(names)} names")
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    if engine == "tf-keras-vis":
        maps = _tf_keras_vis_maps(model, x, order, plus, layer)
    else:
        maps = np.zeros((len(x), k, *x.shape[1:3]), np.float32)
        for c in np.unique(order):  # one Grad-CAM pass per class, on the images that need it
            rows, ranks = np.nonzero(order == c)
            maps[rows, ranks] = gradcam(model, x[rows], layer=layer, class_index=int(c),
                                        plus=plus, batch_size=batch_size)
    return {"probabilities": probs, "indices": order,
            "labels": [[names[j] for j in row] for row in order],
            "scores": np.take_along_axis(probs, order, axis=1), "maps": maps,
            "method": "Grad-CAM++" if plus else "Grad-CAM"}


def save_top_k_figure(images, result, path, *, alpha=0.5, titles=None, dpi=110):
    """Write the Fig. 7–8 layout: per row, the original then one overlay per top label.

    Args:
        images: the (N, H, W[, C]) images given to :func:`top_k_gradcam`, in [0, 255].
        result: the dict returned by :func:`top_k_gradcam`.
        path: PNG to write (temp file, then renamed).
        alpha: overlay intensity of the JET map (the paper does not state one).
        titles: N titles for the "Original" panels (e.g. the image id and true labels).

    Returns:
        The written path.
    """
    from matplotlib.figure import Figure

    alpha = check_alpha(alpha)
    imgs = images_uint8(images)
    maps, labels, scores = result["maps"], result["labels"], result["scores"]
    n, k = maps.shape[:2]
    if len(imgs) != n:
        raise ValueError(f"Expected {n} images (as many as in `result`). "
                         f"Received: {len(imgs)} images")
    if titles is not None and len(titles) != n:
        raise ValueError(f"Expected {n} `titles`. Received: {len(titles)} titles")
    fig = Figure(figsize=(2.4 * (k + 1), 3.0 * n))
    axes = fig.subplots(n, k + 1, squeeze=False)
    for i, img in enumerate(imgs):
        axes[i, 0].imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
        axes[i, 0].set_title("Original" + (f"\n{titles[i]}" if titles is not None else ""),
                             fontsize=8)
        base = img if img.ndim == 3 else img[..., None]
        for j in range(k):
            axes[i, j + 1].imshow(overlay(base, maps[i, j], alpha=alpha))
            axes[i, j + 1].set_title(f"{labels[i][j]}: p={scores[i, j]:.3f}", fontsize=8)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(result.get("method", "Grad-CAM"), fontsize=9)
    fig.tight_layout()
    return atomic_save_figure(fig, Path(path), dpi=dpi)


__all__ = ["ENGINES", "save_top_k_figure", "top_k_gradcam"]

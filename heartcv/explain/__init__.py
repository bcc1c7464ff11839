"""Explanations of heartcv classifiers: attention maps, Grad-CAM(++), CAM, saliency, overlays.

The import path is ``heartcv.explain``; the code is split by topic:

- ``attention``: :func:`attention_maps` — the AMM attention map W of Cardio-XAttentionNet.
- ``gradients``: :func:`gradcam` (and Grad-CAM++), :func:`class_activation_map`,
  :func:`saliency` (vanilla and SmoothGrad), implemented with ``tf.GradientTape``.
- ``figures``: :func:`overlay` (JET at intensity 0.2), :func:`save_overlay_grid` (the paper's
  Fig. 7–9 layout), :func:`attention_renderer` (TensorBoard images during training).

Every map is (N, H, W) float32 in [0, 1] at the input image size (bilinear upsampling), so
it can be scored with :mod:`heartcv.localization` against heart masks or boxes.

Example::

    from heartcv import explain
    probs, maps = explain.attention_maps(cxa_model, images)            # AMM models
    cams = explain.gradcam(gap_model, images)                           # any classifier
    explain.save_overlay_grid(images, {"AMM": maps, "GAP Grad-CAM": cams}, "fig9.png",
                              titles=[f"p={p:.2f}" for p in probs])
"""

from heartcv.explain._common import default_target_layer
from heartcv.explain.attention import attention_maps
from heartcv.explain.figures import attention_renderer, overlay, save_overlay_grid
from heartcv.explain.gradients import class_activation_map, gradcam, linear_gap_head, saliency

__all__ = [
    "attention_maps",
    "attention_renderer",
    "class_activation_map",
    "default_target_layer",
    "gradcam",
    "linear_gap_head",
    "overlay",
    "saliency",
    "save_overlay_grid",
]

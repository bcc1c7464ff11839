"""Explanations of heartcv classifiers: attention maps, Grad-CAM(++), CAM, saliency, overlays.

The import path is ``heartcv.explain``; the code is split by topic:

- ``attention``: :func:`attention_maps` — the AMM attention map W of Cardio-XAttentionNet.
- ``gradients``: :func:`gradcam` (and Grad-CAM++), :func:`class_activation_map`,
  :func:`saliency` (vanilla and SmoothGrad), implemented with ``tf.GradientTape``.
- ``figures``: :func:`overlay` (JET at intensity 0.2), :func:`save_overlay_grid` (the paper's
  Fig. 7–9 layout), :func:`attention_renderer` (TensorBoard images during training).
- ``deep_taylor``: :func:`deep_taylor` / :func:`deep_taylor_relevance` — deep Taylor
  decomposition (LRP z⁺ / z^B) of VGG-like ReLU classifiers (the CHD paper's Fig. 8).
- ``layer_outputs``: :func:`layer_outputs` (named intermediate outputs) and
  :func:`save_feature_grid` (the CHD paper's block5_conv1 feature grid, Fig. 6).
- ``tfkv``: :func:`saliency_tfkv` (sensitivity analysis through tf-keras-vis, CHD Fig. 7) and
  :func:`heart_attention_share` (share of a map's mass inside the heart mask, with CI).
- ``faithfulness``: :func:`faithfulness_checks` — is a map faithful? Constant-map ablation of
  the AMM attention (:func:`constant_map_model`), input dependence, flip and blank-image tests,
  heart correlation and mass on the heart after per-map min–max (issue 26).
- ``topk``: :func:`top_k_gradcam` and :func:`save_top_k_figure` — Grad-CAM(++) of the k most
  probable labels of a multi-label image (the ChestX-ray14 paper's Fig. 7–8).

Every map is (N, H, W) float32 in [0, 1] at the input image size (bilinear upsampling), so
it can be scored with :mod:`heartcv.localization` against heart masks or boxes.

Example::

    from heartcv import explain
    probs, maps = explain.attention_maps(cxa_model, images)            # AMM models
    cams = explain.gradcam(gap_model, images)                           # any classifier
    explain.save_overlay_grid(images, {"AMM": maps, "GAP Grad-CAM": cams}, "fig9.png",
                              titles=[f"p={p:.2f}" for p in probs])
    relevance = explain.deep_taylor(vgg_model, images)                  # CHD paper, Fig. 8
    explain.heart_attention_share(relevance, heart_masks)["mean"]       # "looking at the heart?"
"""

from heartcv.explain._common import default_target_layer
from heartcv.explain.attention import attention_maps
from heartcv.explain.deep_taylor import DeepTaylorResult, deep_taylor, deep_taylor_relevance
from heartcv.explain.faithfulness import constant_map_model, faithfulness_checks
from heartcv.explain.figures import attention_renderer, overlay, save_overlay_grid
from heartcv.explain.gradients import class_activation_map, gradcam, linear_gap_head, saliency
from heartcv.explain.layer_outputs import layer_outputs, save_feature_grid
from heartcv.explain.tfkv import heart_attention_share, saliency_tfkv
from heartcv.explain.topk import save_top_k_figure, top_k_gradcam

__all__ = [
    "DeepTaylorResult",
    "attention_maps",
    "attention_renderer",
    "class_activation_map",
    "constant_map_model",
    "deep_taylor",
    "deep_taylor_relevance",
    "default_target_layer",
    "faithfulness_checks",
    "gradcam",
    "heart_attention_share",
    "layer_outputs",
    "linear_gap_head",
    "overlay",
    "saliency",
    "saliency_tfkv",
    "save_feature_grid",
    "save_overlay_grid",
    "save_top_k_figure",
    "top_k_gradcam",
]

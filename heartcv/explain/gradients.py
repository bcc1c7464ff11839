"""Gradient explanations: Grad-CAM, Grad-CAM++, CAM and saliency (vanilla and SmoothGrad).

Implemented with :func:`heartcv.explain.backend.vjp` (``tf.GradientTape`` under TensorFlow,
``jax.vjp`` under JAX) on companion models that share the trained model's weights (for
Grad-CAM, :func:`heartcv.explain.backend.tapped_model`: the model with a zero added to the
feature layer's output, so dS/dA is a gradient on every backend), not with tf-keras-vis:
tf-keras-vis 0.8.7 was written for tf.keras and, on these Keras 3 models, (1) silently
replaces a named non-convolution target layer (DenseNet's ``relu``) by the closest
Conv2D before it unless ``seek_penultimate_conv_layer=False`` (for DenseNet121 a 32-channel
``conv5_block16_2_conv`` instead of the 1024-channel ``relu``), (2) differentiates the model's
output after the sigmoid, so Grad-CAM++'s closed-form weights are computed on the wrong score
and Grad-CAM's gradients shrink by p(1 - p) (vanishing for confident predictions) unless the
model is cloned and its last activation replaced, and (3) resizes with
corner-aligned spline zoom, unlike the OpenCV bilinear resize of our overlays. Its Grad-CAM
agrees with ours once (1) is avoided (``tests/test_explain.py`` checks this).

All maps are non-negative, resized (bilinear) to the input size and divided by their
maximum, so each lies in [0, 1] with 1 at its peak; a map with no positive evidence is
all zeros. Gradients are taken of the class LOGIT (the ``predictions`` Dense layer's
pre-activation), recomputed from that layer's input and weights.

References:
    Zhou B, Khosla A, Lapedriza A, Oliva A, Torralba A. Learning deep features for
    discriminative localization. CVPR 2016 (CAM).
    Selvaraju RR, Cogswell M, Das A, Vedantam R, Parikh D, Batra D. Grad-CAM: visual
    explanations from deep networks via gradient-based localization. ICCV 2017.
    Chattopadhay A, Sarkar A, Howlader P, Balasubramanian VN. Grad-CAM++: generalized
    gradient-based visual explanations for deep convolutional networks. WACV 2018.
    Simonyan K, Vedaldi A, Zisserman A. Deep inside convolutional networks: visualising image
    classification models and saliency maps. ICLR workshop 2014.
    Smilkov D, Thorat N, Kim B, Viegas F, Wattenberg M. SmoothGrad: removing noise by adding
    noise. arXiv:1706.03825, 2017.
"""

from __future__ import annotations

import keras
import numpy as np

from heartcv.explain import backend
from heartcv.explain._common import (
    PREDICTIONS, batches, check_batch_size, check_smoothgrad, class_head, class_indices,
    default_target_layer, get_layer, normalize_max, prepare_images, upsample,
)


def _producer(tensor):
    history = getattr(tensor, "_keras_history", None)
    return history[0] if history is not None else None


def _first_gap(model):
    return next((layer for layer in model.layers
                 if isinstance(layer, keras.layers.GlobalAveragePooling2D)), None)


def linear_gap_head(model):
    """The GAP layer when the class logits are a linear function of its output, else None.

    Found for GAP → [Dropout] → Dense ``predictions`` (sigmoid/softmax/linear), e.g.
    ``small_cnn`` or ``gap_classifier(hidden_units=0)``; false for the Cardio-XAttentionNet
    baselines' GAP → Dense(128, ELU) → Dense(1) head, where CAM in the strict sense of Zhou et
    al. is not defined.
    """
    _, to_logits, _ = class_head(model)
    if to_logits is None:
        return None
    op = _producer(model.get_layer("predictions").input)
    while isinstance(op, keras.layers.Dropout):
        op = _producer(op.input)
    if isinstance(op, keras.layers.GlobalAveragePooling2D) and not op.keepdims:
        return op
    return None


def feature_tensor(model, layer):
    """Output tensor of the 4-D layer named ``layer`` (None: :func:`default_target_layer`)."""
    if layer is None:
        layer = default_target_layer(model)
    if not isinstance(layer, str):
        raise TypeError(f"Expected `layer` as a layer name (str) or None. "
                        f"Received: layer={layer!r}")
    out = get_layer(model, layer).output
    if len(out.shape) != 4:
        raise ValueError(f"Expected a layer with a 4-D (N, H, W, C) output. "
                         f"Received: layer={layer!r} with output shape {tuple(out.shape)}")
    return out


def _gradcam_pp_weights(a, g):
    """Per-channel Grad-CAM++ weights (Chattopadhay et al.'s closed form with Y = exp(S)).

    With g = dS/dA of the class logit S: alpha = g² / (2 g² + Σ_ab A_ab g³) and
    w_k = Σ_ij alpha_ij relu(g_ij); the factor exp(S) common to all weights of an image is left
    out (it only scales the map). Unlike tf-keras-vis 0.8.7, the alphas are not renormalised to
    sum to one per channel.
    """
    g2, g3 = g * g, g * g * g
    denom = 2.0 * g2 + a.sum(axis=(1, 2), keepdims=True) * g3
    safe = np.where(denom != 0, denom, 1.0)
    alpha = np.where((g != 0) & (denom != 0), g2 / safe, 0.0)
    return (alpha * np.maximum(g, 0.0)).sum(axis=(1, 2))


def gradcam_raw(model, x, feature, class_index=0, *, plus=False, batch_size=8):
    """Grad-CAM(++) at the feature layer's resolution, before ReLU-normalisation and resizing.

    Returns ``(cams (N, h, w) float64 >= 0, probabilities (N, K) float32)``.
    """
    head, to_logits, out = class_head(model)
    class_indices(class_index, np.zeros((1, out.shape[-1])))  # validate before any work
    names = {layer.name for layer in model.layers}
    head_layer = model.get_layer(PREDICTIONS) if PREDICTIONS in names else None
    companion, tap = backend.tapped_model(model, feature, head_layer)
    cams, probs = [], []
    for sl in batches(len(x), batch_size):
        a, _, p, g = backend.feature_vjp(
            companion, tap, x[sl], to_logits,
            lambda z: backend.one_hot_rows(
                class_indices(class_index, keras.ops.convert_to_numpy(z)), z))
        a, g = a.astype(np.float64), g.astype(np.float64)
        w = _gradcam_pp_weights(a, g) if plus else g.mean(axis=(1, 2))
        cams.append(np.maximum(np.einsum("nhwk,nk->nhw", a, w), 0.0))
        probs.append(p.astype(np.float32))
    return np.concatenate(cams), np.concatenate(probs)


def gradcam(model, images, *, layer=None, class_index=0, plus=False, batch_size=8):
    """Grad-CAM (or Grad-CAM++ with ``plus=True``) heatmaps of a classifier.

    Args:
        model: a heartcv classifier (any model ending in an (N, K) output; a Dense
            ``predictions`` layer lets the logit be explained).
        images: (N, H, W[, C]) in [0, 255], as the model takes them (grey is repeated to
            the model's channels).
        layer: name of the 4-D layer to explain; default :func:`default_target_layer` (the
            backbone's last feature layer, e.g. ``relu`` for DenseNet121).
        class_index: output unit to explain (0 for the binary models), or None for each
            image's top-scoring class.
        plus: Grad-CAM++ weights instead of Grad-CAM's mean gradients.
        batch_size: images per gradient computation.

    Returns:
        (N, H, W) float32 in [0, 1] at the input size (bilinear), each map divided by its max.
    """
    batch_size = check_batch_size(batch_size)
    x = prepare_images(model, images)
    cams, _ = gradcam_raw(model, x, feature_tensor(model, layer), class_index, plus=plus,
                          batch_size=batch_size)
    return normalize_max(upsample(cams, x.shape[1:3]))


def class_activation_map(model, images, *, class_index=0, strict=False, batch_size=8):
    """CAM (Zhou et al. 2016) where it is defined, Grad-CAM at the GAP input otherwise.

    CAM_c = Σ_k w_kc A_k needs the class logit to be linear in the GAP features (GAP →
    [Dropout] → Dense). The Cardio-XAttentionNet GAP baselines (``*_gap``) put Dense(128, ELU)
    between GAP and the output, so for them this returns Grad-CAM on the layer feeding GAP
    (for a linear head the two coincide up to scale, Selvaraju et al. Sec. 3.1).

    Args:
        strict: raise ``ValueError`` instead of falling back to Grad-CAM.

    Returns:
        (N, H, W) float32 in [0, 1] (ReLU of the CAM, resized and divided by its max).
    """
    batch_size = check_batch_size(batch_size)
    x = prepare_images(model, images)
    gap = linear_gap_head(model)
    if gap is None:
        if strict:
            raise ValueError(f"CAM is defined only for GAP → linear classifier heads; model "
                             f"{model.name!r} has none (use gradcam, or hidden_units=0). "
                             f"Received: strict={strict}")
        first = _first_gap(model)
        feature = first.input if first is not None else feature_tensor(model, None)
        cams, _ = gradcam_raw(model, x, feature, class_index, batch_size=batch_size)
        return normalize_max(upsample(cams, x.shape[1:3]))
    pred = model.get_layer("predictions")
    kernel = keras.ops.convert_to_numpy(pred.kernel).astype(np.float64)  # (C, K)
    class_indices(class_index, np.zeros((1, kernel.shape[1])))
    sub = keras.Model(model.inputs[0], [gap.input, pred.output], name=f"{model.name}_cam")
    cams = []
    for sl in batches(len(x), batch_size):
        a, p = (keras.ops.convert_to_numpy(t) for t in sub(x[sl], training=False))
        w = kernel[:, class_indices(class_index, p)].T  # (B, C)
        cams.append(np.maximum(np.einsum("nhwk,nk->nhw", a.astype(np.float64), w), 0.0))
    return normalize_max(upsample(np.concatenate(cams), x.shape[1:3]))


def saliency(model, images, class_index=0, smooth_samples=0, *, noise=0.15, seed=0,
             batch_size=8):
    """Gradient sensitivity maps: vanilla (Simonyan et al.) or SmoothGrad (Smilkov et al.).

    The map is max over channels of |∂ logit / ∂ input|; with ``smooth_samples`` > 0 the
    gradients are first averaged over that many copies of each image with Gaussian noise of
    standard deviation ``noise`` × (max − min) of the image (SmoothGrad's 10–20 %).

    Args:
        class_index: output unit (int), or None for each image's top class on the clean image.
        smooth_samples: 0 for vanilla gradients, else the SmoothGrad sample count.
        noise: SmoothGrad noise level relative to the image's intensity range, > 0.
        seed: int or ``np.random.Generator`` for the noise.

    Returns:
        (N, H, W) float32 in [0, 1] at the input size, each map divided by its max.
    """
    batch_size = check_batch_size(batch_size)
    check_smoothgrad(smooth_samples, noise)
    x = prepare_images(model, images)
    head, to_logits, out = class_head(model)
    class_indices(class_index, np.zeros((1, out.shape[-1])))
    sub = keras.Model(model.inputs[0], [head, out], name=f"{model.name}_saliency")
    rng = np.random.default_rng(seed)
    maps = []
    for sl in batches(len(x), batch_size):
        xb = x[sl]
        if class_index is None:
            h0, _ = sub(xb, training=False)
            z0 = to_logits(h0) if to_logits is not None else h0
            idx = class_indices(None, keras.ops.convert_to_numpy(z0))
        else:
            idx = np.full(len(xb), int(class_index))
        sigma = (noise * (xb.max(axis=(1, 2, 3)) - xb.min(axis=(1, 2, 3))))[:, None, None, None]
        total = np.zeros(xb.shape, np.float64)
        for _ in range(max(1, int(smooth_samples))):
            xn = xb if not smooth_samples else \
                (xb + sigma * rng.standard_normal(xb.shape)).astype(np.float32)

            def logits(xt):
                h, _ = sub(xt, training=False)
                return to_logits(h) if to_logits is not None else keras.ops.cast(h, "float32")

            _, (g,) = backend.vjp(logits, [xn], lambda z: backend.one_hot_rows(idx, z))
            total += keras.ops.convert_to_numpy(g)
        maps.append(np.abs(total / max(1, int(smooth_samples))).max(axis=-1))
    return normalize_max(np.concatenate(maps))

"""Deep Taylor decomposition (LRP with the z⁺ and z^B rules) of VGG-like classifiers.

The CHD paper (``../shared/papers/chd-xray-vgg-unet.txt``, Fig. 5c and 8) tried deep Taylor
decomposition on its VGG16 and got "a very strange result". Implemented here for linear
chains of ReLU convolution / dense layers and pooling, walked from ``predictions`` back:

- the explained quantity is the chosen class's LOGIT (the pre-activation of the softmax /
  sigmoid ``predictions`` Dense layer), kept only where positive: R = max(0, z_c);
- ReLU Conv2D / Dense layers (and the ``predictions`` layer): the z⁺ rule,
  R_i = Σ_j a_i w⁺_ij / (Σ_i' a_i' w⁺_i'j + ε) R_j, biases ignored (Montavon et al. 2017);
- the first weight layer: the z^B rule for inputs bounded by l ≤ x ≤ h,
  R_i = Σ_j (x_i w_ij − l_i w⁺_ij − h_i w⁻_ij) / z^B_j R_j, with l, h the ``input_bounds``
  ([0, 255] pixels) mapped through the layers before it (grey→RGB Concatenate,
  ``ImagePreprocessing``: the caffe mode's BGR flip and mean subtraction is a per-channel
  affine map, so the bounds become 0 − mean and 255 − mean per channel; the VGG+Mask
  models' ``MaskBackground`` scales each pixel by 1 inside the heart mask and 0.2 outside,
  so the bounds outside the heart shrink to [0, 51]; the mask, computed by the segmenter
  branch, is treated as fixed context: all relevance goes to the image pixels). The
  per-image normalisations, ``IntensityNormalization`` (``normalize``: percentile stretch,
  histogram equalisation, CLAHE) and ``ImagePreprocessing("minmax")``, map every image onto
  a fixed range whatever its own: the bounds become that range ([0, 255], resp. [0, 1]),
  except where the bounds coming in coincide (a pixel pinned upstream, e.g. blacked out by
  ``MaskBackground(scale=0)``), which stays pinned at its own normalised value (l = x = h);
- MaxPooling: winner-take-all by default (the whole relevance of a pooled unit goes to the
  maximum of its window, the gradient route), or ``pooling="proportional"`` (shared in
  proportion to the activations, as for sum pooling); average pooling and
  GlobalAveragePooling2D are linear with positive weights and always share proportionally;
- BatchNormalization right after a linear Conv2D / Dense (Conv → BN → ReLU, the
  batch-normalised VGG16 topology of the CPU settings) is folded into that layer: the rules
  use the kernel scaled by γ / √(σ² + ε) per output unit (inference statistics), and the BN
  layer passes relevance through;
- Flatten / Reshape, Dropout and ReLU layers pass relevance through; the pixel-wise layers
  before the first weight layer route it back to their input pixels (BGR flip reversed,
  grey→RGB copies summed; the per-image monotone maps ``IntensityNormalization``,
  ``ImagePreprocessing``, ``Rescaling`` and ``MaskBackground`` pass each pixel's relevance
  through unchanged: it stays with the pixel it belongs to).

Each rule passes on exactly what it receives (up to ε): the input relevance sums to
max(0, z_c) unless a unit with relevance has z = 0 and absorbs it; this never happens with
non-positive biases, except under z^B where l = h (``MaskBackground(scale=0)`` blacks the
background out, so first-layer units seeing only background keep their relevance). Computed
as gradient × input of positive-weight copies of the layers, in ``keras.ops`` with
:func:`heartcv.explain.backend.vjp` (``tf.GradientTape`` under TensorFlow, ``jax.vjp`` under
JAX).

References:
    Montavon G, Lapuschkin S, Binder A, Samek W, Müller K-R. Explaining nonlinear
    classification decisions with deep Taylor decomposition. Pattern Recognit 65:211–222,
    2017 (z⁺ and z^B rules).
    Bach S, Binder A, Montavon G, et al. On pixel-wise explanations for non-linear classifier
    decisions by layer-wise relevance propagation. PLoS ONE 10(7):e0130140, 2015.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import layers as kl
from keras import ops

from heartcv.explain import backend
from heartcv.explain._common import (
    PREDICTIONS, batches, check_batch_size, class_indices, normalize_max, prepare_images,
)
from heartcv.layers import ImagePreprocessing, IntensityNormalization, MaskBackground

POOLINGS = ("winner", "proportional")
_WEIGHT = (kl.Conv2D, kl.Dense)
_IDENTITY = (kl.Dropout, kl.SpatialDropout2D, kl.GaussianDropout, kl.GaussianNoise, kl.ReLU,
             kl.Activation)
_POOLS = (kl.MaxPooling2D, kl.AveragePooling2D, kl.GlobalMaxPooling2D, kl.GlobalAveragePooling2D)
_RESHAPE = (kl.Flatten, kl.Reshape)
_BN = kl.BatchNormalization
_PIXELWISE = (kl.Concatenate, IntensityNormalization, ImagePreprocessing, MaskBackground,
              kl.Rescaling) + _RESHAPE + _IDENTITY


@dataclasses.dataclass(frozen=True)
class DeepTaylorResult:
    """Output of :func:`deep_taylor_relevance`.

    Attributes:
        relevance: (N, H, W, C) float32 relevance of each input value (the model's channels).
        scores: (N,) float32 explained logits (the relevance put in is their positive part).
        class_index: (N,) int explained class per image.
        layer_totals: layer name → (N,) total relevance at that layer's INPUT, top to bottom.
        layer_minima: layer name → (N,) smallest relevance at that layer's input.
    """

    relevance: np.ndarray
    scores: np.ndarray
    class_index: np.ndarray
    layer_totals: dict
    layer_minima: dict


def _type(layer):
    return f"{layer.name!r} ({type(layer).__name__})"


def _is_relu(layer):
    if type(layer) is kl.ReLU:
        return layer.max_value is None and not layer.negative_slope and not layer.threshold
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", None) == "relu"


def _inputs(layer):
    t = layer.input
    return list(t) if isinstance(t, (list, tuple)) else [t]


def _chain(model):
    """Layers from the image input to the ``predictions`` Dense layer, validated."""
    names = {layer.name for layer in model.layers}
    head = model.get_layer(PREDICTIONS) if PREDICTIONS in names \
        else model.outputs[0]._keras_history[0]
    act = getattr(getattr(head, "activation", None), "__name__", None)
    if type(head) is not kl.Dense or act not in ("softmax", "sigmoid", "linear"):
        raise ValueError(f"deep_taylor explains models ending in a Dense layer with a softmax, "
                         f"sigmoid or linear activation. Received: output layer {_type(head)}")
    chain, layer = [head], head
    while not isinstance(layer, kl.InputLayer):
        ins = _inputs(layer)[:1] if type(layer) is MaskBackground else _inputs(layer)
        if len({id(t) for t in ins}) != 1 or (len(ins) > 1 and type(layer) is not kl.Concatenate):
            raise ValueError(f"deep_taylor walks linear chains of layers (VGG-like models); layer "
                             f"{_type(layer)} takes {len(ins)} different inputs.")
        layer = ins[0]._keras_history[0]
        chain.append(layer)
    chain.reverse()
    first = next(i for i, layer in enumerate(chain) if isinstance(layer, _WEIGHT))
    for i, layer in enumerate(chain[1:-1], start=1):
        kind = type(layer)
        ok = kind in (_PIXELWISE if i < first else _WEIGHT + _POOLS + _IDENTITY + _RESHAPE)
        if kind in (kl.Activation, kl.ReLU):
            ok = ok and (_is_relu(layer) or getattr(layer.activation, "__name__", "") == "linear")
        if kind is kl.Rescaling:
            ok = ok and np.all(np.asarray(layer.scale) > 0)
        if kind is kl.Conv2D:
            ok = ok and layer.groups == 1 and layer.data_format == "channels_last"
        if kind is _BN:  # folded into the linear weight layer right before it
            prev = chain[i - 1]
            ok = (i > first and isinstance(prev, _WEIGHT) and layer.axis in (-1, len(
                prev.output.shape) - 1) and getattr(prev.activation, "__name__", "") == "linear")
        if not ok:
            where = " before the first weight layer (pixel-wise maps only)" if i < first else ""
            raise ValueError(
                f"deep_taylor does not support layer {_type(layer)}{where} in model "
                f"{model.name!r}. Supported: InputLayer, Concatenate (grey→RGB), Rescaling, "
                "IntensityNormalization, ImagePreprocessing, MaskBackground, Conv2D/Dense with "
                "ReLU, Max/AveragePooling2D, Global{Max,Average}Pooling2D, Flatten, Reshape, "
                "Dropout, ReLU, and BatchNormalization right after a linear Conv2D/Dense.")
        if isinstance(layer, _WEIGHT) and not _is_relu(layer):
            after = next((n for n in chain[i + 1:] if type(n) not in (kl.Dropout, _BN)), None)
            if not (getattr(layer.activation, "__name__", "") == "linear" and _is_relu(after)):
                raise ValueError(f"deep_taylor's z⁺ rule needs ReLU units; layer {_type(layer)} "
                                 f"has activation {getattr(layer.activation, '__name__', '?')!r}.")
    return chain, first


def _check_bounds(input_bounds, x):
    try:
        lo, hi = (0.0, 255.0) if input_bounds is None else (float(v) for v in input_bounds)
    except (TypeError, ValueError):
        lo = hi = float("nan")
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"Expected `input_bounds` as (low, high) with low < high. "
                         f"Received: input_bounds={input_bounds!r}")
    if x.min() < lo or x.max() > hi:
        raise ValueError(f"Expected images within `input_bounds` ({lo:g}, {hi:g}) (the z^B rule "
                         f"needs l <= x <= h). Received: images in [{x.min():g}, {x.max():g}]")
    return lo, hi


def _per_image_range(layer):
    """Output range of a per-image normalisation layer (its output ignores the input's
    range), or None for a layer whose bounds are the input bounds mapped through it."""
    if type(layer) is IntensityNormalization and layer.method != "none":
        return 0.0, 255.0
    if type(layer) is ImagePreprocessing and layer.mode == "minmax":
        return 0.0, 1.0
    return None


def _bounds(pre, acts, lo, hi, side):
    """z^B bounds of the first weight layer's input: the input bounds mapped through ``pre``.

    ``acts`` are the outputs of ``pre`` on the images; a per-image normalisation sets the
    bounds to its output range, except where they came in equal (a pinned pixel, l = x = h),
    which keeps its own normalised value.
    """
    low, high = (ops.full(tuple(acts[0].shape), np.float32(v), dtype="float32")
                 for v in (lo, hi))
    for layer, out in zip(pre, acts[1:]):
        span = _per_image_range(layer)
        if span is None:
            low, high = _forward(layer, low, side), _forward(layer, high, side)
            continue
        pinned = ops.equal(low, high)
        low = ops.where(pinned, out, ops.full(ops.shape(out), np.float32(span[0]), "float32"))
        high = ops.where(pinned, out, ops.full(ops.shape(out), np.float32(span[1]), "float32"))
    return ops.minimum(low, high), ops.maximum(low, high)


def _forward(layer, a, side=None):
    if type(layer) is kl.Concatenate:
        return layer([a] * len(_inputs(layer)))
    if type(layer) is MaskBackground:  # the heart mask is fixed context, not explained
        return layer([a, side[layer.name]])
    return layer(a, training=False)


def _linear(layer, a, kernel):
    if type(layer) is kl.Dense:
        return ops.matmul(a, kernel)
    return ops.conv(a, kernel, strides=layer.strides, padding=layer.padding,
                    dilation_rate=layer.dilation_rate, data_format="channels_last")


def _grad(fn, args, upstream):
    """Gradients of ``fn(*args)`` weighted by ``upstream(output)`` (vector-Jacobian product)."""
    return backend.vjp(fn, args, upstream)[1]


def _kernel(layer, bn=None):
    """The layer's kernel, with a following BatchNormalization's scale folded in."""
    w = ops.cast(layer.kernel, "float32")
    if bn is None:
        return w
    scale = ops.rsqrt(ops.cast(bn.moving_variance, "float32") + bn.epsilon)
    if bn.gamma is not None:
        scale = scale * ops.cast(bn.gamma, "float32")
    return w * scale  # per output unit: the kernel's last axis


def _backward(layer, a, r, eps, pooling, bounds=None, bn=None, negate=False):
    """Relevance at the input of ``layer`` (input activations ``a``) from ``r`` at its output.

    ``negate`` flips the sign of a weight layer's kernel (the negative class of a one-unit
    sigmoid head).
    """
    share = lambda z: r / (z + eps)  # noqa: E731  (z >= 0 under every rule used)
    if isinstance(layer, _WEIGHT):
        w = -_kernel(layer, bn) if negate else _kernel(layer, bn)
        if bounds is None:  # z⁺
            return a * _grad(lambda x: _linear(layer, x, ops.relu(w)), [a], share)[0]

        # z^B = (x − l) w⁺ + (x − h) w⁻: both terms >= 0, exactly 0 where l = x = h
        above, below = a - bounds[0], a - bounds[1]
        c_above, c_below = _grad(lambda d, e: _linear(layer, d, ops.relu(w))
                                 + _linear(layer, e, ops.minimum(w, 0.0)), [above, below], share)
        return above * c_above + below * c_below
    if isinstance(layer, _POOLS):
        winner = pooling == "winner" and type(layer) in (kl.MaxPooling2D, kl.GlobalMaxPooling2D)
        if type(layer) in (kl.GlobalMaxPooling2D, kl.GlobalAveragePooling2D):
            reduce = ops.max if winner else ops.mean
            fn = lambda x: reduce(x, axis=(1, 2), keepdims=layer.keepdims)  # noqa: E731
        else:
            pool = ops.max_pool if winner else ops.average_pool
            fn = lambda x: pool(x, layer.pool_size, layer.strides, layer.padding)  # noqa: E731
        if winner:  # the gradient routes each pooled unit's relevance to its window's maximum
            return _grad(fn, [a], lambda z: r)[0]
        return a * _grad(fn, [a], share)[0]
    if type(layer) in _RESHAPE:
        return ops.reshape(r, ops.shape(a))
    if type(layer) is kl.Concatenate:  # copies of one tensor: sum their relevance
        return _grad(lambda x: _forward(layer, x), [a], lambda z: r)[0]
    if type(layer) is ImagePreprocessing and layer.mode == "caffe":
        return ops.flip(r, axis=-1)  # undo RGB → BGR
    return r  # identity and pixel-wise monotone maps


def deep_taylor_relevance(model, images, class_index=None, *, input_bounds=None,
                          pooling="winner", batch_size=8, epsilon=1e-9) -> DeepTaylorResult:
    """Deep Taylor relevance of every input value, with per-layer totals (see module doc).

    Args:
        model: a linear-chain ReLU classifier ending in a Dense ``predictions`` layer (the CHD
            paper's VGG16 models, ``keras.applications.VGG16`` heads, ...).
        images: (N, H, W[, C]) in ``input_bounds`` (grey is repeated to the model's channels).
        class_index: class to explain, or None for each image's top class. With one sigmoid
            output unit, None explains the predicted class: the logit z where z >= 0, else
            -z (the evidence for the negative class: the head's weights negated);
            ``class_index`` 1 / 0 in the result. ``class_index=0`` explains z itself.
        input_bounds: (low, high) of the raw input for the z^B rule; None: (0, 255).
        pooling: ``"winner"`` (winner-take-all) or ``"proportional"`` for max pooling.
        batch_size: images per pass. epsilon: added to every (non-negative) denominator.

    Raises ``ValueError`` for an unsupported layer (named, with its type) or out-of-bounds images.
    """
    batch_size = check_batch_size(batch_size)
    if pooling not in POOLINGS:
        raise ValueError(f"Expected `pooling` in {POOLINGS}. Received: pooling={pooling!r}")
    if not (isinstance(epsilon, (int, float)) and np.isfinite(epsilon) and epsilon >= 0):
        raise ValueError(f"Expected `epsilon` >= 0. Received: epsilon={epsilon!r}")
    chain, first = _chain(model)
    x = prepare_images(model, images)
    lo, hi = _check_bounds(input_bounds, x)
    masks = {layer.name: _inputs(layer)[1] for layer in chain if type(layer) is MaskBackground}
    side_model = keras.Model(model.inputs[0], list(masks.values())) if masks else None
    head = chain[-1]
    kernel = ops.cast(head.kernel, "float32")
    bias = 0.0 if head.bias is None else ops.cast(head.bias, "float32")
    out = {"rel": [], "score": [], "idx": [], "tot": {}, "min": {}}
    for sl in batches(len(x), batch_size):
        acts = [ops.convert_to_tensor(x[sl])]
        side = {} if side_model is None else \
            dict(zip(masks, keras.tree.flatten(side_model(acts[0], training=False))))
        for layer in chain[1:-1]:
            acts.append(ops.cast(_forward(layer, acts[-1], side), "float32"))
        z = ops.convert_to_numpy(ops.matmul(acts[-1], kernel) + bias)  # the logits
        idx = class_indices(class_index, z)
        score = z[np.arange(len(idx)), idx]
        negative = None
        if class_index is None and z.shape[-1] == 1:  # one sigmoid unit: the predicted class
            negative = score < 0
            score = np.abs(score)
            idx = (~negative).astype(idx.dtype)
        r = ops.one_hot(np.zeros_like(idx) if negative is not None else idx, z.shape[-1],
                        dtype="float32") * np.maximum(score, 0.0)[:, None]
        bounds = _bounds(chain[1:first], acts[:first], lo, hi, side)
        for i in range(len(chain) - 1, 0, -1):
            bn = chain[i + 1] if i + 1 < len(chain) and type(chain[i + 1]) is _BN else None
            args = (chain[i], acts[i - 1], r, epsilon, pooling, bounds if i == first else None)
            if negative is not None and i == len(chain) - 1:
                shape = (-1,) + (1,) * (len(acts[i - 1].shape) - 1)
                r = ops.where(np.reshape(negative, shape), _backward(*args, bn=bn, negate=True),
                              _backward(*args, bn=bn))
            else:
                r = _backward(*args, bn=bn)
            flat = ops.convert_to_numpy(r).reshape(len(idx), -1)
            out["tot"].setdefault(chain[i].name, []).append(flat.sum(axis=1, dtype=np.float64))
            out["min"].setdefault(chain[i].name, []).append(flat.min(axis=1))
        out["rel"].append(ops.convert_to_numpy(r))
        out["score"].append(score.astype(np.float32))
        out["idx"].append(idx)
    return DeepTaylorResult(
        relevance=np.concatenate(out["rel"]).astype(np.float32),
        scores=np.concatenate(out["score"]), class_index=np.concatenate(out["idx"]),
        layer_totals={k: np.concatenate(v) for k, v in out["tot"].items()},
        layer_minima={k: np.concatenate(v) for k, v in out["min"].items()})


def deep_taylor(model, images, class_index=None, *, input_bounds=None, pooling="winner",
                batch_size=8, epsilon=1e-9, normalize=True, return_relevance=False):
    """Deep Taylor decomposition maps (Montavon et al. 2017) of a VGG-like classifier.

    Args:
        normalize: divide each map by its maximum (in [0, 1], like the other
            :mod:`heartcv.explain` maps); False keeps relevance units (a map sums to the
            explained logit's positive part).
        return_relevance: also return the (N, H, W, C) relevance per input value and the
            (N,) explained logits.
        Others: as :func:`deep_taylor_relevance`.

    Returns:
        (N, H, W) float32 maps (relevance summed over channels), or
        ``(maps, relevance, scores)`` with ``return_relevance=True``.
    """
    res = deep_taylor_relevance(model, images, class_index, input_bounds=input_bounds,
                                pooling=pooling, batch_size=batch_size, epsilon=epsilon)
    maps = normalize_max(res.relevance.sum(-1)) if normalize else res.relevance.sum(-1)
    return (maps, res.relevance, res.scores) if return_relevance else maps

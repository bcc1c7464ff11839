"""Shared pieces of the explanation tools: input batches, target layers, class scores, resizing.

Analysis code, not model code: it builds companion ``keras.Model`` objects on a trained
model's tensors (sharing its weights) and may use TensorFlow's ``GradientTape`` directly.
"""

from __future__ import annotations


import cv2
import keras
import numpy as np

from heartcv.models.backbones import BACKBONES
from heartcv.registry import did_you_mean

PREDICTIONS = "predictions"  # the last layer of every heartcv classifier
_LOGIT_ACTIVATIONS = ("sigmoid", "softmax", "linear")


def check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"Expected `batch_size` to be an int >= 1. "
                         f"Received: batch_size={batch_size!r}")
    return int(batch_size)


def check_smoothgrad(smooth_samples, noise):
    """SmoothGrad's sample count (int >= 0; 0 = vanilla gradients) and noise level (> 0)."""
    if isinstance(smooth_samples, bool) or not isinstance(smooth_samples, (int, np.integer)) \
            or smooth_samples < 0:
        raise ValueError(f"Expected `smooth_samples` to be an int >= 0. "
                         f"Received: smooth_samples={smooth_samples!r}")
    if not (isinstance(noise, (int, float)) and np.isfinite(noise) and noise > 0):
        raise ValueError(f"Expected `noise` > 0. Received: noise={noise!r}")


def prepare_images(model, images, name="images") -> np.ndarray:
    """``images`` as float32 (N, H, W, C) in the model's channel count (grey is repeated).

    Accepts (N, H, W) grey, (N, H, W, 1) or (N, H, W, 3) arrays in [0, 255] (uint8 or float;
    NaN or infinite values are refused); no resizing: a model with a fixed input size must
    get images of that size.
    """
    if len(model.inputs) != 1:
        raise ValueError(f"Expected a model with one image input. Received: model {model.name!r} "
                         f"with {len(model.inputs)} inputs")
    try:
        x = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise TypeError(f"Expected `{name}` as a numeric array. "
                        f"Received: {name}={type(images).__name__}") from err
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"Expected `{name}` of shape (N, H, W) or (N, H, W, C) with N >= 1. "
                         f"Received: {name}.shape={np.shape(images)}")
    if not np.isfinite(x).all():
        raise ValueError(f"Expected finite `{name}` (in [0, 255]). Received: "
                         f"{int((~np.isfinite(x)).sum())} NaN or infinite values")
    _, h, w, c = model.inputs[0].shape
    if c is not None and x.shape[-1] != c:
        if x.shape[-1] != 1:
            raise ValueError(f"Expected `{name}` with 1 or {c} channels for model {model.name!r}. "
                             f"Received: {name}.shape={x.shape}")
        x = np.repeat(x, c, axis=-1)
    if (h is not None and x.shape[1] != h) or (w is not None and x.shape[2] != w):
        raise ValueError(f"Model {model.name!r} takes {h}x{w} images; resize them first "
                         f"(heartcv.data.images.resize_image). Received: {name}.shape={x.shape}")
    return x


def get_layer(model, name, argument="layer"):
    """``model.get_layer(name)`` with a did-you-mean error."""
    names = [layer.name for layer in model.layers]
    if name not in names:
        hint = did_you_mean(name, names, cutoff=0.6)
        raise ValueError(f"Model {model.name!r} has no layer {name!r}.{hint} "
                         f"Received: {argument}={name!r}")
    return model.get_layer(name)


def _rank(layer):
    try:
        out = layer.output
    except (AttributeError, ValueError):  # unused or shared layer
        return None
    return len(out.shape) if hasattr(out, "shape") else None


def default_target_layer(model) -> str:
    """Name of the layer Grad-CAM explains by default.

    The backbone's last feature layer by NAME (``BACKBONES[...].feature_layers[-1]``: ``relu``
    for DenseNets, ``conv5_block3_out`` for ResNet50, ...) when all of that backbone's feature
    layers are in the model; otherwise the last layer with a 4-D output before the first
    global pooling layer (``block4_pool`` for ``small_cnn``), else the last 4-D layer.
    """
    names = {layer.name for layer in model.layers}
    for info in BACKBONES.values():
        if all(n in names for n in info.feature_layers):
            return info.feature_layers[-1]
    layers = list(model.layers)
    stop = next((i for i, layer in enumerate(layers) if type(layer).__name__.startswith("Global")),
                len(layers))
    for layer in reversed(layers[:stop]):
        if not isinstance(layer, keras.layers.InputLayer) and _rank(layer) == 4:
            return layer.name
    raise ValueError(f"Model {model.name!r} has no layer with a 4-D (N, H, W, C) output to "
                     "explain; pass `layer` explicitly.")


def class_head(model):
    """What the class scores are computed from.

    Returns:
        ``(tensor, to_logits, output)``: when the model ends in a Dense ``predictions``
        layer with a sigmoid/softmax/linear activation, ``tensor`` is that layer's input and
        ``to_logits`` re-applies its kernel and bias, so gradients are taken of the
        pre-activation class score (the logit) as Grad-CAM prescribes, without changing the
        model; otherwise ``tensor`` is the model's (N, K) output and ``to_logits`` is None.
        ``output`` is the model's (N, K) output (probabilities).
    """
    names = {layer.name for layer in model.layers}
    pred = model.get_layer(PREDICTIONS) if PREDICTIONS in names else None
    if pred is None:
        if len(model.outputs) != 1:
            raise ValueError(f"Model {model.name!r} has {len(model.outputs)} outputs and no "
                             f"{PREDICTIONS!r} layer: cannot tell which output to explain.")
        out = model.outputs[0]
    else:
        out = pred.output
    if len(out.shape) != 2:
        raise ValueError(f"Expected a classifier with (N, K) outputs. Received: model "
                         f"{model.name!r} with output shape {tuple(out.shape)}")
    act = getattr(getattr(pred, "activation", None), "__name__", None)
    if isinstance(pred, keras.layers.Dense) and act in _LOGIT_ACTIVATIONS:
        kernel, bias = pred.kernel, pred.bias

        def to_logits(h):
            z = keras.ops.matmul(keras.ops.cast(h, "float32"), keras.ops.cast(kernel, "float32"))
            return z if bias is None else z + keras.ops.cast(bias, "float32")

        return pred.input, to_logits, out
    return out, None, out


def class_indices(class_index, scores) -> np.ndarray:
    """(B,) int class per row: ``class_index`` (int) for all, or None for each row's top score."""
    scores = np.asarray(scores)
    k = scores.shape[-1]
    if class_index is None:
        return np.argmax(scores, axis=-1)
    if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)) \
            or not 0 <= class_index < k:
        raise ValueError(f"Expected `class_index` in [0, {k}) or None (each image's top class). "
                         f"Received: class_index={class_index!r}")
    return np.full(scores.shape[0], int(class_index))


def select_scores(logits, idx):
    """(B,) entries ``logits[i, idx[i]]`` of a (B, K) tensor."""
    idx = keras.ops.convert_to_tensor(np.asarray(idx, dtype="int32")[:, None])
    return keras.ops.take_along_axis(logits, idx, axis=-1)[:, 0]


def upsample(maps, size) -> np.ndarray:
    """Bilinear resize of (N, h, w) maps to ``size`` = (H, W), float32."""
    h, w = int(size[0]), int(size[1])
    maps = np.asarray(maps, dtype=np.float32)
    if maps.shape[1:] == (h, w):
        return maps.copy()
    return np.stack([cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for m in maps])


def normalize_max(maps) -> np.ndarray:
    """Divide each non-negative map by its maximum (all-zero maps stay zero)."""
    maps = np.clip(np.asarray(maps, dtype=np.float32), 0.0, None)
    peak = maps.reshape(len(maps), -1).max(axis=1)
    scale = np.where(peak > 0, peak, 1.0).astype(np.float32)
    return np.clip(maps / scale[:, None, None], 0.0, 1.0)


def batches(n, batch_size):
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))

"""Attention maps W of Cardio-XAttentionNet (the AMM head's ``amm_attention`` layer).

Reference:
    Innat, Hossain, Mader, Kouzani. A convolutional attention mapping deep neural network for
    classification and localization of cardiomegaly on chest X-rays. Sci Rep 13, 2023
    (Fig. 1 and 7–9: W beside the image and superimposed at intensity 0.2).
"""

from __future__ import annotations

import keras
import numpy as np

from heartcv.explain._common import batches, check_batch_size, prepare_images, upsample
from heartcv.models.blocks import attention_model


def attention_maps(model, images, *, batch_size=8):
    """Probabilities and attention maps of a Cardio-XAttentionNet (``cxa_*``) model.

    One forward pass per batch through :func:`heartcv.models.attention_model` (the
    companion model with outputs ``[predictions, W]`` sharing the weights). W is the sigmoid
    map of the AMM head, in [0, 1] by construction; it is NOT rescaled per image, so a model
    that "learns not to map" non-cardiomegaly images (the paper's Fig. 7) shows low values.
    The models are fully convolutional, so any input size works (the paper trains at 224 and
    predicts at 1024).

    Args:
        model: a ``cxa_*`` model (any model with an ``amm_attention`` layer).
        images: (N, H, W[, C]) in [0, 255] (grey is repeated to the model's channels).
        batch_size: images per forward pass.

    Returns:
        ``(probs, maps)``: probs (N,) float32 for a one-unit output ((N, K) otherwise); maps
        (N, H, W) float32 in [0, 1], W upsampled (bilinear) to the input size.

    Raises:
        ValueError: if the model has no attention layer, or the images do not fit it.
    """
    batch_size = check_batch_size(batch_size)
    companion = attention_model(model)
    x = prepare_images(model, images)
    probs, maps = [], []
    for sl in batches(len(x), batch_size):
        p, w = companion([x[sl]], training=False)
        probs.append(keras.ops.convert_to_numpy(p).astype(np.float32))
        maps.append(keras.ops.convert_to_numpy(w)[..., 0].astype(np.float32))
    probs = np.concatenate(probs)
    maps = np.clip(upsample(np.concatenate(maps), x.shape[1:3]), 0.0, 1.0)
    return (probs[:, 0] if probs.shape[-1] == 1 else probs), maps

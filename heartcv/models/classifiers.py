"""A small from-scratch image classifier shared by every paper (CPU runs and tests).

The backbone + GAP baselines of Cardio-XAttentionNet are in
``heartcv.papers.cardio_xattentionnet.models``.

All builders take images in [0, 255] (the backbone's preprocessing is a layer inside the
model) and end in a layer named ``predictions``.
"""

from __future__ import annotations

import keras
from keras import layers

from heartcv.layers import ImagePreprocessing
from heartcv.models.blocks import classifier_head, conv_bn_relu, default_activation, validate_common
from heartcv.registry import register_model


@register_model("small_cnn", task="binary", description="4-block Conv-BN-ReLU CNN, GAP head (CPU-sized)")
def small_cnn(
    input_shape=(64, 64, 3),
    num_classes=1,
    filters=(16, 32, 64, 128),
    dropout=0.2,
    classifier_activation="auto",
    name="small_cnn",
):
    """A small Conv-BN-ReLU network for CPU runs and tests.

    Each block is two 3×3 convolutions and a 2×2 max-pool; global average pooling and a
    dense ``predictions`` layer follow. Input: images in [0, 255].
    """
    validate_common(input_shape=input_shape, num_classes=num_classes, dropout=dropout)
    if not filters or any(int(f) < 1 for f in filters):
        raise ValueError(f"Expected `filters` as positive ints. Received: filters={filters}")
    activation = default_activation(num_classes, classifier_activation)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = ImagePreprocessing("unit", name="preprocess")(inputs)
    for i, f in enumerate(filters, start=1):
        x = conv_bn_relu(x, int(f), f"block{i}a")
        x = conv_bn_relu(x, int(f), f"block{i}b")
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = classifier_head(x, num_classes=num_classes, activation=activation, dropout=dropout)
    return keras.Model(inputs, outputs, name=name)

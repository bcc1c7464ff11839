"""Image classifiers: a small from-scratch CNN and backbone + global-average-pooling heads.

All builders take images in [0, 255] (the backbone's preprocessing is a layer inside the
model) and end in a layer named ``predictions``.
"""

from __future__ import annotations

import keras
from keras import layers

from heartcv.layers import ImagePreprocessing
from heartcv.models.backbones import backbone_features
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


@register_model("densenet121_gap", task="binary", backbone="densenet121",
                description="DenseNet121 → GAP → Dense(128, ELU) → sigmoid (Cardio-XAttentionNet baseline)")
@register_model("densenet201_gap", task="binary", backbone="densenet201",
                description="DenseNet201 → GAP baseline")
@register_model("resnet50_gap", task="binary", backbone="resnet50",
                description="ResNet50 → GAP baseline")
@register_model("inceptionresnetv2_gap", task="binary", backbone="inceptionresnetv2",
                description="InceptionResNetV2 → GAP baseline")
def gap_classifier(
    input_shape=(224, 224, 3),
    num_classes=1,
    backbone="densenet121",
    backbone_weights=None,
    freeze_backbone=False,
    dropout=0.5,
    hidden_units=128,
    classifier_activation="auto",
    preprocessing="auto",
    name=None,
):
    """Backbone → global average pooling → [Dense(hidden, ELU)] → ``predictions``.

    The GAP baselines of Innat et al. (Cardio-XAttentionNet, Sci Rep 2023) use the same
    classifier as the AMM models (dropout, Dense 128 ELU, dropout, Dense 1 sigmoid).

    Args:
        input_shape: (H, W, 3); ``(None, None, 3)`` gives a fully convolutional model.
        backbone: a key of ``heartcv.models.backbones.BACKBONES``.
        backbone_weights: None (from scratch, glorot), ``"imagenet"`` or a local weights file.
        preprocessing: ``"auto"`` (what the backbone's weights expect) or an
            ``ImagePreprocessing`` mode.

    Reference:
        Innat, Hossain, Alexander, Duong, Sci Rep 13, 2023 (Cardio-XAttentionNet).
    Input range: [0, 255].
    """
    validate_common(input_shape=input_shape, num_classes=num_classes, dropout=dropout)
    activation = default_activation(num_classes, classifier_activation)
    inputs, features = backbone_features(
        input_shape=input_shape, backbone=backbone, backbone_weights=backbone_weights,
        freeze_backbone=freeze_backbone, preprocessing=preprocessing)
    x = layers.GlobalAveragePooling2D(name="gap")(features)
    outputs = classifier_head(x, num_classes=num_classes, activation=activation, dropout=dropout,
                              hidden=hidden_units, hidden_activation="elu")
    return keras.Model(inputs, outputs, name=name or f"{backbone}_gap")

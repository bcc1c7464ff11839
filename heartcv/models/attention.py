"""Cardio-XAttentionNet: backbones with the Attention Mapping Mechanism (AMM) head.

Layers follow the paper's Table 3 and Eq. 8–9: BatchNorm on the backbone features F; 1×1
convolutions of 128, 32 and 16 filters with ELU; 2×2 average pooling (stride 1, 'same'); a
1×1 convolution to one channel with sigmoid — the attention map W; a frozen all-ones 1×1
convolution without bias that copies W to every channel of F; A = F ⊙ W; global weighted
average pooling GAP(A) / GAP(W); dropout; Dense 128 ELU; dropout; Dense 1 sigmoid
``predictions``. The model is fully convolutional up to the pooling, so it trains at 224 and
predicts at full size (1024) as the paper does; ``attention_model`` exposes W.
"""

from __future__ import annotations

import keras
from keras import layers

from heartcv.layers import GlobalWeightedAveragePooling
from heartcv.models.backbones import backbone_features
from heartcv.models.blocks import default_activation, validate_common
from heartcv.registry import register_model

ATTENTION_LAYER = "amm_attention"  # the sigmoid map W (batch, h, w, 1)
PAPER = "cardio-xattentionnet-amm"


def amm_head(features, *, dropout=0.5, hidden_units=128, num_classes=1, activation="sigmoid",
             scope="amm"):
    """The AMM head of Table 3 on backbone features ``features`` (functional API)."""
    channels = features.shape[-1]
    x = layers.BatchNormalization(name=f"{scope}_bn")(features)
    w = x
    for i, filters in enumerate((128, 32, 16), start=1):
        w = layers.Conv2D(filters, 1, padding="same", activation="elu",
                          kernel_initializer="glorot_uniform", name=f"{scope}_conv{i}")(w)
    w = layers.AveragePooling2D(pool_size=2, strides=1, padding="same", name=f"{scope}_avgpool")(w)
    w = layers.Conv2D(1, 1, padding="valid", activation="sigmoid",
                      kernel_initializer="glorot_uniform", name=ATTENTION_LAYER)(w)
    broadcast = layers.Conv2D(channels, 1, padding="same", use_bias=False, activation="linear",
                              kernel_initializer="ones", trainable=False,
                              name=f"{scope}_broadcast")
    w_all = broadcast(w)
    a = layers.Multiply(name=f"{scope}_weighted")([w_all, x])
    x = GlobalWeightedAveragePooling(name=f"{scope}_gwap")([a, w_all])
    if dropout:
        x = layers.Dropout(dropout, name=f"{scope}_dropout1")(x)
    x = layers.Dense(hidden_units, activation="elu", kernel_initializer="glorot_uniform",
                     name=f"{scope}_dense")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{scope}_dropout2")(x)
    return layers.Dense(num_classes, activation=activation, dtype="float32",
                        kernel_initializer="glorot_uniform", name="predictions")(x)


@register_model("cxa_densenet121", task="binary", paper=PAPER, backbone="densenet121",
                description="Cardio-XAttentionNet: DenseNet121 + Attention Mapping Mechanism")
@register_model("cxa_densenet201", task="binary", paper=PAPER, backbone="densenet201",
                description="Cardio-XAttentionNet: DenseNet201 + AMM")
@register_model("cxa_resnet50", task="binary", paper=PAPER, backbone="resnet50",
                description="Cardio-XAttentionNet: ResNet50 + AMM")
@register_model("cxa_inceptionresnetv2", task="binary", paper=PAPER, backbone="inceptionresnetv2",
                description="Cardio-XAttentionNet: InceptionResNetV2 + AMM")
def attention_classifier(
    input_shape=(None, None, 3),
    num_classes=1,
    backbone="densenet121",
    backbone_weights=None,
    freeze_backbone=False,
    dropout=0.5,
    hidden_units=128,
    classifier_activation="auto",
    preprocessing="minmax",
    name=None,
):
    """Backbone → AMM head (Cardio-XAttentionNet).

    Args:
        input_shape: (H, W, 3); the default ``(None, None, 3)`` takes any size (train at 224,
            predict at 1024).
        backbone: a key of ``heartcv.models.backbones.BACKBONES``.
        backbone_weights: None (trained from scratch with glorot init, the paper's choice),
            ``"imagenet"`` or a local weights file.
        preprocessing: ``"minmax"`` (per-image min–max to [0, 1], the paper's normalisation),
            ``"auto"`` (what ImageNet weights expect) or another ``ImagePreprocessing`` mode.

    Reference:
        Innat, Hossain, Mader, Kouzani. A convolutional attention mapping deep neural network
        for classification and localization of cardiomegaly on chest X-rays. Sci Rep 13, 2023.
    Input range: [0, 255].
    """
    validate_common(input_shape=input_shape, num_classes=num_classes, dropout=dropout)
    activation = default_activation(num_classes, classifier_activation)
    inputs, features = backbone_features(
        input_shape=input_shape, backbone=backbone, backbone_weights=backbone_weights,
        freeze_backbone=freeze_backbone, preprocessing=preprocessing)
    outputs = amm_head(features, dropout=dropout, hidden_units=hidden_units,
                       num_classes=num_classes, activation=activation)
    return keras.Model(inputs, outputs, name=name or f"cxa_{backbone}")


def attention_model(model: keras.Model) -> keras.Model:
    """Companion model returning ``[predictions, attention map W]`` (shares the weights)."""
    try:
        att = model.get_layer(ATTENTION_LAYER)
    except ValueError:
        raise ValueError(
            f"Model {model.name!r} has no attention layer {ATTENTION_LAYER!r}: only "
            f"Cardio-XAttentionNet models (cxa_*) have attention maps."
        ) from None
    return keras.Model(model.inputs, [model.output, att.output], name=f"{model.name}_attention")

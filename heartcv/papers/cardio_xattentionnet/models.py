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
from heartcv.models.backbones import BACKBONES, backbone_features, on_backbone_registered
from heartcv.models.blocks import (  # noqa: F401  (ATTENTION_LAYER, attention_model: shared)
    ATTENTION_LAYER,
    attention_model,
    check_normalization,
    classifier_head,
    default_activation,
    validate_common,
)
from heartcv.registry import register_model

PAPER = "cardio_xattentionnet"


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
    normalization="percentile",
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
        normalization: per-image intensity normalisation before ``preprocessing``
            (``heartcv.layers.IntensityNormalization``: ``"percentile"`` 1st–99th stretch to
            [0, 255], the default, ``"histeq"``, ``"clahe"``), a layer named ``normalize``;
            ``"none"`` adds no layer (the paper: min–max only).

    Reference:
        Innat, Hossain, Mader, Kouzani. A convolutional attention mapping deep neural network
        for classification and localization of cardiomegaly on chest X-rays. Sci Rep 13, 2023.
    Input range: [0, 255].
    """
    validate_common(input_shape=input_shape, num_classes=num_classes, dropout=dropout)
    check_normalization(normalization)
    activation = default_activation(num_classes, classifier_activation)
    inputs, features = backbone_features(
        input_shape=input_shape, backbone=backbone, backbone_weights=backbone_weights,
        freeze_backbone=freeze_backbone, preprocessing=preprocessing,
        normalization=normalization)
    outputs = amm_head(features, dropout=dropout, hidden_units=hidden_units,
                       num_classes=num_classes, activation=activation)
    return keras.Model(inputs, outputs, name=name or f"cxa_{backbone}")


def gap_classifier(
    input_shape=(None, None, 3),
    num_classes=1,
    backbone="densenet121",
    backbone_weights=None,
    freeze_backbone=False,
    dropout=0.5,
    hidden_units=128,
    classifier_activation="auto",
    preprocessing="minmax",
    normalization="percentile",
    name=None,
):
    """Backbone → global average pooling → [Dense(hidden, ELU)] → ``predictions``.

    The GAP baselines of Innat et al.'s Table 5: the same backbone with its last layers
    replaced by GAP "followed by a classification layer" (Results); heartcv gives them the
    AMM models' classifier (dropout, Dense 128 ELU, dropout, Dense 1 sigmoid, Table 3) and
    the same input scaling (per-image min–max to [0, 1], "Data preprocessing", after the same
    ``normalize`` layer), so an AMM-vs-GAP row differs only in the pooling head. Like the AMM
    models, the default input is any size (train at 224, test at full size).

    Args:
        input_shape: (H, W, 3); the default ``(None, None, 3)`` is fully convolutional.
        backbone: a key of ``heartcv.models.backbones.BACKBONES``.
        backbone_weights: None (from scratch, glorot), ``"imagenet"`` or a local weights file.
        preprocessing: ``"minmax"`` (the paper's normalisation, as :func:`attention_classifier`),
            ``"auto"`` (what the backbone's ImageNet weights expect: pass it with
            ``backbone_weights="imagenet"``) or another ``ImagePreprocessing`` mode.
        normalization: per-image intensity normalisation before ``preprocessing``, as in
            :func:`attention_classifier` (default ``"percentile"``; ``"none"``: no layer).

    References:
        Innat M, Hossain MF, Mader K, Kouzani AZ. A convolutional attention mapping deep
        neural network for classification and localization of cardiomegaly on chest X-rays.
        Sci Rep 13, 2023 (the GAP-vs-AMM comparison, Table 5).
        Zhou B, Khosla A, Lapedriza A, Oliva A, Torralba A. Learning deep features for
        discriminative localization. CVPR 2016 (the GAP head; the paper's ref. 27).
    Input range: [0, 255].
    """
    validate_common(input_shape=input_shape, num_classes=num_classes, dropout=dropout)
    check_normalization(normalization)
    activation = default_activation(num_classes, classifier_activation)
    inputs, features = backbone_features(
        input_shape=input_shape, backbone=backbone, backbone_weights=backbone_weights,
        freeze_backbone=freeze_backbone, preprocessing=preprocessing,
        normalization=normalization)
    x = layers.GlobalAveragePooling2D(name="gap")(features)
    outputs = classifier_head(x, num_classes=num_classes, activation=activation, dropout=dropout,
                              hidden=hidden_units, hidden_activation="elu")
    return keras.Model(inputs, outputs, name=name or f"{backbone}_gap")


def register_backbone_variants(key: str) -> None:
    """Register ``cxa_<key>`` (AMM head) and ``<key>_gap`` (its GAP baseline) for a backbone.

    Called for every classification entry of ``BACKBONES`` on import and for every backbone
    added later with :func:`heartcv.models.backbones.register_backbone`: a new backbone is one
    table entry, with no edit here.
    """
    info = BACKBONES[key]
    if not info.classification:
        return
    label = info.constructor if isinstance(info.constructor, str) else key
    register_model(f"cxa_{key}", task="binary", paper=PAPER, backbone=key,
                   description=f"Cardio-XAttentionNet: {label} + Attention Mapping Mechanism")(
        attention_classifier)
    register_model(f"{key}_gap", task="binary", paper=PAPER, backbone=key,
                   description=f"{label} → GAP → Dense(128, ELU) → sigmoid "
                               f"(Cardio-XAttentionNet baseline)")(gap_classifier)


for _key in BACKBONES:
    register_backbone_variants(_key)
on_backbone_registered(register_backbone_variants)

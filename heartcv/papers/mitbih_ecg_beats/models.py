"""MIT-BIH single-beat image classifiers.

``mitbih_vgg16`` is the classifier of Le, Le & Vu (2021), their Table 2: the VGG16
convolutional base (ImageNet weights, frozen) on 128 x 128 x 3 beat images, then Flatten,
``fc1`` Dense(4096, ReLU), dropout, ``fc2`` Dense(4096, ReLU), dropout and a 5-way softmax
``predictions`` (classes F, N, Q, S, V). At 128 x 128 x 3 it has exactly the paper's
65,075,013 parameters, 50,360,325 trainable and 14,714,688 non-trainable (the preprocessing
layer has none).
"""

from __future__ import annotations

import keras
from keras import layers

from heartcv.models.backbones import backbone_features
from heartcv.models.blocks import default_activation, validate_common
from heartcv.registry import register_model

PAPER = "mitbih_ecg_beats"


@register_model("mitbih_vgg16", task="multiclass", paper=PAPER,
                description="VGG16 base (frozen) → Flatten → fc1/fc2 4096 → 5-way softmax "
                            "(Le et al. 2021, Table 2)")
def mitbih_vgg16(
    input_shape=(128, 128, 3),
    num_classes=5,
    backbone="vgg16",
    backbone_weights="imagenet",
    freeze_backbone=True,
    dropout=0.4,
    hidden_units=4096,
    classifier_activation="auto",
    preprocessing="auto",
    name="mitbih_vgg16",
):
    """VGG16 convolutional base, Flatten and two 4096-unit layers: the beat-image classifier.

    Args:
        input_shape: (H, W, 3); the paper feeds 128 x 128 x 3 (PNG beats of 256 x 256 resized
            with ``cv2.resize``). The Flatten head fixes the size at build time.
        num_classes: 5 (AAMI F, N, Q, S, V in the paper's order).
        backbone: a key of ``heartcv.models.backbones.BACKBONES`` (the paper: ``"vgg16"``).
        backbone_weights: ``"imagenet"`` (the paper; needs the Keras weights file, which this
            workplace cannot download), ``None`` (random init) or a local weights file.
        freeze_backbone: keep the convolutional base fixed (the paper: 14,714,688
            non-trainable parameters).
        dropout: rate of both dropout layers (the paper settles on 0.4 after trying 0.3, 0.5).
        hidden_units: width of ``fc1`` and ``fc2``.
        classifier_activation: ``"auto"`` (softmax for several classes), or a Keras name.
        preprocessing: ``"auto"`` (the backbone's ImageNet scaling, caffe for VGG16) or an
            ``ImagePreprocessing`` mode; a layer inside the model with no parameters.
        name: model name.

    Reference:
        Le XV, Le XV, Vu HT. Classification of ECG images by deep learning to support the
        diagnosis of cardiovascular diseases. Quy Nhon University Journal of Science (2021),
        Section 3 and Table 2.
    Input range: [0, 255].
    """
    validate_common(input_shape=input_shape, num_classes=num_classes, dropout=dropout)
    if any(s is None for s in tuple(input_shape)[:2]):
        raise ValueError("Expected a fixed `input_shape` (the Flatten head needs it). "
                         f"Received: input_shape={input_shape}")
    if not isinstance(hidden_units, int) or isinstance(hidden_units, bool) or hidden_units < 1:
        raise ValueError(f"Expected `hidden_units` >= 1. Received: hidden_units={hidden_units!r}")
    activation = default_activation(num_classes, classifier_activation)
    inputs, features = backbone_features(
        input_shape=input_shape, backbone=backbone, backbone_weights=backbone_weights,
        freeze_backbone=freeze_backbone, preprocessing=preprocessing)
    x = layers.Flatten(name="flatten")(features)
    x = layers.Dense(hidden_units, activation="relu", name="fc1")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(hidden_units, activation="relu", name="fc2")(x)
    x = layers.Dropout(dropout, name="dropout_1")(x)
    outputs = layers.Dense(num_classes, activation=activation, dtype="float32",
                           name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)

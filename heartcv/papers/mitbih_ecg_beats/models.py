"""MIT-BIH single-beat image classifiers.

``mitbih_vgg16`` is the classifier of Le, Le & Vu (2021), their Table 2: the VGG16
convolutional base (ImageNet weights, frozen) on 128 x 128 x 3 beat images, then Flatten,
``fc1`` Dense(4096, ReLU), dropout, ``fc2`` Dense(4096, ReLU), dropout and a 5-way softmax
``predictions`` (classes F, N, Q, S, V). At 128 x 128 x 3 it has exactly the paper's
65,075,013 parameters, 50,360,325 trainable and 14,714,688 non-trainable (the preprocessing
layer has none).

Beyond the paper (CPU-sized, trained from scratch; ``heartcv.papers.mitbih_ecg_beats.fast``):

* ``mitbih_beat_cnn``: a compact beat-image CNN (four Conv-BN-ReLU + max-pool blocks, Flatten,
  so the position of the neighbouring beats in the window is kept, one hidden layer).
* ``mitbih_beat_rr``: the same image branch plus a second input, the six RR-interval features
  of :data:`heartcv.papers.mitbih_ecg_beats.beatset.RR_FEATURES` (pre-RR, post-RR, local and
  record-average RR, normalised by the record's mean RR), through two small dense layers;
  both are concatenated before the softmax. Single-beat images carry little rhythm: the
  RR features are what tells a supraventricular premature beat from a normal one in a new
  patient (de Chazal et al., IEEE TBME 51(7), 2004).
"""

from __future__ import annotations

import keras
from keras import layers

from heartcv.layers import ImagePreprocessing
from heartcv.models.backbones import backbone_features
from heartcv.models.blocks import conv_bn_relu, default_activation, validate_common
from heartcv.registry import register_model

PAPER = "mitbih_ecg_beats"


def _validate_flatten_head(input_shape, num_classes, dropout):
    """The common checks, and a fixed (H, W): a Flatten head fixes the size at build time."""
    validate_common(input_shape=input_shape, num_classes=num_classes, dropout=dropout)
    if any(s is None for s in tuple(input_shape)[:2]):
        raise ValueError("Expected a fixed `input_shape` (the Flatten head needs it). "
                         f"Received: input_shape={input_shape}")


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
    _validate_flatten_head(input_shape, num_classes, dropout)
    _check_units("hidden_units", hidden_units)
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


def _check_filters(filters):
    if not filters or any(not isinstance(f, int) or isinstance(f, bool) or f < 1 for f in filters):
        raise ValueError(f"Expected `filters` as positive ints. Received: filters={filters!r}")
    return tuple(int(f) for f in filters)


def _beat_image_branch(inputs, filters, hidden):
    x = ImagePreprocessing("unit", name="preprocess")(inputs)
    for i, f in enumerate(filters, start=1):
        x = conv_bn_relu(x, f, f"block{i}")
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    return layers.Dense(hidden, activation="relu", name="image_dense")(x)


def _check_units(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"Expected `{name}` >= 1. Received: {name}={value!r}")


@register_model("mitbih_beat_cnn", task="multiclass", paper=PAPER,
                description="compact beat-image CNN: 4 x (Conv-BN-ReLU, max-pool), Flatten, "
                            "Dense (beyond the paper; CPU-trainable)")
def mitbih_beat_cnn(
    input_shape=(64, 64, 1),
    num_classes=5,
    filters=(8, 16, 32, 64),
    hidden=128,
    dropout=0.3,
    classifier_activation="auto",
    name="mitbih_beat_cnn",
):
    """A CPU-trainable single-beat image classifier (beyond the paper).

    Four blocks of a 3 x 3 Conv-BN-ReLU and a 2 x 2 max-pool (``filters``), Flatten (not
    global pooling: where the neighbouring beats sit in the window is the rhythm the image
    shows), ``image_dense`` Dense(``hidden``, ReLU), dropout, softmax ``predictions``. At
    64 x 64 x 1 with the defaults: 156,589 parameters, about 4 M multiply-adds per beat.

    Input range: [0, 255] (a ``preprocess`` layer scales to [0, 1]).
    """
    _validate_flatten_head(input_shape, num_classes, dropout)
    filters = _check_filters(filters)
    _check_units("hidden", hidden)
    activation = default_activation(num_classes, classifier_activation)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = _beat_image_branch(inputs, filters, hidden)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation=activation, dtype="float32",
                           name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


@register_model("mitbih_beat_rr", task="multiclass", paper=PAPER,
                description="beat image + RR-interval features (pre/post/local/record RR) as a "
                            "second input (beyond the paper; de Chazal-style inter-patient)")
def mitbih_beat_rr(
    input_shape=(64, 64, 1),
    num_classes=5,
    rr_features=6,
    filters=(8, 16, 32, 64),
    hidden=64,
    rr_units=32,
    image_dropout=0.5,
    dropout=0.3,
    classifier_activation="auto",
    name="mitbih_beat_rr",
):
    """Beat image and RR context: two inputs, ``{"image": (H, W, C), "rr": (rr_features,)}``.

    The image branch is :func:`mitbih_beat_cnn`'s; the ``rr`` input (the features of
    :data:`heartcv.papers.mitbih_ecg_beats.beatset.RR_FEATURES`, already normalised per
    record) goes through two Dense(``rr_units``, ReLU) layers; the image features pass a
    dropout of their own (``image_dropout``, ``image_dropout`` layer) before both are
    concatenated, then dropout and the softmax ``predictions``. The image dropout makes the
    network use the RR branch: on the 22 DS1 patients the image alone separates the training
    beats (it can learn the patients' morphology), which does not carry to new patients.

    Input range: image [0, 255]; rr as :func:`heartcv.papers.mitbih_ecg_beats.beatset.rr_matrix`
    returns it (ratios in [0, 5], the record mean in seconds).
    """
    _validate_flatten_head(input_shape, num_classes, dropout)
    filters = _check_filters(filters)
    for key, value in (("rr_features", rr_features), ("hidden", hidden), ("rr_units", rr_units)):
        _check_units(key, value)
    if isinstance(image_dropout, bool) or not (isinstance(image_dropout, (int, float))
                                               and 0.0 <= image_dropout < 1.0):
        raise ValueError(f"Expected `image_dropout` in [0, 1). Received: "
                         f"image_dropout={image_dropout!r}")
    activation = default_activation(num_classes, classifier_activation)
    image = keras.Input(shape=tuple(input_shape), name="image")
    rr = keras.Input(shape=(rr_features,), name="rr")
    x = _beat_image_branch(image, filters, hidden)
    x = layers.Dropout(image_dropout, name="image_dropout")(x)
    r = layers.Dense(rr_units, activation="relu", name="rr_dense1")(rr)
    r = layers.Dense(rr_units, activation="relu", name="rr_dense2")(r)
    x = layers.Concatenate(name="concat")([x, r])
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation=activation, dtype="float32",
                           name="predictions")(x)
    return keras.Model({"image": image, "rr": rr}, outputs, name=name)

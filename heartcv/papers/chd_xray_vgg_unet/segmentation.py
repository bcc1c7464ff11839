"""Segmentation networks: U-Net (CHD paper Fig. 6) and VGG16-U-Net.

Both take images in [0, 255] (scaling is a layer inside the model) and end in a 1×1
convolution named ``predictions`` giving per-pixel probabilities (sigmoid by default), shape
``(H, W, num_classes)``. ``input_shape=(None, None, C)`` builds a fully convolutional model;
a fixed side must be divisible by the network's total down-sampling (``2**depth`` for
``unet``, 32 for ``vgg16_unet``).

Skip connections are looked up by layer NAME: ``unet`` exposes ``enc{i}_conv2_relu``
(:func:`unet_skip_names`), ``vgg16_unet`` the VGG16 feature layers of
``heartcv.models.backbones.BACKBONES["vgg16"]`` (``block1_conv2`` … ``block5_conv3``).
"""

from __future__ import annotations

import keras
from keras import layers

from heartcv.layers import ImagePreprocessing
from heartcv.layers.image_preprocessing import MODES as PREPROCESSING_MODES
from heartcv.models.backbones import get_backbone_info
from heartcv.models.blocks import (
    ACTIVATIONS, check_normalization, conv_bn_relu, intensity_normalization, validate_common,
)
from heartcv.papers.chd_xray_vgg_unet.vgg16 import (
    check_width_batchnorm, uses_applications, vgg16_encoder_model,
)
from heartcv.registry import register_model

PAPER = "chd_xray_vgg_unet"
# VGG16 configuration D: (block, convolutions, filters); pools after every block.
VGG16_DECODER_FILTERS = (256, 128, 64, 32, 16)


def unet_skip_names(depth: int = 4) -> list[str]:
    """Names of the ``unet`` encoder outputs fed to the decoder, shallow → deep."""
    return [f"enc{i}_conv2_relu" for i in range(1, depth + 1)]


def _is_int_at_least(value, low) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _check_int(value, name, low):
    if not _is_int_at_least(value, low):
        raise ValueError(f"Expected `{name}` as an int >= {low}. Received: {name}={value!r}")


def _check_segmentation_args(input_shape, num_classes, dropout, classifier_activation, multiple):
    validate_common(input_shape=input_shape, num_classes=num_classes, dropout=dropout)
    if classifier_activation not in ACTIVATIONS:
        raise ValueError(f"Expected `classifier_activation` in {ACTIVATIONS}. "
                         f"Received: classifier_activation={classifier_activation!r}")
    h, w, c = input_shape
    if c not in (1, 3):
        raise ValueError("Expected 1 or 3 input channels. "
                         f"Received: input_shape={tuple(input_shape)}")
    for side in (h, w):
        if side is not None and (not isinstance(side, int) or side < multiple or side % multiple):
            raise ValueError(
                f"Expected input height and width divisible by {multiple} (or None). "
                f"Received: input_shape={tuple(input_shape)}")


def _conv_block(x, filters, scope, batchnorm, kernel_size=3):
    """Conv [→ BN] → ReLU; the ReLU is always ``{scope}_relu`` so skips keep their names."""
    if batchnorm:
        return conv_bn_relu(x, filters, scope, kernel_size=kernel_size)
    x = layers.Conv2D(filters, kernel_size, padding="same", kernel_initializer="he_normal",
                      name=f"{scope}_conv")(x)
    return layers.Activation("relu", name=f"{scope}_relu")(x)


def _predictions(x, num_classes, activation):
    # float32 output even under mixed precision, so losses and metrics stay stable.
    return layers.Conv2D(num_classes, 1, activation=activation, dtype="float32",
                         name="predictions")(x)


@register_model("unet", task="segmentation", paper=PAPER,
                description="U-Net (CHD paper Fig. 6 / Ronneberger 2015), sigmoid mask")
def unet(
    input_shape=(256, 256, 1),
    num_classes=1,
    base_filters=64,
    depth=4,
    batchnorm=True,
    dropout=0.5,
    classifier_activation="sigmoid",
    normalization="percentile",
    name="unet",
):
    """U-Net: ``depth`` down-sampling levels of two 3×3 convolutions, mirrored decoder.

    The layout of Ronneberger et al. as used (in its Keras form) by the CHD paper's Figure 6:
    level ``i`` has ``base_filters · 2**(i-1)`` filters (64 … 1024 at the defaults), a 2×2
    max-pool between levels, dropout at the end of the contracting path (the deepest two
    levels), and each decoder step is 2× up-sampling → 2×2 "up-convolution" → concatenation
    with the encoder output of the same size → two 3×3 convolutions; a 1×1 convolution named
    ``predictions`` gives the mask. ``padding="same"``, so the mask has the input's size.
    ``batchnorm=True`` adds BatchNormalization after every convolution (not in the original,
    needed for short from-scratch runs); ``base_filters=16`` is the CPU setting.

    Args:
        input_shape: (H, W, 1 or 3); H and W divisible by ``2**depth``, or None.
        num_classes: output channels (one sigmoid mask per structure).
        base_filters: filters of the first level.
        depth: number of 2×2 poolings (4 in the paper).
        batchnorm: BatchNormalization after each convolution.
        dropout: dropout rate at the two deepest encoder levels (0.5 in Ronneberger et al.).
        classifier_activation: ``"sigmoid"``, ``"softmax"``, ``"linear"`` or None.
        normalization: per-image intensity normalisation inside the model
            (``heartcv.layers.IntensityNormalization``: ``"percentile"`` 1st–99th stretch, the
            default, ``"histeq"``, ``"clahe"``) or ``"none"`` (the paper: only ÷255). It makes
            the mask independent of a radiograph's exposure (a model that only divides by
            255 scored Dice 0.000 on its own test images dimmed to 45%).
        name: model name.

    Reference:
        Ronneberger, Fischer, Brox. U-Net: Convolutional Networks for Biomedical Image
        Segmentation. MICCAI 2015. Used as Figure 6 of "Congenital heart disease detection
        from chest X-rays with VGG and U-Net" (the CHD paper of this package).
    Input range: [0, 255].
    """
    _check_int(base_filters, "base_filters", 1)
    _check_int(depth, "depth", 1)
    if depth > 6:
        raise ValueError(f"Expected `depth` in [1, 6]. Received: depth={depth!r}")
    _check_segmentation_args(input_shape, num_classes, dropout, classifier_activation, 2 ** depth)
    check_normalization(normalization)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = intensity_normalization(inputs, normalization)
    x = ImagePreprocessing("unit", name="preprocess")(x)
    skips = []
    for i in range(1, depth + 2):  # the last level is the bottleneck
        f = base_filters * 2 ** (i - 1)
        x = _conv_block(x, f, f"enc{i}_conv1", batchnorm)
        x = _conv_block(x, f, f"enc{i}_conv2", batchnorm)
        if dropout and i >= depth:
            x = layers.Dropout(dropout, name=f"enc{i}_dropout")(x)
        if i <= depth:
            skips.append(x)
            x = layers.MaxPooling2D(2, name=f"enc{i}_pool")(x)
    for i in range(depth, 0, -1):
        f = base_filters * 2 ** (i - 1)
        x = layers.UpSampling2D(2, name=f"dec{i}_upsample")(x)
        x = _conv_block(x, f, f"dec{i}_upconv", batchnorm, kernel_size=2)
        x = layers.Concatenate(name=f"dec{i}_concat")([skips[i - 1], x])
        x = _conv_block(x, f, f"dec{i}_conv1", batchnorm)
        x = _conv_block(x, f, f"dec{i}_conv2", batchnorm)
    outputs = _predictions(x, num_classes, classifier_activation)
    return keras.Model(inputs, outputs, name=name)


@register_model("vgg16_unet", task="segmentation", paper=PAPER,
                description="VGG16 encoder (skips block1_conv2…block5_conv3) + U-Net decoder")
def vgg16_unet(
    input_shape=(256, 256, 3),
    num_classes=1,
    backbone_weights=None,
    freeze_backbone=False,
    decoder_filters=None,
    width=1.0,
    batchnorm=False,
    dropout=0.0,
    preprocessing="auto",
    classifier_activation="sigmoid",
    normalization="percentile",
    name="vgg16_unet",
):
    """VGG16-U-Net: VGG16 encoder, decoder of up-sampling + concatenation + conv blocks.

    The encoder's five feature layers ``block1_conv2`` … ``block5_conv3`` (full, 1/2 … 1/16
    resolution) are the skips; decoding starts from ``block5_pool`` (1/32). Each decoder
    step is 2× up-sampling → concatenation with the skip → two 3×3 conv [BN] ReLU, and a
    1×1 convolution named ``predictions`` gives the mask at the input size.

    With ``width=1.0`` and ``batchnorm=False`` the encoder is ``keras.applications.VGG16``
    (wired flat through ``heartcv.models.backbones``), so ImageNet weights can be loaded and
    the input is preprocessed as those weights expect (``caffe``). ``width < 1`` or
    ``batchnorm=True`` builds the same topology and layer names with scaled filters and/or
    BatchNormalization, from scratch only (input scaled to [0, 1]): the CPU setting.
    Grey (1-channel) input is repeated to 3 channels by a ``Concatenate`` layer for the
    ``keras.applications`` encoder.

    Args:
        input_shape: (H, W, 1 or 3); H and W divisible by 32, or None.
        num_classes: output channels.
        backbone_weights: None (from scratch), ``"imagenet"`` or a local VGG16 notop file.
        freeze_backbone: keep the encoder's weights fixed.
        decoder_filters: five filter counts, deepest first; None → (256, 128, 64, 32, 16)
            scaled by ``width``.
        width: encoder filter multiplier in (0, 1].
        batchnorm: BatchNormalization after every encoder and decoder convolution.
        dropout: dropout rate on the deepest encoder output (``block5_pool``).
        preprocessing: ``"auto"`` or an ``ImagePreprocessing`` mode.
        classifier_activation: ``"sigmoid"``, ``"softmax"``, ``"linear"`` or None.
        normalization: per-image intensity normalisation before ``preprocessing``, as in
            :func:`unet` (default ``"percentile"``; ``"none"`` for the paper's ÷255 only).
        name: model name.

    Reference:
        Simonyan, Zisserman. Very Deep Convolutional Networks for Large-Scale Image
        Recognition. ICLR 2015; the VGG-U-Net of Figure 8 of the CHD paper of this package;
        Iglovikov, Shvets. TernausNet, arXiv:1801.05746 (2018).
    Input range: [0, 255].
    """
    _check_segmentation_args(input_shape, num_classes, dropout, classifier_activation, 32)
    check_normalization(normalization)
    check_width_batchnorm(width, batchnorm)
    if decoder_filters is None:
        decoder_filters = tuple(max(1, int(round(f * width))) for f in VGG16_DECODER_FILTERS)
    if (not isinstance(decoder_filters, (list, tuple)) or len(decoder_filters) != 5
            or not all(_is_int_at_least(f, 1) for f in decoder_filters)):
        raise ValueError("Expected `decoder_filters` as 5 positive ints, deepest first. "
                         f"Received: decoder_filters={decoder_filters!r}")
    applications = uses_applications(width, batchnorm, backbone_weights, part="encoder",
                                     scaled="encoder")
    if preprocessing != "auto" and preprocessing not in PREPROCESSING_MODES:
        raise ValueError(f"Expected `preprocessing` in {('auto', *PREPROCESSING_MODES)}. "
                         f"Received: preprocessing={preprocessing!r}")
    info = get_backbone_info("vgg16")
    mode = preprocessing
    if preprocessing == "auto":
        mode = info.preprocessing if applications else "unit"
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = intensity_normalization(inputs, normalization)
    encoder = vgg16_encoder_model(inputs, x, mode, applications=applications,
                                  backbone_weights=backbone_weights, width=width,
                                  batchnorm=batchnorm)
    x = encoder.output
    if freeze_backbone and applications:
        encoder.trainable = False
    elif freeze_backbone:
        for layer in encoder.layers:
            layer.trainable = False
    get_layer = encoder.get_layer
    skips = [get_layer(n).output for n in info.feature_layers]
    if dropout:
        x = layers.Dropout(dropout, name="block5_dropout")(x)
    for i, (skip, f) in enumerate(zip(reversed(skips), decoder_filters), start=1):
        x = layers.UpSampling2D(2, name=f"decoder{i}_upsample")(x)
        x = layers.Concatenate(name=f"decoder{i}_concat")([x, skip])
        x = _conv_block(x, f, f"decoder{i}_conv1", batchnorm)
        x = _conv_block(x, f, f"decoder{i}_conv2", batchnorm)
    outputs = _predictions(x, num_classes, classifier_activation)
    return keras.Model(inputs, outputs, name=name)

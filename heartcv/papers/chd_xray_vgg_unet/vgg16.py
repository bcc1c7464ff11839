"""The VGG16 encoder both CHD builders share (``vgg16_finetune``, ``vgg16_unet``).

``keras.applications.VGG16`` when ``width == 1`` and ``batchnorm`` is off (ImageNet weights
possible), else :func:`heartcv.models.blocks.vgg16_encoder`: the same topology and layer
names with scaled filters and/or BatchNormalization, from scratch only.
"""

from __future__ import annotations

import keras
from keras import layers

from heartcv.layers import ImagePreprocessing
from heartcv.models.backbones import build_backbone
from heartcv.models.blocks import vgg16_encoder


def check_width_batchnorm(width, batchnorm) -> None:
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0.0 < width <= 1.0:
        raise ValueError(f"Expected `width` in (0, 1]. Received: width={width!r}")
    if not isinstance(batchnorm, bool):
        raise TypeError(f"Expected `batchnorm` to be a bool. Received: batchnorm={batchnorm!r}")


def uses_applications(width, batchnorm, backbone_weights, *, part="network", scaled="VGG16"):
    """True for ``keras.applications.VGG16`` (``width == 1``, no BatchNormalization); the
    scaled or batch-normalised encoder takes no pretrained weights."""
    applications = width == 1.0 and not batchnorm
    if not applications and backbone_weights not in (None, "none", "None"):
        raise ValueError(
            f"Pretrained VGG16 weights need the original {part} (width=1.0, batchnorm=False); "
            f"a scaled or batch-normalised {scaled} is trained from scratch. Received: "
            f"backbone_weights={backbone_weights!r}, width={width}, batchnorm={batchnorm}")
    return applications


def vgg16_encoder_model(inputs, x, mode, *, applications, backbone_weights, width, batchnorm):
    """``x`` (normalised ``inputs``) → [``grey_to_rgb``] → ``preprocess`` → VGG16; returns a
    ``keras.Model`` from ``inputs`` to ``block5_pool`` whose layers are looked up by name."""
    if inputs.shape[-1] == 1 and applications:
        x = layers.Concatenate(axis=-1, name="grey_to_rgb")([x, x, x])
    x = ImagePreprocessing(mode, name="preprocess")(x)
    if applications:
        return build_backbone("vgg16", x, backbone_weights)
    return keras.Model(inputs, vgg16_encoder(x, width, batchnorm))

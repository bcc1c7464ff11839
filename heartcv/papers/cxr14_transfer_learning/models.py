"""ChestX-ray14 14-label transfer-learning models (DenseNet121, ResNet50).

The models of the cxr14 transfer-learning paper: an ImageNet backbone used as a frozen feature
extractor, global average pooling, and one dense output unit per pathology. The paper's text
says the output layer has a softmax activation; the task is multi-label (one image may have
several findings, and each output is read as the probability of its own label with a 0.5
threshold), which needs independent sigmoids, so ``classifier_activation`` defaults to
``"sigmoid"`` here (a deviation stated in ``experiments/cxr14_transfer_learning/README.md``).

Reference:
    The cxr14 transfer-learning paper (``../shared/papers/cxr14-transfer-learning.txt``),
    Sections 2 and 3.2: "The pretrained network was used as the base model. A global pooling
    layer was added using function GlobalAveragePooling2D, and a fully connected layer was
    placed as the output layer by employing the Dense function".
    Wang X et al., ChestX-ray8, CVPR 2017 (the 14 labels).
"""

from __future__ import annotations

import keras
from keras import layers

from heartcv.models.backbones import backbone_features, resolve_weights
from heartcv.models.blocks import check_normalization, validate_common
from heartcv.registry import register_model

FREEZE_CHOICES = (True, False, "auto")


def _pretrained(backbone, backbone_weights) -> bool:
    return resolve_weights(backbone, backbone_weights) is not None


@register_model("cxr14_densenet121", task="multilabel", paper="cxr14_transfer_learning",
                backbone="densenet121", backbone_weights="imagenet",
                description="DenseNet121 (frozen ImageNet features) → GAP → Dense(14, sigmoid)")
@register_model("cxr14_resnet50", task="multilabel", paper="cxr14_transfer_learning",
                backbone="resnet50", backbone_weights="imagenet",
                description="ResNet50 (frozen ImageNet features) → GAP → Dense(14, sigmoid)")
def cxr14_transfer(
    input_shape=(320, 320, 3),
    num_classes=14,
    backbone="densenet121",
    backbone_weights="imagenet",
    freeze_backbone="auto",
    dropout=0.0,
    classifier_activation="sigmoid",
    preprocessing="auto",
    normalization="percentile",
    name=None,
):
    """Backbone → global average pooling → [Dropout] → Dense(``num_classes``) ``predictions``.

    Args:
        input_shape: (H, W, 3); the paper resizes to 400×400, the bundles hold 320×320.
            ``(None, None, 3)`` gives a fully convolutional model.
        num_classes: outputs, one per label (14 for ChestX-ray14).
        backbone: a key of ``heartcv.models.backbones.BACKBONES`` (``densenet121``,
            ``resnet50``, ...).
        backbone_weights: ``"imagenet"`` (the paper), None (from scratch) or the path of a
            local Keras weights file. Offline without the cached file, ``"imagenet"`` raises
            ``WeightsUnavailableError`` naming the file to copy.
        freeze_backbone: True: the backbone is a fixed feature extractor and only the output
            layer is trained (the paper's choice); False: fine-tune everything; ``"auto"``:
            True with pretrained weights and False from scratch (a frozen random backbone
            extracts random features).
        dropout: dropout before the output layer (the paper uses none).
        classifier_activation: ``"sigmoid"`` (multi-label; default), ``"softmax"`` (the
            paper's text, for comparison only) or ``"linear"`` (logits).
        preprocessing: ``"auto"`` (what the backbone's ImageNet weights expect) or an
            ``ImagePreprocessing`` mode.
        normalization: per-image intensity normalisation before ``preprocessing``
            (``heartcv.layers.IntensityNormalization``: ``"percentile"`` 1st–99th stretch to
            [0, 255], the default, ``"histeq"``, ``"clahe"``), a layer named ``normalize``;
            ``"none"`` adds no layer (the backbone's ImageNet scaling only; the paper scaled
            every image by 1/255, ``preprocessing="unit"``).
        name: model name (default ``cxr14_<backbone>``).

    Returns:
        A ``keras.Model`` taking images in [0, 255] and giving (N, ``num_classes``) scores.

    Reference:
        cxr14 transfer-learning paper, Section 3.2 (GAP + dense output on a pretrained base,
        used as a feature extractor).
    Input range: [0, 255] (the backbone's preprocessing is a layer inside the model).
    """
    validate_common(input_shape=input_shape, num_classes=num_classes, dropout=dropout)
    check_normalization(normalization)
    if classifier_activation not in ("sigmoid", "softmax", "linear"):
        raise ValueError(f"Expected `classifier_activation` in ('sigmoid', 'softmax', 'linear'). "
                         f"Received: classifier_activation={classifier_activation!r}")
    if not any(freeze_backbone is c or freeze_backbone == c for c in FREEZE_CHOICES) \
            or not isinstance(freeze_backbone, (bool, str)):
        raise ValueError(f"Expected `freeze_backbone` in {FREEZE_CHOICES}. "
                         f"Received: freeze_backbone={freeze_backbone!r}")
    freeze = _pretrained(backbone, backbone_weights) if freeze_backbone == "auto" \
        else bool(freeze_backbone)
    inputs, features = backbone_features(
        input_shape=input_shape, backbone=backbone, backbone_weights=backbone_weights,
        freeze_backbone=freeze, preprocessing=preprocessing, normalization=normalization)
    x = layers.GlobalAveragePooling2D(name="gap")(features)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation=classifier_activation, dtype="float32",
                           name="predictions")(x)
    return keras.Model(inputs, outputs, name=name or f"cxr14_{backbone}")

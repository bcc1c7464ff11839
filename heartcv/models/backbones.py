"""Backbones from ``keras.applications``, wired from ``base.output`` (never nested).

Each entry of ``BACKBONES`` names the constructor, the input preprocessing the ImageNet
weights expect, the Keras cache file of those weights, and the backbone's feature layers
by NAME (skip connections and Grad-CAM targets are looked up by name, never by index).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import keras

from heartcv.layers import ImagePreprocessing
from heartcv.models.blocks import check_normalization, intensity_normalization


def _register_keras_application_layers() -> None:
    """Make layers that keras.applications defines but does not register loadable from .h5.

    InceptionResNetV2 is built with ``CustomScaleLayer``, which Keras 3.15 leaves out of its
    serialisation registry: without this, ``load_model("x.h5")`` fails with "Unknown layer".
    """
    try:
        from keras.src.applications.inception_resnet_v2 import CustomScaleLayer
    except ImportError:  # a Keras that no longer has it needs nothing
        return
    keras.saving.get_custom_objects().setdefault("CustomScaleLayer", CustomScaleLayer)


_register_keras_application_layers()


from heartcv.errors import WeightsUnavailableError  # noqa: E402,F401  (raised here; CLI catches it)
from heartcv.registry import did_you_mean


@dataclasses.dataclass(frozen=True)
class BackboneInfo:
    """One entry of :data:`BACKBONES`: adding a backbone is adding one of these.

    ``constructor`` is the name of a ``keras.applications`` function, or any callable with
    its signature (``include_top``, ``weights``, ``input_tensor``) returning a model whose
    output is the last of ``feature_layers``. Every backbone-taking builder (``cxa_*``,
    ``*_gap``, ``cxr14_*`` with ``backbone=``) builds with every entry; ``classification``
    says whether the Cardio-XAttentionNet paper registers its ``cxa_<key>`` / ``<key>_gap``
    variants for it.
    """

    constructor: Any  # attribute name of keras.applications, or a callable
    preprocessing: str  # ImagePreprocessing mode
    weights_file: str  # file name in ~/.keras/models (KERAS_HOME)
    feature_layers: tuple[str, ...]  # shallow → deep; the last is the backbone's output
    min_size: int = 32
    classification: bool = True


BACKBONES: dict[str, BackboneInfo] = {
    "vgg16": BackboneInfo(
        "VGG16", "caffe", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"),
        classification=False,
    ),
    "resnet50": BackboneInfo(
        "ResNet50", "caffe", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ("conv1_relu", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out",
         "conv5_block3_out"),
    ),
    "densenet121": BackboneInfo(
        "DenseNet121", "torch", "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ("conv1_relu", "pool2_relu", "pool3_relu", "pool4_relu", "relu"),
    ),
    "densenet201": BackboneInfo(
        "DenseNet201", "torch", "densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ("conv1_relu", "pool2_relu", "pool3_relu", "pool4_relu", "relu"),
    ),
    "inceptionresnetv2": BackboneInfo(
        "InceptionResNetV2", "tf", "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ("mixed_5b", "block35_10_ac", "mixed_6a", "block17_20_ac", "conv_7b_ac"),
        min_size=75,
    ),
}


_LISTENERS: list = []


def on_backbone_registered(callback) -> None:
    """Call ``callback(key)`` for every backbone added later by :func:`register_backbone`."""
    _LISTENERS.append(callback)


def register_backbone(key: str, info: BackboneInfo) -> None:
    """Add ``info`` to :data:`BACKBONES` as ``key`` and tell the families that build on every
    backbone (so ``cxa_<key>`` and ``<key>_gap`` are registered with no other edit)."""
    if not isinstance(info, BackboneInfo):
        raise TypeError(f"Expected a BackboneInfo. Received: info={info!r}")
    if key in BACKBONES and BACKBONES[key] != info:
        raise ValueError(f"Backbone {key!r} is already in the table.")
    BACKBONES[key] = info
    for callback in _LISTENERS:
        callback(key)


def get_backbone_info(name: str) -> BackboneInfo:
    if name not in BACKBONES:
        hint = did_you_mean(name, BACKBONES)
        raise ValueError(
            f"Unknown backbone {name!r}.{hint} Expected one of {sorted(BACKBONES)}. "
            f"Received: backbone={name!r}"
        )
    return BACKBONES[name]


def resolve_weights(backbone: str, weights):
    """Turn ``backbone_weights`` into what ``keras.applications`` takes, checking first.

    ``None``/``"none"`` → None; a path → that file (must exist); ``"imagenet"`` → the cached
    file under ``$KERAS_HOME/models`` if present, else Keras may download it. When the
    download fails (this workplace is offline) the error names the file, where Keras looks
    for it, and how to pass a local copy.
    """
    if weights is None or (isinstance(weights, str) and weights.lower() == "none"):
        return None
    info = get_backbone_info(backbone)
    if weights == "imagenet":
        return "imagenet"
    path = Path(os.fspath(weights)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"Backbone weights file not found: {path}. Expected `backbone_weights` to be "
            f"'imagenet', None, or the path of {info.weights_file}. Received: "
            f"backbone_weights={weights!r}"
        )
    return str(path)


def build_backbone(backbone: str, input_tensor, weights=None):
    """Instantiate a ``keras.applications`` backbone on ``input_tensor`` (include_top=False).

    Returns the backbone model; wire heads from ``base.output`` so every backbone layer is a
    layer of the final model.
    """
    info = get_backbone_info(backbone)
    resolved = resolve_weights(backbone, weights)
    ctor = (info.constructor if callable(info.constructor)
            else getattr(keras.applications, info.constructor))
    try:
        return ctor(include_top=False, weights=resolved, input_tensor=input_tensor)
    except Exception as err:  # download failures surface as many different types
        if resolved != "imagenet":
            raise
        home = keras.src.backend.config.keras_home()  # what Keras resolved at import
        raise WeightsUnavailableError(
            f"Could not load ImageNet weights for {backbone}: {info.weights_file} is not in "
            f"{os.path.join(home, 'models')} and downloading it failed "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). "
            f"Copy the file there, or pass backbone_weights=/path/to/{info.weights_file} "
            f"(CLI: --set model.params.backbone_weights=/path/to/{info.weights_file}), "
            f"or backbone_weights=None (CLI: --set model.params.backbone_weights=none) to "
            f"train from scratch."
        ) from None


def set_bn_momentum(model, momentum: float) -> int:
    """Set ``momentum`` on every BatchNormalization layer; returns how many were changed.

    Call before ``compile``. Keras' default 0.99 makes the moving statistics lag far behind
    the weights of a network trained from scratch for a few hundred steps, so inference-mode
    predictions can come out inverted (measured while planning: test AUROC 0.04 with 0.99,
    0.99 with 0.9 on the phantom).
    """
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"Expected `momentum` in [0, 1). Received: momentum={momentum}")
    n = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
            n += 1
    return n


def backbone_features(*, input_shape, backbone, backbone_weights=None, freeze_backbone=False,
                      preprocessing="auto", normalization="none"):
    """``(inputs, features)``: image input → [normalisation] → preprocessing → backbone, flat.

    ``preprocessing="auto"`` is the scaling the backbone's ImageNet weights expect; any
    ``ImagePreprocessing`` mode may be given instead. ``normalization`` (an
    ``IntensityNormalization`` method, or ``"none"``: no layer, the default so non-radiograph
    callers are unchanged) adds a layer named ``normalize`` right after the ``image`` input;
    the radiograph builders pass ``"percentile"`` by default.
    """
    info = get_backbone_info(backbone)
    check_normalization(normalization)
    mode = info.preprocessing if preprocessing == "auto" else preprocessing
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = intensity_normalization(inputs, normalization)
    x = ImagePreprocessing(mode, name="preprocess")(x)
    base = build_backbone(backbone, x, backbone_weights)
    if freeze_backbone:
        base.trainable = False
    return inputs, base.output

"""Building blocks shared by the model builders (functional API, named layers)."""

from __future__ import annotations

import keras
from keras import layers

from heartcv.layers import IntensityNormalization
from heartcv.layers.intensity_normalization import METHODS as NORMALIZATIONS
from heartcv.registry import did_you_mean

ACTIVATIONS = ("sigmoid", "softmax", "linear", None)
#: Name of the ``IntensityNormalization`` layer right after the ``image`` input.
NORMALIZE_LAYER = "normalize"


def validate_common(*, input_shape, num_classes, dropout, classifier_activation=None):
    """Keras-style argument checks shared by every builder."""
    if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3):
        raise ValueError(
            f"Expected `input_shape` as (height, width, channels). Received: input_shape={input_shape}"
        )
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"Expected `num_classes` >= 1. Received: num_classes={num_classes!r}")
    if not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
        raise ValueError(f"Expected `dropout` in [0, 1). Received: dropout={dropout}")
    if classifier_activation not in ACTIVATIONS:
        raise ValueError(
            f"Expected `classifier_activation` in {ACTIVATIONS}. "
            f"Received: classifier_activation={classifier_activation!r}"
        )


def check_normalization(normalization):
    """Keras-style check of a builder's ``normalization`` argument (``None`` means "none")."""
    if normalization is not None and normalization not in NORMALIZATIONS:
        raise ValueError(f"Expected `normalization` in {NORMALIZATIONS}."
                         f"{did_you_mean(normalization, NORMALIZATIONS)} "
                         f"Received: normalization={normalization!r}")


def intensity_normalization(x, normalization):
    """``IntensityNormalization(normalization)`` named ``normalize`` on ``x``; ``x`` for "none".

    The radiograph builders call it right after the ``image`` input, before the grey→RGB and
    ``ImagePreprocessing`` layers, so train, evaluate, predict and a reloaded file apply the
    same per-image normalisation. ``"none"`` adds no layer (a model as the papers built it).
    """
    check_normalization(normalization)
    if normalization in (None, "none"):
        return x
    return IntensityNormalization(normalization, name=NORMALIZE_LAYER)(x)


def default_activation(num_classes: int, classifier_activation):
    """``"auto"`` → sigmoid for one output, softmax otherwise."""
    if classifier_activation == "auto":
        return "sigmoid" if num_classes == 1 else "softmax"
    if classifier_activation not in ACTIVATIONS:
        raise ValueError(
            f"Expected `classifier_activation` in {('auto', *ACTIVATIONS)}. "
            f"Received: classifier_activation={classifier_activation!r}"
        )
    return classifier_activation


def conv_bn_relu(x, filters, scope, kernel_size=3, strides=1):
    """Conv → BatchNorm → ReLU, layers named ``{scope}_conv/_bn/_relu``."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name=f"{scope}_conv")(x)
    x = layers.BatchNormalization(name=f"{scope}_bn")(x)
    return layers.Activation("relu", name=f"{scope}_relu")(x)


def classifier_head(x, *, num_classes, activation, dropout, hidden=0, hidden_activation="relu",
                    scope="head"):
    """Dropout → [Dense(hidden) → Dropout] → Dense(num_classes) named ``predictions``."""
    if dropout:
        x = layers.Dropout(dropout, name=f"{scope}_dropout")(x)
    if hidden:
        x = layers.Dense(hidden, activation=hidden_activation, kernel_initializer="glorot_uniform",
                         name=f"{scope}_dense")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{scope}_dropout2")(x)
    # float32 output even under mixed precision, so losses and metrics stay stable.
    return layers.Dense(num_classes, activation=activation, dtype="float32",
                        name="predictions")(x)


def freeze(model_or_layers, trainable=False):
    for layer in getattr(model_or_layers, "layers", model_or_layers):
        layer.trainable = trainable
    return model_or_layers


VGG16_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))


def vgg16_encoder(x, width=1.0, batchnorm=False):
    """VGG16's convolutional topology with the same layer names, ``width``-scaled filters.

    The from-scratch CPU setting of the VGG16 models (``vgg16_unet``, ``vgg16_finetune``):
    ``block{b}_conv{j}`` and ``block{b}_pool`` as in ``keras.applications.VGG16``; with
    ``batchnorm`` each convolution is ``{scope}_conv`` (no bias) → ``{scope}_bn`` → a ReLU
    named ``{scope}``, so feature layers are found by the same names.
    """
    for block, n_conv, filters in VGG16_BLOCKS:
        f = max(1, int(round(filters * width)))
        for j in range(1, n_conv + 1):
            scope = f"block{block}_conv{j}"
            if batchnorm:  # the ReLU carries VGG16's layer name, so skips look the same
                x = layers.Conv2D(f, 3, padding="same", use_bias=False,
                                  kernel_initializer="he_normal", name=f"{scope}_conv")(x)
                x = layers.BatchNormalization(name=f"{scope}_bn")(x)
                x = layers.Activation("relu", name=scope)(x)
            else:
                x = layers.Conv2D(f, 3, padding="same", activation="relu",
                                  kernel_initializer="he_normal", name=scope)(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    return x


#: Name of the attention-map layer (the AMM's sigmoid map W, (batch, h, w, 1)) that
#: attention_model and the explainers look up.
ATTENTION_LAYER = "amm_attention"


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

"""CHD paper classifiers: VGG16 fine-tuning and VGG+Mask.

Chen & Shi classify chest X-rays (normal, VSD, ASD; and frontal vs lateral view as a first
test of the pipeline) with an ImageNet VGG16 whose last three layers are fine-tuned. Their
"VGG+Mask" model first segments the heart with a U-Net, keeps the heart pixels and scales
the grey values outside the heart by 0.2, and classifies that image with the same VGG16.

* ``vgg16_finetune`` (registered as ``vgg16_finetune`` and ``vgg16_view``): the classifier.
* ``mask_images``: the preprocessing-step form of VGG+Mask (the paper's masked data set).
* ``chain_mask_classifier``: the end-to-end form, one flat model image → segmenter →
  ``MaskBackground`` → classifier, saved and loaded as one ``.h5``/``.keras`` file.

VGG+Mask has no registry entry: the paper trains it in two stages (U-Net on heart masks,
then VGG16 on masked images), and a registry builder would have to return an untrained,
frozen segmenter whose masks mean nothing. Train the two registered models, then chain them.

Reference:
    Chen X, Shi B. "Deep Mask For X-ray Based Heart Disease Classification",
    arXiv:1808.08277 (2018) (``../shared/papers/chd-xray-vgg-unet.txt``), Section 2.2.2.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, tree

from heartcv.layers import MaskBackground
from heartcv.models.backbones import BACKBONES
from heartcv.models.blocks import (
    check_normalization, classifier_head, default_activation, intensity_normalization,
    validate_common,
)
from heartcv.papers.chd_xray_vgg_unet.vgg16 import (
    check_width_batchnorm, uses_applications, vgg16_encoder_model,
)
from heartcv.progress import progress_bar
from heartcv.registry import register_model

PAPER = "chd_xray_vgg_unet"
# The 13 convolution layers of keras.applications.VGG16, input → output.
VGG16_CONV_LAYERS = (
    "block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3", "block4_conv1", "block4_conv2",
    "block4_conv3", "block5_conv1", "block5_conv2", "block5_conv3",
)
POOLINGS = ("flatten", "avg", "max")
SEGMENTER_PREFIX = "segmenter_"


def _check_hidden_units(hidden_units):
    units = (hidden_units,) if isinstance(hidden_units, int) else hidden_units
    if not isinstance(units, (list, tuple)) or any(
            isinstance(u, bool) or not isinstance(u, int) or u < 1 for u in units):
        raise ValueError(f"Expected `hidden_units` as an int or a sequence of positive ints. "
                         f"Received: hidden_units={hidden_units!r}")
    return tuple(units)


def _check_finetune_input(input_shape):
    height, columns, channels = input_shape
    if channels not in (1, 3):
        raise ValueError(f"Expected `input_shape` with 1 (grey) or 3 channels. "
                         f"Received: input_shape={input_shape}")
    if any(s is not None and (not isinstance(s, int) or s < 32) for s in (height, columns)):
        raise ValueError(f"Expected `input_shape` height and width >= 32 (VGG16 pools five "
                         f"times). Received: input_shape={input_shape}")


def _check_trainable_pooling(trainable_layers, pooling, input_shape):
    n_conv = len(VGG16_CONV_LAYERS)
    if isinstance(trainable_layers, bool) or not isinstance(trainable_layers, int) \
            or not 0 <= trainable_layers <= n_conv:
        raise ValueError(f"Expected `trainable_layers` as an int in [0, {n_conv}]. "
                         f"Received: trainable_layers={trainable_layers!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"Expected `pooling` in {POOLINGS}. Received: pooling={pooling!r}")
    if pooling == "flatten" and (input_shape[0] is None or input_shape[1] is None):
        raise ValueError(f"pooling='flatten' needs a fixed input size; use pooling='avg' for "
                         f"variable sizes. Received: input_shape={input_shape}")


def _train_last_convs(base, trainable_layers):
    """Only the last ``trainable_layers`` VGG16 convolutions of ``base`` stay trainable."""
    trained = set(VGG16_CONV_LAYERS[len(VGG16_CONV_LAYERS) - trainable_layers:])
    for layer_name in VGG16_CONV_LAYERS:
        trainable = layer_name in trained
        for suffix in ("", "_conv", "_bn"):  # the BN variant names conv and BN per scope
            if any(layer.name == layer_name + suffix for layer in base.layers):
                base.get_layer(layer_name + suffix).trainable = trainable


@register_model("vgg16_finetune", task="multiclass", paper=PAPER,
                description="VGG16 (ImageNet, block5 fine-tuned) → Flatten → FC 256 ×2 → "
                            "softmax (CHD paper: normal/VSD/ASD)")
@register_model("vgg16_view", task="multiclass", paper=PAPER, num_classes=2,
                description="VGG16 fine-tuned as vgg16_finetune: frontal vs lateral view (softmax)")
def vgg16_finetune(
    input_shape=(320, 320, 3),
    num_classes=3,
    backbone_weights="imagenet",
    trainable_layers=3,
    pooling="flatten",
    hidden_units=(256, 256),
    dropout=0.5,
    classifier_activation="auto",
    width=1.0,
    batchnorm=False,
    normalization="percentile",
    name="vgg16_finetune",
):
    """VGG16 with its last ``trainable_layers`` convolution layers and a new head trained.

    Layers: ``image`` → [``normalize``: ``IntensityNormalization``] → [``grey_to_rgb``:
    Concatenate of a 1-channel image three times] → ``preprocess`` (caffe mode: RGB→BGR,
    ImageNet means subtracted) → VGG16 ``block1_conv1`` … ``block5_pool`` → ``head_flatten``
    → ``head_fc{i}`` (Dense, ReLU) → ``head_dropout{i}`` → ``predictions``.

    "Fine tune for the last three layers of the VGG network" is read as the last three
    *convolution* layers, ``block5_conv1``, ``block5_conv2``, ``block5_conv3`` (the whole
    last block; pooling layers have no weights): with ``trainable_layers=3`` those three
    layers and the head are trainable and every other VGG16 layer is frozen. The paper
    describes VGG's top as "2 layers of fc image features, and a layer of fc
    classification features" without sizes; ``hidden_units=(256, 256)`` is our choice
    (VGG's own 4096-unit layers on a 10×10×512 map at 320×320 would be 210 M weights).

    Args:
        input_shape: (H, W, 1) grey or (H, W, 3), H and W >= 32; the paper uses 320×320.
        num_classes: 3 (normal, VSD, ASD), 2 (normal vs VSD, or frontal vs lateral as
            ``vgg16_view``; softmax) or 1 (one sigmoid output for a binary task).
        backbone_weights: ``"imagenet"`` (the paper; default), None/``"none"`` (random
            initialisation) or the path of a local copy of
            ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``. Offline without the file
            in ``$KERAS_HOME/models``, ``"imagenet"`` raises ``WeightsUnavailableError``
            saying where to put it and how to pass a path or None instead.
        trainable_layers: how many of VGG16's 13 convolution layers, counted from the
            output, are trained (0: frozen feature extractor, 13: all). From scratch
            (``backbone_weights=None``) the frozen layers keep random weights: pass 13.
        pooling: ``"flatten"`` (VGG's own top; needs a fixed input size), ``"avg"`` or
            ``"max"`` (global pooling).
        hidden_units: sizes of the Dense ReLU layers before ``predictions`` (may be empty).
        dropout: dropout rate after each hidden layer (before ``predictions`` when there is
            no hidden layer).
        classifier_activation: ``"auto"`` (sigmoid for one output, softmax otherwise),
            ``"sigmoid"``, ``"softmax"``, ``"linear"`` or None.
        width: filter multiplier of the VGG16 layers in (0, 1]. With ``width < 1`` or
            ``batchnorm=True`` the encoder is VGG16's topology with the same layer names
            built by ``heartcv.models.blocks.vgg16_encoder`` (from scratch only, input scaled
            to [0, 1]): the CPU setting, since a full-width VGG16 trained from scratch is
            too slow on a few cores and no ImageNet weights may be at hand.
        batchnorm: BatchNormalization after every convolution (from scratch only).
        normalization: per-image intensity normalisation before the grey→RGB and
            preprocessing layers (``heartcv.layers.IntensityNormalization``: ``"percentile"``
            1st–99th stretch to [0, 255], the default, ``"histeq"``, ``"clahe"``), a layer
            named ``normalize``; ``"none"`` adds no layer (the paper: the caffe
            preprocessing of the ImageNet weights only).
        name: model name.

    Returns:
        A ``keras.Model`` mapping images in [0, 255] to (N, ``num_classes``) scores.

    Reference:
        Chen & Shi, arXiv:1808.08277 (2018), Section 2.2.2 "VGG model for classification":
        "a VGG model that was pretrained on the imagenet dataset for classification and fine
        tune for the last three layers of the VGG network".
    Input range: [0, 255] (the caffe preprocessing is a layer inside the model).
    """
    validate_common(input_shape=input_shape, num_classes=num_classes, dropout=dropout)
    _check_finetune_input(input_shape)
    _check_trainable_pooling(trainable_layers, pooling, input_shape)
    hidden_units = _check_hidden_units(hidden_units)
    activation = default_activation(num_classes, classifier_activation)
    check_width_batchnorm(width, batchnorm)
    applications = uses_applications(width, batchnorm, backbone_weights)
    check_normalization(normalization)

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = intensity_normalization(inputs, normalization)
    mode = BACKBONES["vgg16"].preprocessing if applications else "unit"
    base = vgg16_encoder_model(inputs, x, mode, applications=applications,
                               backbone_weights=backbone_weights, width=width,
                               batchnorm=batchnorm)
    _train_last_convs(base, trainable_layers)

    pool = {"flatten": layers.Flatten(name="head_flatten"),
            "avg": layers.GlobalAveragePooling2D(name="head_gap"),
            "max": layers.GlobalMaxPooling2D(name="head_gmp")}[pooling]
    x = pool(base.output)
    for i, units in enumerate(hidden_units, start=1):
        x = layers.Dense(units, activation="relu", name=f"head_fc{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"head_dropout{i}")(x)
    outputs = classifier_head(x, num_classes=num_classes, activation=activation,
                              dropout=0.0 if hidden_units else dropout)
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------- VGG+Mask


def _check_model(model, argument):
    if not isinstance(model, keras.Model) or not hasattr(model, "_run_through_graph"):
        raise TypeError(f"Expected `{argument}` to be a functional keras.Model. "
                        f"Received: {argument}={type(model).__name__}")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"Expected `{argument}` with one input and one output. Received: "
                         f"{argument} {model.name!r} with {len(model.inputs)} inputs and "
                         f"{len(model.outputs)} outputs")


def _copy_into_graph(model, tensor, rename=None, trainable=None):
    """Call copies of ``model``'s layers on ``tensor``, in order; weights copied exactly."""
    pairs = {}  # id(original) -> (original, copy); a shared layer is copied once

    def clone(layer):
        if id(layer) in pairs:
            return pairs[id(layer)][1]
        config = layer.get_config()
        if rename:
            config["name"] = rename(layer.name)
        if trainable is not None:
            config["trainable"] = trainable
        new = layer.__class__.from_config(config)
        pairs[id(layer)] = (layer, new)
        return new

    # What keras.models.clone_model does inside, minus wrapping the result in a new Functional
    # (which, on a non-Input tensor, would copy the graph away from ``tensor``).
    (output,) = tree.flatten(model._run_through_graph(tensor, operation_fn=clone))
    for old, new in pairs.values():
        new.set_weights(old.get_weights())
    return output


def chain_mask_classifier(segmenter, classifier, scale=0.2, threshold=0.5,
                          freeze_segmenter=True, name="vgg_mask"):
    """VGG+Mask end to end: one flat model, image → segmenter → mask → classifier.

    The layers of both models are copied (weights exactly) and called in order on a new
    ``image`` input, so every layer is a layer of the returned model: Grad-CAM and saliency
    see the classifier's ``block5_conv3``, and the model saves and loads as one ``.h5`` or
    ``.keras`` file with no ``custom_objects``. The segmenter's layers are renamed
    ``segmenter_<name>`` (its ``predictions`` becomes ``segmenter_predictions``, its
    ``normalize`` ``segmenter_normalize``); the classifier's keep their names, so
    ``predictions`` is the class output. The mask is applied to the [0, 255] image before
    the classifier's own ``normalize`` and preprocessing layers, as ``mask_images`` feeds it.
    The arguments are not modified.

    Args:
        segmenter: functional model mapping (H, W, C) images in [0, 255] to an (H, W, 1)
            sigmoid heart mask (e.g. a trained ``unet`` or ``vgg16_unet``).
        classifier: functional model taking the same (H, W, C) images (e.g.
            ``vgg16_finetune`` trained on ``mask_images`` output).
        scale: factor applied outside the heart (the paper's 0.2).
        threshold: mask threshold (the default 0.5 gives the binary heart region of the
            paper and of ``mask_images``' default); None uses the soft sigmoid mask.
        freeze_segmenter: mark the segmenter's layers non-trainable (the paper trains the
            U-Net separately).
        name: model name.

    Returns:
        A ``keras.Model`` with one input ``image`` and the classifier's output.

    Reference:
        Chen & Shi, arXiv:1808.08277 (2018), Section 2.2.2 ("VGG+Mask").
    """
    _check_model(segmenter, "segmenter")
    _check_model(classifier, "classifier")
    mask_layer = MaskBackground(scale=scale, threshold=threshold, name="mask_background")
    seg_shape = tuple(segmenter.inputs[0].shape[1:])
    clf_shape = tuple(classifier.inputs[0].shape[1:])
    if seg_shape != clf_shape:
        raise ValueError(
            f"Expected the segmenter and the classifier to take the same images; build both "
            f"with the same input_shape. Received: segmenter input {seg_shape}, classifier "
            f"input {clf_shape}")
    image = keras.Input(shape=clf_shape, name="image")
    mask = _copy_into_graph(segmenter, image, rename=lambda n: SEGMENTER_PREFIX + n,
                            trainable=False if freeze_segmenter else None)
    masked = mask_layer([image, mask])
    outputs = _copy_into_graph(classifier, masked)
    return keras.Model(image, outputs, name=name)


def mask_images(segmenter, images, scale=0.2, threshold=0.5, batch_size=16, progress=False):
    """VGG+Mask as a preprocessing step: predict heart masks, scale the background.

    Args:
        segmenter: model mapping (N, H, W, C) images in [0, 255] to (N, H, W, 1) masks.
        images: (N, H, W, C) or (N, H, W) grey, uint8 or float, in [0, 255], of the
            segmenter's input size and channels.
        scale: factor applied outside the heart (the paper's 0.2).
        threshold: mask threshold in (0, 1) (default 0.5, a binary heart region) or None for
            the soft mask.
        batch_size: images per segmenter call.
        progress: show a tqdm progress bar.

    Returns:
        ``images * m + scale * images * (1 - m)`` in the input's shape; uint8 (rounded)
        for uint8 input, float32 otherwise.

    Reference:
        Chen & Shi, arXiv:1808.08277 (2018), Section 2.2.2 ("VGG+Mask").
    """
    _check_model(segmenter, "segmenter")
    layer = MaskBackground(scale=scale, threshold=threshold)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"Expected `batch_size` as an int >= 1. "
                         f"Received: batch_size={batch_size!r}")
    x = np.asarray(images)
    grey = x.ndim == 3
    if grey:
        x = x[..., None]
    if x.ndim != 4 or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"Expected `images` as a numeric (N, H, W) or (N, H, W, C) array. "
                         f"Received: images.shape={np.shape(images)}, dtype={x.dtype}")
    expected = tuple(segmenter.inputs[0].shape[1:])
    if any(e is not None and e != s for e, s in zip(expected, x.shape[1:])):
        raise ValueError(f"Expected `images` of shape (N, {', '.join(map(str, expected))}) for "
                         f"segmenter {segmenter.name!r}. Received: images.shape={np.shape(images)}")

    as_uint8 = x.dtype == np.uint8
    out = np.empty(x.shape, dtype=np.uint8 if as_uint8 else np.float32)
    for start in progress_bar(range(0, len(x), int(batch_size)), disable=not progress,
                              desc="mask_images"):
        batch = x[start:start + int(batch_size)].astype(np.float32)
        masks = segmenter.predict_on_batch(batch)
        masked = keras.ops.convert_to_numpy(layer([batch, masks]))
        out[start:start + len(batch)] = np.clip(np.rint(masked), 0, 255) if as_uint8 else masked
    return out[..., 0] if grey else out

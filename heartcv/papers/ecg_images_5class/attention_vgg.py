"""Attention VGG of the five-class ECG-image paper ("CNN with Attn", Architecture 6).

The "Learn to Pay Attention" VGG (Jetley et al., ICLR 2018, attention *before* pooling) on
13-lead volumes, as the paper's listing (which follows the ``AttnVGG`` of
0aqz0/pytorch-attention-mechanism): six Conv-BN-ReLU blocks (64x2, 128x2, 256x3, 512x3,
512x3, 512x2), max-pooling after blocks 3, 4 and 5 and after each convolution of block 6
(total stride 32), a ``dense`` convolution with a kernel the size of the last map (H/32)
giving the global descriptor g (1 x 1 x 512), a 1x1 ``projector`` (256 → 512) for block 3's
features, and three :class:`heartcv.layers.AttentionEstimator` on blocks 3 (projected), 4 and
5. The three attended descriptors are concatenated (3 x 512) for ``predictions``.
"""

from __future__ import annotations

import keras
from keras import layers

from heartcv.layers import AttentionEstimator
from heartcv.models.blocks import default_activation
from heartcv.papers.ecg_images_5class.models import PAPER, ecg_inputs, validate_ecg
from heartcv.registry import register_model

VGG_FILTERS = (64, 128, 256, 512, 512, 512)
VGG_BLOCKS = (2, 2, 3, 3, 3, 2)
STRIDE = 32


def _conv_bn_relu(x, filters, scope):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{scope}_conv")(x)
    x = layers.BatchNormalization(name=f"{scope}_bn")(x)
    return layers.Activation("relu", name=f"{scope}_relu")(x)


def _check_attention_args(attention, normalize_attn, filters):
    for arg, value in (("attention", attention), ("normalize_attn", normalize_attn)):
        if not isinstance(value, bool):
            raise TypeError(f"Expected `{arg}` to be a bool. Received: {arg}={value!r}")
    filters = tuple(filters) if isinstance(filters, (list, tuple)) else filters
    if (not isinstance(filters, tuple) or len(filters) != 6
            or any(isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in filters)):
        raise ValueError(f"Expected `filters` as 6 positive ints. Received: filters={filters!r}")
    if len(set(filters[3:])) != 1:
        raise ValueError("Expected `filters[3:]` equal (blocks 4-6 share the attention width). "
                         f"Received: filters={filters!r}")
    return filters


def _pad_to_stride(x, input_shape):
    """Zero-pad (layer ``pad``) H and W to the next multiple of ``STRIDE``, centred."""
    h, w, _ = input_shape
    ph, pw = -h % STRIDE, -w % STRIDE
    if ph or pw:
        x = layers.ZeroPadding2D(((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)), name="pad")(x)
    return x


def _vgg_blocks(x, filters):
    """The six VGG blocks; returns the last map and blocks 3-5's outputs before pooling."""
    local = []
    for b, (f, n) in enumerate(zip(filters, VGG_BLOCKS), start=1):
        for i in range(1, n + 1):
            x = _conv_bn_relu(x, f, f"block{b}_{i}")
            if b == 6:
                x = layers.MaxPooling2D(2, name=f"block6_{i}_pool")(x)
        if b in (3, 4, 5):
            local.append(x)
            x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    return x, local


@register_model("ecg_attention_vgg", task="multiclass", paper=PAPER,
                description="ECG images: VGG + 3 attention estimators (Learn to Pay Attention, "
                            "Arch. 6)")
def ecg_attention_vgg(input_shape=(64, 64, 13), num_classes=5, attention=True, normalize_attn=True,
                      filters=VGG_FILTERS, dropout=0.0, classifier_activation="auto",
                      background_norm=False, name="ecg_attention_vgg"):
    """Architecture 6 (CNN with attention): VGG blocks, projector, three attention estimators.

    Args:
        input_shape: (H, W, 13). The network needs H and W multiples of 32; other sizes are
            zero-padded (layer ``pad``) to the next multiple, e.g. 28 → 32 (the inverted
            crops have a black background, so the padding is more background).
        attention: with the three attention estimators (True) or plain VGG → ``dense`` → g.
        normalize_attn: softmax attention summed over positions (True) or sigmoid attention
            averaged (False), the paper's ``normalize_attn``.
        filters: the six blocks' widths (the listing's 64, 128, 256, 512, 512, 512); block 3
            is projected to block 4's width, blocks 4-6 must be equally wide.
        background_norm: per-crop ``BackgroundNormalization`` instead of the paper's
            ``x / 255`` (beyond the paper; see ``models.ecg_inputs``).

    Reference:
        Paul, Azad. Heart Condition Classification based on ECG Images (CSE 472 report,
        BUET); Jetley, Lord, Lee, Torr. Learn to Pay Attention. ICLR 2018.
    Input range: [0, 255], (H, W, 13).
    """
    validate_ecg(input_shape=input_shape, num_classes=num_classes, dropout=dropout)
    filters = _check_attention_args(attention, normalize_attn, filters)
    activation = default_activation(num_classes, classifier_activation)
    inputs, x = ecg_inputs(input_shape, background_norm)
    x = _pad_to_stride(x, input_shape)
    x, local = _vgg_blocks(x, filters)
    g = layers.Conv2D(filters[-1], tuple(int(s) for s in x.shape[1:3]), padding="valid",
                      name="dense")(x)  # (1, 1, C): the global descriptor
    if attention:
        local[0] = layers.Conv2D(filters[-1], 1, use_bias=False, name="projector")(local[0])
        descriptors = []
        for i, l in enumerate(local, start=1):
            gi, _ = AttentionEstimator(normalize=normalize_attn, name=f"attention{i}")([l, g])
            descriptors.append(gi)
        x = layers.Concatenate(name="descriptors")(descriptors)
    else:
        x = layers.Flatten(name="global_flatten")(g)
    if dropout:
        x = layers.Dropout(dropout, name="classify_dropout")(x)
    outputs = layers.Dense(num_classes, activation=activation, dtype="float32",
                           name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)

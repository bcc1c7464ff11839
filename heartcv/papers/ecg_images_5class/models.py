"""ECG-image models of the five-class 12-lead printout paper (Paul & Azad, CSE 472, BUET).

Every model takes one ECG as a 13-lead volume ``(H, W, 13)`` in [0, 255]: the 13 lead crops
of a printout (:data:`heartcv.papers.ecg_images_5class.layout.LEAD_NAMES`), greyscale, inverted and dilated,
stacked on the channel axis (64 x 64 in the paper; 28 and 96 also tried). Pixels are scaled
to [0, 1] by an ``ImagePreprocessing("unit")`` layer inside the model (the paper's scaling), or,
with ``background_norm=True`` (beyond the paper), by a ``BackgroundNormalization`` layer that
maps each crop's background level to 0 and its trace's ink to 1, so that a model cannot
learn the scan's background level instead of the trace. The layer sizes are
those of the paper's PyTorch listings; ``LogSoftmax`` + NLL is a softmax ``predictions`` layer
trained with categorical cross-entropy.

- ``ecg_cnn3d``: the leads as depth (13, H, W, 1) through four Conv3D/MaxPool3D blocks.
- ``ecg_cnn2d``: the leads as channels through two Conv2D/MaxPool2D blocks.
- ``ecg_attn_lstm``: the leads as 13 time steps of flattened pixels, LSTM + temporal attention.
- ``ecg_hybrid``: the 2-D CNN, then the attention LSTM over its feature rows (the listing's
  ``Flatten(1, 2)``: channel x row as time, W/4 features per step) or over the leads.
- ``ecg_timedistributed_cnn``: one 2-D CNN shared by the 13 leads (time-distributed).
- ``ecg_attention_vgg`` (:mod:`heartcv.papers.ecg_images_5class.attention_vgg`): VGG with three attention
  estimators ("Learn to Pay Attention").
"""

from __future__ import annotations

import keras
from keras import layers

from heartcv.layers import BackgroundNormalization, ImagePreprocessing, TemporalAttention
from heartcv.models.blocks import default_activation, validate_common
from heartcv.registry import register_model

PAPER = "ecg_images_5class"
LEADS = 13
TIME_AXES = ("rows", "leads")


def validate_ecg(*, input_shape, num_classes, dropout, min_side=4):
    """Common checks: (H, W, 13) volumes, at least ``min_side`` pixels a side."""
    validate_common(input_shape=input_shape, num_classes=num_classes, dropout=dropout)
    h, w, c = input_shape
    if c != LEADS:
        raise ValueError(f"Expected `input_shape` (height, width, {LEADS}): one channel per lead "
                         f"crop. Received: input_shape={tuple(input_shape)}")
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= min_side for s in (h, w)):
        raise ValueError(f"Expected `input_shape` height and width as ints >= {min_side}. "
                         f"Received: input_shape={tuple(input_shape)}")


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Expected `{name}` as a positive int. Received: {name}={value!r}")
    return value


def validate_ecg_lstm(*, input_shape, num_classes, dropout, hidden_size, num_layers):
    """:func:`validate_ecg`, then positive ``hidden_size`` and ``num_layers`` (the LSTMs)."""
    validate_ecg(input_shape=input_shape, num_classes=num_classes, dropout=dropout)
    _positive("hidden_size", hidden_size)
    _positive("num_layers", num_layers)


def ecg_inputs(input_shape, background_norm=False):
    """``(inputs, x)``: the (H, W, 13) input and its [0, 1] scaling.

    ``background_norm=False``: the paper's ``x / 255`` (``ImagePreprocessing("unit")``);
    ``True``: per-crop ``BackgroundNormalization`` (background 0, trace ink 1, faint grid
    residue below 0.2 zeroed), named ``background_norm``.
    """
    if not isinstance(background_norm, bool):
        raise ValueError("Expected `background_norm` to be True or False. "
                         f"Received: background_norm={background_norm!r}")
    inputs = keras.Input(shape=tuple(input_shape), name="leads")
    if background_norm:
        return inputs, BackgroundNormalization(name="background_norm")(inputs)
    return inputs, ImagePreprocessing("unit", name="preprocess")(inputs)


def ecg_begin(input_shape, num_classes, dropout, classifier_activation, background_norm,
              min_side=4):
    """``(inputs, x, activation)``: :func:`validate_ecg`, the output activation, then
    :func:`ecg_inputs`, in that order (the start of the single-path builders)."""
    validate_ecg(input_shape=input_shape, num_classes=num_classes, dropout=dropout,
                 min_side=min_side)
    activation = default_activation(num_classes, classifier_activation)
    inputs, x = ecg_inputs(input_shape, background_norm)
    return inputs, x, activation


def leads_first(x, input_shape, scope="leads"):
    """(B, H, W, 13) → (B, 13, H, W, 1): one slice per lead (Permute + Reshape, no Lambda)."""
    h, w, _ = input_shape
    x = layers.Permute((3, 1, 2), name=f"{scope}_permute")(x)
    return layers.Reshape((LEADS, h, w, 1), name=f"{scope}_reshape")(x)


def dense_head(x, *, num_classes, activation, dropout, hidden=(64,), scope="fc"):
    """Flatten → Dense(hidden, ReLU)… → [Dropout] → Dense ``predictions``."""
    x = layers.Flatten(name=f"{scope}_flatten")(x)
    for i, units in enumerate(hidden, start=1):
        x = layers.Dense(units, activation="relu", name=f"{scope}{i}")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{scope}_dropout")(x)
    return layers.Dense(num_classes, activation=activation, dtype="float32", name="predictions")(x)


def cnn2d_features(x, scope="conv", wrap=None):
    """Conv2D(64)/ReLU/MaxPool, Conv2D(128)/ReLU/MaxPool (the listings' ``extraction_layers``)."""
    wrap = wrap or (lambda layer, name: layer)
    for i, f in enumerate((64, 128), start=1):
        x = wrap(layers.Conv2D(f, 3, padding="same", activation="relu", name=f"{scope}{i}"),
                 f"{scope}{i}_td")(x)
        x = wrap(layers.MaxPooling2D(2, name=f"{scope}{i}_pool"), f"{scope}{i}_pool_td")(x)
    return x


@register_model("ecg_cnn3d", task="multiclass", paper=PAPER,
                description="ECG images: leads as depth, 4 Conv3D blocks, Dense 128-64 (Arch. 1)")
def ecg_cnn3d(input_shape=(64, 64, 13), num_classes=5, dropout=0.0,
              classifier_activation="auto", background_norm=False, name="ecg_cnn3d"):
    """Architecture 1 (CNN 3D): the 13 leads as the depth axis of one 3-D volume.

    Conv3D 64 (3³, pad 1) → MaxPool3D 2 → Conv3D 128 (3³, pad 1) → MaxPool3D 2 → Conv3D 256
    (2³, pad 1) → MaxPool3D 2 → Conv3D 512 (2³, pad 1) → MaxPool3D 2 → Dense 128 → Dense 64 →
    ``predictions``, ReLU throughout. PyTorch's ``padding=1`` with a 2³ kernel grows each axis
    by one, so those convolutions are a ZeroPadding3D(1) then a valid convolution.

    Reference:
        Paul, Azad. Heart Condition Classification based on ECG Images (CSE 472 report, BUET).
    Input range: [0, 255], (H, W, 13).
    """
    inputs, x, activation = ecg_begin(input_shape, num_classes, dropout, classifier_activation,
                                      background_norm, min_side=8)
    x = leads_first(x, input_shape)
    for i, (f, k) in enumerate(((64, 3), (128, 3), (256, 2), (512, 2)), start=1):
        if k == 2:
            x = layers.ZeroPadding3D(1, name=f"conv{i}_pad")(x)
        x = layers.Conv3D(f, k, padding="same" if k == 3 else "valid", activation="relu",
                          name=f"conv{i}")(x)
        x = layers.MaxPooling3D(2, name=f"conv{i}_pool")(x)
    outputs = dense_head(x, num_classes=num_classes, activation=activation, dropout=dropout,
                         hidden=(128, 64))
    return keras.Model(inputs, outputs, name=name)


@register_model("ecg_cnn2d", task="multiclass", paper=PAPER,
                description="ECG images: leads as channels, 2 Conv2D blocks, Dense 64 (Arch. 2)")
def ecg_cnn2d(input_shape=(64, 64, 13), num_classes=5, dropout=0.0,
              classifier_activation="auto", background_norm=False, name="ecg_cnn2d"):
    """Architecture 2 (CNN 2D): the 13 leads as input channels.

    Conv2D 64 (3x3, same) → MaxPool 2 → Conv2D 128 → MaxPool 2 → Dense 64 → ``predictions``.

    Reference:
        Paul, Azad. Heart Condition Classification based on ECG Images (CSE 472 report, BUET).
    Input range: [0, 255], (H, W, 13).
    """
    inputs, x, activation = ecg_begin(input_shape, num_classes, dropout, classifier_activation,
                                      background_norm)
    x = cnn2d_features(x)
    outputs = dense_head(x, num_classes=num_classes, activation=activation, dropout=dropout)
    return keras.Model(inputs, outputs, name=name)


def attention_lstm(x, *, hidden_size, num_layers, num_outputs, scope="attn_lstm"):
    """The paper's ``AttnLSTM``: LSTM (num_layers) → TemporalAttention → Dense(num_outputs)."""
    for i in range(1, num_layers + 1):
        x = layers.LSTM(hidden_size, return_sequences=True, name=f"{scope}_lstm{i}")(x)
    x = TemporalAttention(name=f"{scope}_attention")(x)
    return x if num_outputs is None else layers.Dense(num_outputs, name=f"{scope}_fc")(x)


@register_model("ecg_attn_lstm", task="multiclass", paper=PAPER,
                description="ECG images: 13 leads as LSTM steps + temporal attention (Arch. 3)")
def ecg_attn_lstm(input_shape=(64, 64, 13), num_classes=5, hidden_size=128, num_layers=1,
                  dropout=0.0, classifier_activation="auto", background_norm=False,
                  name="ecg_attn_lstm"):
    """Architecture 3 (attention LSTM): 13 time steps, one flattened lead crop each.

    LSTM(``hidden_size``, ``num_layers``) → ``TemporalAttention`` → ``predictions``
    (``fc = Linear(hidden_size, 5)``). The listing gives no sizes for this model; the
    defaults are those of its use in the hybrid (hidden 128, one layer).

    Reference:
        Paul, Azad. Heart Condition Classification based on ECG Images (CSE 472 report, BUET).
    Input range: [0, 255], (H, W, 13).
    """
    validate_ecg_lstm(input_shape=input_shape, num_classes=num_classes, dropout=dropout,
                      hidden_size=hidden_size, num_layers=num_layers)
    activation = default_activation(num_classes, classifier_activation)
    inputs, x = ecg_inputs(input_shape, background_norm)
    h, w, _ = input_shape
    x = layers.Permute((3, 1, 2), name="leads_permute")(x)
    x = layers.Reshape((LEADS, h * w), name="leads_flatten")(x)
    x = attention_lstm(x, hidden_size=hidden_size, num_layers=num_layers, num_outputs=None)
    if dropout:
        x = layers.Dropout(dropout, name="attn_lstm_dropout")(x)
    outputs = layers.Dense(num_classes, activation=activation, dtype="float32",
                           name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


@register_model("ecg_hybrid", task="multiclass", paper=PAPER,
                description="ECG images: 2-D CNN then attention LSTM, Dense 64 (Arch. 4)")
def ecg_hybrid(input_shape=(64, 64, 13), num_classes=5, hidden_size=128, num_layers=1,
               time_axis="rows", dropout=0.0, classifier_activation="auto",
               background_norm=False, name="ecg_hybrid"):
    """Architecture 4 (hybrid): the CNN 2D features, then ``AttnLSTM``, then Dense 64.

    ``time_axis="rows"`` follows the listing: the (128, H/4, W/4) feature maps are flattened
    over channel and row (``nn.Flatten(start_dim=1, end_dim=2)``), giving 128·H/4 steps of
    W/4 features (``AttnLSTM(input_size=16)`` at 64 px). ``time_axis="leads"`` instead runs
    the same two conv blocks on each lead (shared weights) and feeds 13 steps of flattened
    lead features. ``AttnLSTM`` ends in its own ``Linear(hidden, 5)``, as in Architecture 3,
    before the listing's Flatten → Dense 64 → ``predictions``.

    Reference:
        Paul, Azad. Heart Condition Classification based on ECG Images (CSE 472 report, BUET).
    Input range: [0, 255], (H, W, 13).
    """
    validate_ecg_lstm(input_shape=input_shape, num_classes=num_classes, dropout=dropout,
                      hidden_size=hidden_size, num_layers=num_layers)
    if time_axis not in TIME_AXES:
        raise ValueError(f"Expected `time_axis` in {TIME_AXES}. Received: time_axis={time_axis!r}")
    activation = default_activation(num_classes, classifier_activation)
    inputs, x = ecg_inputs(input_shape, background_norm)
    if time_axis == "rows":
        x = cnn2d_features(x)
        _, fh, fw, fc = x.shape
        x = layers.Permute((3, 1, 2), name="rows_permute")(x)
        x = layers.Reshape((fc * fh, fw), name="rows_flatten")(x)
    else:
        x = leads_first(x, input_shape)
        x = cnn2d_features(x, wrap=lambda layer, n: layers.TimeDistributed(layer, name=n))
        x = layers.Reshape((LEADS, -1), name="leads_flatten")(x)
    x = attention_lstm(x, hidden_size=hidden_size, num_layers=num_layers, num_outputs=5)
    outputs = dense_head(x, num_classes=num_classes, activation=activation, dropout=dropout)
    return keras.Model(inputs, outputs, name=name)


@register_model("ecg_timedistributed_cnn", task="multiclass", paper=PAPER,
                description="ECG images: one 2-D CNN shared by the 13 leads, Dense 64 (Arch. 5)")
def ecg_timedistributed_cnn(input_shape=(64, 64, 13), num_classes=5, dropout=0.0,
                            classifier_activation="auto", background_norm=False,
                            name="ecg_timedistributed_cnn"):
    """Architecture 5 (time-distributed CNN): the CNN 2D blocks applied to each lead alone.

    Each lead (H, W, 1) goes through Conv2D 64 → MaxPool → Conv2D 128 → MaxPool with weights
    shared across leads (the listing's ``TimeDistributed`` repeats one module object), then
    all 13 feature maps are flattened together → Dense 64 → ``predictions``. The listing's
    ``time_steps = 8`` cannot index 13 leads; the shared module makes it Keras'
    ``TimeDistributed`` over the 13.

    Reference:
        Paul, Azad. Heart Condition Classification based on ECG Images (CSE 472 report, BUET).
    Input range: [0, 255], (H, W, 13).
    """
    inputs, x, activation = ecg_begin(input_shape, num_classes, dropout, classifier_activation,
                                      background_norm)
    x = leads_first(x, input_shape)
    x = cnn2d_features(x, wrap=lambda layer, n: layers.TimeDistributed(layer, name=n))
    outputs = dense_head(x, num_classes=num_classes, activation=activation, dropout=dropout)
    return keras.Model(inputs, outputs, name=name)



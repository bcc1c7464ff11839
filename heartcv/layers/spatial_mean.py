"""``SpatialMean``: every position of a map replaced by the map's mean (the constant-map ablation)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="heartcv")
class SpatialMean(keras.layers.Layer):
    """Replaces each channel of a (batch, h, w, channels) map by its mean over (h, w).

    The output has the input's shape: per image and channel, one value everywhere. Inserted
    after an attention layer (``heartcv.explain.faithfulness.constant_map_model``), it turns
    the attention map W into a constant with the same per-image level, so a classifier that
    reads W only through its average (Cardio-XAttentionNet's GAP(A) / GAP(W), Eq. 9, becomes
    plain global average pooling) can be told from one that uses where W is high.

    Reference:
        Adebayo J, Gilmer J, Muelly M, Goodfellow I, Hardt M, Kim B. Sanity checks for
        saliency maps. NeurIPS 2018 (tests of whether a map depends on the model and data).
    """

    def call(self, inputs):
        mean = ops.mean(inputs, axis=(1, 2), keepdims=True)
        return ops.zeros_like(inputs) + mean

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

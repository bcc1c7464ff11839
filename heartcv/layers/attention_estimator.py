"""``AttentionEstimator``: the spatial attention of "Learn to Pay Attention" (linear form)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="heartcv")
class AttentionEstimator(keras.layers.Layer):
    """Compatibility of local features with a global descriptor, and the attended descriptor.

    Called on ``[l, g]`` with local features ``l`` (batch, h, w, C) and a global feature ``g``
    (batch, 1, 1, C) or (batch, C), it computes the compatibility map ``c = u · (l + g)``
    (a 1x1 convolution to one channel, no bias, as the paper's ``SpatialAttn``) and

    - ``normalize=True``: ``a = softmax(c)`` over the h·w positions and ``g_a = sum a · l``;
    - ``normalize=False``: ``a = sigmoid(c)`` and ``g_a = mean a · l`` (global average pooling).

    Returns ``[g_a, c]``: the attended descriptor (batch, C) and the compatibility map
    (batch, h, w, 1) before normalisation.

    Args:
        normalize: softmax (True) or sigmoid (False) attention, the paper's ``normalize_attn``.

    Reference:
        Jetley, Lord, Lee, Torr. Learn to Pay Attention. ICLR 2018 (Eq. 1-3, "linear"
        compatibility ``<u, l + g>``); Paul, Azad, Heart Condition Classification based on ECG
        Images (CSE 472 report, BUET), Architecture 6.
    """

    def __init__(self, normalize=True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(normalize, bool):
            raise TypeError(f"Expected `normalize` to be a bool. Received: normalize={normalize!r}")
        self.normalize = normalize

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError("AttentionEstimator expects [local_features, global_feature]. "
                             f"Received: input_shape={input_shape}")
        local, glob = input_shape
        if len(local) != 4 or local[-1] is None:
            raise ValueError("Expected local features of shape (batch, h, w, channels). "
                             f"Received: {tuple(local)}")
        if glob[-1] != local[-1]:
            raise ValueError(f"Expected the global feature to have {local[-1]} channels like the "
                             f"local features. Received: global shape {tuple(glob)}")
        self.kernel = self.add_weight(shape=(int(local[-1]), 1), initializer="glorot_uniform",
                                      name="kernel")

    def call(self, inputs):
        local, glob = inputs
        if len(glob.shape) == 2:
            glob = glob[:, None, None, :]
        c = ops.matmul(local + glob, self.kernel)  # (batch, h, w, 1)
        shape = ops.shape(c)
        flat = ops.reshape(c, (shape[0], -1, 1))
        if self.normalize:
            a = ops.softmax(flat, axis=1)
            g = ops.sum(ops.reshape(local, (shape[0], -1, ops.shape(local)[-1])) * a, axis=1)
        else:
            a = ops.sigmoid(flat)
            g = ops.mean(ops.reshape(local, (shape[0], -1, ops.shape(local)[-1])) * a, axis=1)
        return [g, c]

    def compute_output_shape(self, input_shape):
        local = input_shape[0]
        return [(local[0], local[-1]), (*local[:3], 1)]

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize}

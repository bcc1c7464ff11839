"""``GlobalWeightedAveragePooling``: GWAP of the Cardio-XAttentionNet attention mapping."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="heartcv")
class GlobalWeightedAveragePooling(keras.layers.Layer):
    """``GAP(A) / GAP(W)`` for weighted features ``A = F ⊙ W`` and weights ``W`` (Eq. 9).

    Called on ``[A, W]`` with both of shape (batch, h, w, channels) (W already broadcast to
    every channel), it returns (batch, channels): the attention-weighted average of each
    feature map, whose scale does not depend on the size of the attended region.

    Args:
        epsilon: added to the denominator so an all-zero attention map gives zeros, not NaN.

    Reference:
        Innat, Hossain, Mader, Kouzani. A convolutional attention mapping deep neural network
        for classification and localization of cardiomegaly on chest X-rays. Sci Rep 13, 2023.
    """

    def __init__(self, epsilon=1e-7, **kwargs):
        super().__init__(**kwargs)
        if not epsilon > 0:
            raise ValueError(f"Expected `epsilon` > 0. Received: epsilon={epsilon}")
        self.epsilon = float(epsilon)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError("GlobalWeightedAveragePooling expects [weighted_features, weights].")
        weighted, weights = inputs
        num = ops.mean(weighted, axis=(1, 2))
        den = ops.mean(weights, axis=(1, 2))
        return num / (den + ops.cast(self.epsilon, den.dtype))

    def compute_output_shape(self, input_shape):
        shape = input_shape[0]
        return (shape[0], shape[-1])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}

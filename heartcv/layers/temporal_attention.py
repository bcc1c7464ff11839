"""``TemporalAttention``: the attention over LSTM steps of the five-class ECG-image paper."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="heartcv")
class TemporalAttention(keras.layers.Layer):
    """Luong-style attention of the last hidden state over all LSTM steps.

    Called on hidden states ``h`` of shape (batch, steps, units) (an LSTM with
    ``return_sequences=True``), it computes, as the paper's ``TemporalAttn``::

        score   = (h W1) · h_T            # (batch, steps), W1: units x units, no bias
        a       = softmax(score)           # over the steps
        context = sum_t a_t h_t            # (batch, units)
        out     = tanh([context, h_T] W2)  # W2: 2 units x units, no bias

    and returns ``out`` (batch, units), or ``[out, a]`` with ``return_attention_scores``.

    Args:
        return_attention_scores: also return the step weights ``a`` (batch, steps).

    Reference:
        Paul, Azad. Heart Condition Classification based on ECG Images (CSE 472 report,
        BUET), Architecture 3 ``TemporalAttn``; after Luong, Pham, Manning, EMNLP 2015.
    """

    def __init__(self, return_attention_scores=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(return_attention_scores, bool):
            raise TypeError("Expected `return_attention_scores` to be a bool. Received: "
                            f"return_attention_scores={return_attention_scores!r}")
        self.return_attention_scores = return_attention_scores

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError("Expected hidden states of shape (batch, steps, units). "
                             f"Received: input_shape={tuple(input_shape)}")
        units = int(input_shape[-1])
        self.fc1_kernel = self.add_weight(shape=(units, units), initializer="glorot_uniform",
                                          name="fc1_kernel")
        self.fc2_kernel = self.add_weight(shape=(2 * units, units), initializer="glorot_uniform",
                                          name="fc2_kernel")

    def call(self, inputs):
        h = inputs
        h_last = h[:, -1, :]
        score = ops.sum(ops.matmul(h, self.fc1_kernel) * h_last[:, None, :], axis=-1)
        weights = ops.softmax(score, axis=-1)
        context = ops.sum(h * weights[:, :, None], axis=1)
        out = ops.tanh(ops.matmul(ops.concatenate([context, h_last], axis=-1), self.fc2_kernel))
        return [out, weights] if self.return_attention_scores else out

    def compute_output_shape(self, input_shape):
        out = (input_shape[0], input_shape[-1])
        return [out, (input_shape[0], input_shape[1])] if self.return_attention_scores else out

    def get_config(self):
        return {**super().get_config(), "return_attention_scores": self.return_attention_scores}

"""``ImagePreprocessing``: the input scaling a backbone expects, inside the model."""

import keras
from keras import ops

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
MODES = ("caffe", "torch", "tf", "unit", "minmax", "none")


@keras.saving.register_keras_serializable(package="heartcv")
class ImagePreprocessing(keras.layers.Layer):
    """Scale images given in [0, 255] the way a backbone was trained to see them.

    Modes follow ``keras.applications.imagenet_utils.preprocess_input``:
    ``caffe`` (RGB→BGR, ImageNet mean subtracted; VGG16, ResNet50), ``torch`` ([0, 1] then
    ImageNet mean/std; DenseNet), ``tf`` ([-1, 1]; InceptionResNetV2), plus ``unit``
    ([0, 1]), ``minmax`` (per-image min–max to [0, 1], the Cardio-XAttentionNet paper's
    normalisation) and ``none``. Putting this layer in the model keeps a saved ``.h5``
    self-contained: it always takes raw [0, 255] pixels.

    Args:
        mode: one of ``MODES``.
    """

    def __init__(self, mode="unit", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"Expected `mode` in {MODES}. Received: mode={mode!r}")
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "none":
            return x
        if self.mode == "unit":
            return x / 255.0
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "minmax":
            lo = ops.min(x, axis=(1, 2, 3), keepdims=True)
            hi = ops.max(x, axis=(1, 2, 3), keepdims=True)
            return (x - lo) / ops.maximum(hi - lo, 1e-6)
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_IMAGENET_MEAN, dtype=x.dtype)
            std = ops.convert_to_tensor(_IMAGENET_STD, dtype=x.dtype)
            return (x / 255.0 - mean) / std
        # caffe: RGB -> BGR, zero-centre by the ImageNet channel means, no scaling.
        x = ops.flip(x, axis=-1)
        return x - ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype=x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}

"""heartcv: five published heart-disease-from-images systems in one Keras 3 codebase.

Importing the package registers every custom layer, loss, metric and model builder, so
``keras.models.load_model("x.h5")`` and ``.keras`` load with no ``custom_objects``. Nothing
else runs on import.
"""

import os as _os

__version__ = "0.1.0"

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probes) hides heartcv's own output; a
# default only: a value the user set is kept.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from heartcv import layers, losses, metrics, models  # noqa: E402,F401  (registration)
from heartcv.io import load_model, save_model  # noqa: E402,F401
from heartcv.registry import build_model, get_spec, list_models, register_model  # noqa: E402,F401

"""heartcv: five published heart-disease-from-images systems in one Keras 3 codebase.

Importing the package registers every custom layer, loss, metric and model builder, so
``keras.models.load_model("x.h5")`` and ``.keras`` load with no ``custom_objects``. Nothing
else runs on import.
"""

__version__ = "0.1.0"

from heartcv import layers, losses, metrics, models  # noqa: E402,F401  (registration)
from heartcv.io import load_model, save_model  # noqa: E402,F401
from heartcv.registry import build_model, get_spec, list_models, register_model  # noqa: E402,F401

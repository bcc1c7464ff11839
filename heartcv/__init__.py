"""heartcv: five published heart-disease-from-images systems in one Keras 3 codebase.

Importing the package registers every custom layer, loss, metric, paper and model builder, so
``keras.models.load_model("x.h5")`` and ``.keras`` load with no ``custom_objects``. Nothing
else runs on import.

The one exception is the ``heartcv`` command itself (the console script, or
``python -m heartcv``): there registration waits until a command needs a model
(:func:`register_all`), so ``heartcv --help`` and argument errors answer without importing
TensorFlow.
"""

__version__ = "0.1.0"

import os as _os
import sys as _sys

from heartcv.registry import (  # noqa: E402,F401
    Paper,
    build_model,
    get_paper,
    get_spec,
    list_models,
    list_papers,
    register_model,
)

_REGISTERED = False


def register_all() -> None:
    """Import every layer, loss, metric and paper model module, so all are registered.

    ``import heartcv`` calls it; the ``heartcv`` command calls it when a command needs models.
    """
    global _REGISTERED
    if _REGISTERED:
        return
    from heartcv import layers, losses, metrics, models  # noqa: F401
    from heartcv.papers import import_models

    import_models()
    _REGISTERED = True


def _launched_as_command() -> bool:
    """True while the ``heartcv`` console script or ``python -m heartcv`` starts up."""
    main = _sys.modules.get("__main__")
    script = _os.path.basename(getattr(main, "__file__", "") or "")
    if script in ("heartcv", "heartcv.exe", "heartcv-script.py"):
        return True
    argv = list(getattr(_sys, "orig_argv", []))
    return "-m" in argv and argv.index("-m") + 1 < len(argv) and argv[argv.index("-m") + 1] == "heartcv"


if not _launched_as_command():
    register_all()


def __getattr__(name):
    if name in ("load_model", "save_model"):
        from heartcv import io

        return getattr(io, name)
    raise AttributeError(f"module 'heartcv' has no attribute {name!r}")

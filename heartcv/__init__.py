"""heartcv: five published heart-disease-from-images systems in one Keras 3 codebase.

Importing the package registers every custom layer, loss, metric, paper and model builder, so
``keras.models.load_model("x.h5")`` and ``.keras`` load with no ``custom_objects``. TensorFlow
is imported first with its start-up lines hidden (:mod:`heartcv._quiet`; ``HEARTCV_DEBUG=1``
shows them). Nothing else runs on import.

The exceptions are programs that parse their arguments first: the ``heartcv`` command (the
console script, or ``python -m heartcv``) and scripts whose ``__main__`` module sets
``__heartcv_register_later__ = True`` before importing heartcv (``experiments/*/run.py``).
There registration waits until :func:`register_all` is called, so ``--help`` and argument
errors answer without importing TensorFlow.
"""

__version__ = "0.1.0"

import os as _os
import sys as _sys

from heartcv._quiet import import_tensorflow_quietly as _import_tensorflow_quietly  # noqa: E402
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


def register_all(*, debug: bool = False, library: bool = False) -> None:
    """Import TensorFlow and every layer, loss, metric and paper model module, so all are
    registered.

    TensorFlow's start-up lines are hidden unless ``debug`` or ``HEARTCV_DEBUG=1``.
    ``import heartcv`` calls it with ``library=True`` (only those lines are hidden); the
    ``heartcv`` command and ``experiments/*/run.py`` call it once their arguments are parsed,
    and then TensorFlow's later log lines are lowered too (:mod:`heartcv._quiet`).
    """
    global _REGISTERED
    if _REGISTERED:
        return
    if not debug:
        _import_tensorflow_quietly(library=library)
    # deferred: these import Keras, so TensorFlow must be imported (quietly) first, and the
    # CLI answers --help before registering (tests/test_cli_startup.py)
    from heartcv import layers, losses, metrics, models  # noqa: F401
    from heartcv.papers import import_models  # deferred: see above

    import_models()
    _REGISTERED = True


def _registration_deferred() -> bool:
    """True while a program that registers the models after parsing its arguments starts up:
    the ``heartcv`` console script, ``python -m heartcv``, or a script whose ``__main__``
    module sets ``__heartcv_register_later__ = True``."""
    main = _sys.modules.get("__main__")
    if getattr(main, "__heartcv_register_later__", False) is True:
        return True
    script = _os.path.basename(getattr(main, "__file__", "") or "")
    if script in ("heartcv", "heartcv.exe", "heartcv-script.py"):
        return True
    argv = list(getattr(_sys, "orig_argv", []))
    return "-m" in argv and argv.index("-m") + 1 < len(argv) and argv[argv.index("-m") + 1] == "heartcv"


if not _registration_deferred():
    register_all(library=True)


def __getattr__(name):
    if name in ("load_model", "save_model"):
        from heartcv import io  # lazy attribute: io imports Keras (after register_all)

        return getattr(io, name)
    raise AttributeError(f"module 'heartcv' has no attribute {name!r}")

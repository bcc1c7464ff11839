"""Import TensorFlow without its start-up log lines (``--debug`` or ``HEARTCV_DEBUG=1`` shows them).

TensorFlow 2.21 writes oneDNN, CUDA-stub and cuInit notices straight to file descriptor 2
from C++ before ``absl::InitializeLog()`` runs, so ``TF_CPP_MIN_LOG_LEVEL`` does not silence
them. :func:`import_tensorflow_quietly` points descriptor 2 at a temporary file while
TensorFlow loads and initialises its platforms (``tf.config.list_physical_devices``, where the
cuInit notice comes from), then restores it; if the import fails, what was written is shown,
and Python warnings raised during the import are shown once descriptor 2 is back. Only the
import is silenced: errors and warnings raised later reach stderr as usual.

Two policies for what follows the import:

- the ``heartcv`` command and ``experiments/*/run.py`` (the default): ``TF_CPP_MIN_LOG_LEVEL``
  defaults to 3 and the Python-side absl / tensorflow / h5py loggers are lowered to errors
  (e.g. "You are saving your model as an HDF5 file");
- ``import heartcv`` from your own code (``library=True``): ``TF_CPP_MIN_LOG_LEVEL`` defaults
  to 1 (TensorFlow's later C++ info lines, such as "XLA service ... initialized", stay hidden;
  its C++ warnings and errors are shown) and the Python loggers are left as they are.

A value of ``TF_CPP_MIN_LOG_LEVEL`` you set yourself is kept. Under another Keras backend
(``KERAS_BACKEND=jax``) TensorFlow is not imported.
"""

from __future__ import annotations

import os
import sys


def debug_requested() -> bool:
    """True when ``HEARTCV_DEBUG`` is set to anything but ``""``, ``0``, ``false`` or ``no``."""
    return os.environ.get("HEARTCV_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def import_tensorflow_quietly(*, library: bool = False) -> None:
    """Import TensorFlow (if Keras will use it) and Keras with descriptor 2 silenced.

    Does nothing under ``HEARTCV_DEBUG=1`` (TensorFlow is then imported, with all its lines,
    by whatever needs it), nor when TensorFlow and Keras are already imported.

    Args:
        library: ``import heartcv`` from user code: only the start-up lines are hidden (see
            the module docstring).
    """
    if debug_requested():
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1" if library else "3")
    tensorflow = os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow"
    if "keras" not in sys.modules or (tensorflow and "tensorflow" not in sys.modules):
        _silenced_import(tensorflow)
    if library:
        return
    import logging

    for name in ("absl", "tensorflow", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        pass


def _silenced_import(tensorflow: bool) -> None:
    """Import TensorFlow (``tensorflow``) and Keras with descriptor 2 on a temporary file."""
    import tempfile
    import warnings

    caught, failed = [], False
    show = warnings.showwarning
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            os.dup2(sink.fileno(), 2)
            warnings.showwarning = lambda *w: caught.append(w)  # the filters still apply
            if tensorflow:
                try:
                    import tensorflow as tf
                except ModuleNotFoundError as err:  # keras.json may name another backend
                    if err.name != "tensorflow":
                        raise
                else:
                    tf.config.list_physical_devices()
            import keras  # noqa: F401
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            warnings.showwarning = show
            if failed:  # what TensorFlow said is the explanation
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))
            for w in caught:  # shown as they would have been without the sink
                warnings.showwarning(*w)

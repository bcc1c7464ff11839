"""Import TensorFlow without its start-up log lines (the CLI's default; ``--debug`` shows them).

TensorFlow 2.21 writes oneDNN, CUDA-stub and cuInit notices straight to file descriptor 2
from C++ before ``absl::InitializeLog()`` runs, so ``TF_CPP_MIN_LOG_LEVEL`` does not silence
them. :func:`import_tensorflow_quietly` points descriptor 2 at a temporary file while
TensorFlow loads and initialises its platforms (``tf.config.list_physical_devices``, where the
cuInit notice comes from), then restores it; if the import fails, what was written is shown.
Python-side absl warnings (e.g. "You are saving your model as an HDF5 file") are lowered to
errors. Under another Keras backend (``KERAS_BACKEND=jax``) TensorFlow is not imported.
"""

from __future__ import annotations

import os
import sys
import tempfile


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (if Keras will use it) and Keras with descriptor 2 silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            if backend == "tensorflow":
                import tensorflow as tf

                tf.config.list_physical_devices()
            import keras  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    import logging

    for name in ("absl", "tensorflow", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        pass

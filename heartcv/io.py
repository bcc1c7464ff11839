"""Saving and loading models as ``.h5`` (asked for by users) and ``.keras``.

``import heartcv`` registers every custom object, so both formats load with plain
``keras.models.load_model`` and no ``custom_objects``. Writes go to a temporary file in the
same folder and are renamed into place, so an interrupted save never leaves a half file
under the final name.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import keras

from heartcv.files import atomic_path

FORMATS = (".h5", ".keras")


def _check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"Expected a model file ending in {' or '.join(FORMATS)}. Received: path={str(path)!r}"
        )
    return suffix


@contextlib.contextmanager
def _quiet_h5_notice():
    """Hide Keras' "HDF5 is legacy" notice for this save only: users asked for .h5."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def save_model(model, path, *, include_optimizer: bool = True) -> Path:
    """Save ``model`` to ``path`` (``.h5`` or ``.keras``) atomically; returns the path."""
    path = Path(path)
    suffix = _check_suffix(path)
    with atomic_path(path) as tmp:
        if suffix == ".h5":
            with _quiet_h5_notice():
                keras.saving.save_model(model, tmp, include_optimizer=include_optimizer)
        else:
            keras.saving.save_model(model, tmp)
    return path


def load_model(path, *, compile: bool = False):
    """Load a ``.h5`` or ``.keras`` model saved by heartcv (or any Keras 3 model).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: wrong suffix, a folder, or a file Keras cannot read (truncated, not a
            model): ``"<path> is not a readable Keras model (<first line of Keras' error>)"``.
    """
    path = Path(path)
    _check_suffix(path)
    if not path.exists():
        raise FileNotFoundError(f"Model file not found: {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a readable Keras model (it is a directory)")
    try:
        return keras.models.load_model(path, compile=compile)
    except Exception as err:  # noqa: BLE001 - h5py, zipfile and Keras raise many types
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path} is not a readable Keras model "
                         f"({type(err).__name__}: {first})") from err


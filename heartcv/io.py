"""Saving and loading models as ``.h5`` (asked for by users) and ``.keras``.

``import heartcv`` registers every custom object, so both formats load with plain
``keras.models.load_model`` and no ``custom_objects``. Writes go to a temporary file in the
same folder and are renamed into place, so an interrupted save never leaves a half file
under the final name.

A full disk is an error, not a crash: a save is refused before it starts when the disk
cannot hold the weights (their size is known: :func:`saved_size`), and an HDF5 write that
fails anyway is given up before HDF5 flushes into the full disk again
(:func:`heartcv.files.discard_hdf5`). Either way :class:`heartcv.files.OutputPathError`
names the final path, the space needed and the space free; the file that was there stays.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import keras
import numpy as np

from heartcv.files import (OutputPathError, atomic_path, check_free_space, discard_hdf5,
                           free_bytes, space_detail, storage_errno)

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


def saved_size(model, *, include_optimizer: bool = True) -> int:
    """About how many bytes a saved ``model`` takes: its weights (and the optimizer's
    variables), plus HDF5's few kB per variable and the config."""
    variables = list(model.weights)
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None:
        variables += list(getattr(optimizer, "variables", []) or [])
    total = 64 << 10
    for v in variables:
        try:
            itemsize = np.dtype(str(getattr(v, "dtype", "float32"))).itemsize
        except TypeError:  # bfloat16 and other dtypes NumPy does not name
            itemsize = 4
        total += int(np.prod(tuple(v.shape), dtype=np.int64)) * itemsize + (4 << 10)
    return total


def _give_up(path, tmp, err, needed, h5file=None) -> OSError | None:
    """Give the temporary file ``tmp`` up (:func:`heartcv.files.discard_hdf5`: truncated,
    every HDF5 handle on it closed, deleted) and return the one-line error for a storage
    failure ``err`` of a save to ``path`` (None for another error, to be re-raised)."""
    discard_hdf5(tmp, h5file)
    code = storage_errno(err)
    if code is None:
        return None
    return OutputPathError(path, "no space left", code,
                           detail=space_detail(needed, free_bytes(path)))


def _save_h5(model, tmp, path, include_optimizer, needed) -> None:
    """The legacy ``.h5`` save into an HDF5 file this function opens and closes, so that a
    failed write is given up (:func:`heartcv.files.discard_hdf5`) before anything closes it
    (Keras' own save closes it in a ``finally``, which can crash on a full disk)."""
    import h5py

    try:
        from keras.src.legacy.saving.legacy_h5_format import save_model_to_hdf5
    except ImportError:  # pragma: no cover - a Keras without the legacy writer
        with _quiet_h5_notice():
            keras.saving.save_model(model, tmp, include_optimizer=include_optimizer)
        return
    f = h5py.File(tmp, "w")
    try:
        save_model_to_hdf5(model, f, include_optimizer=include_optimizer)
        f.flush()  # a failure here can still be given up; one in close() cannot
    except Exception as err:
        failure = _give_up(path, tmp, err, needed, f)
        if failure is None:
            raise
        raise failure from None
    f.close()


def save_model(model, path, *, include_optimizer: bool = True) -> Path:
    """Save ``model`` to ``path`` (``.h5`` or ``.keras``) atomically; returns the path.

    Raises:
        heartcv.files.OutputPathError: the disk cannot hold the model (checked before the
            write: no space left on device writing PATH (needs about N MB, M MB free)), or
            the write failed; the file under ``path`` is left as it was.
    """
    path = Path(path)
    suffix = _check_suffix(path)
    needed = saved_size(model, include_optimizer=include_optimizer or suffix == ".keras")
    check_free_space(path, needed)
    with atomic_path(path) as tmp:
        if suffix == ".h5":
            _save_h5(model, tmp, path, include_optimizer, needed)
        else:
            try:
                keras.saving.save_model(model, tmp)
            except Exception as err:
                failure = _give_up(path, tmp, err, needed)
                if failure is None:
                    raise
                raise failure from None
    return path


def save_weights(model, path) -> Path:
    """Save ``model.save_weights`` (``.weights.h5``: the weights and the optimizer state)
    atomically, as :func:`save_model` does (checked free space, a failed write given up)."""
    path = Path(path)
    needed = saved_size(model)
    check_free_space(path, needed)
    with atomic_path(path, suffix=".weights.h5") as tmp:
        try:
            model.save_weights(str(tmp), overwrite=True)
        except Exception as err:
            failure = _give_up(path, tmp, err, needed)  # closes a file Keras left open
            if failure is None:
                raise
            raise failure from None
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


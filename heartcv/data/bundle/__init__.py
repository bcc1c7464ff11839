"""The heartcv HDF5 bundle: one file per prepared dataset, validated on read.

A *bundle* holds every image of a dataset resized to one size, with its labels and/or masks,
patient ids and split assignment, so that training never touches the raw layout again.

Modules: :mod:`~heartcv.data.bundle.schema` (the reference for the file layout, and the one
place that names tasks, splits, dataset keys and attributes), :mod:`~.checks` and
:mod:`~.batch` (argument checks of the writers), :mod:`~.writer` (:class:`BundleWriter`,
:func:`write_bundle`), :mod:`~.validate` (the validator, one small rule per problem) and
:mod:`~.reader` (:func:`open_bundle`, :func:`read_bundle`).

Example:
    >>> write_bundle("toy.h5", images, labels=y, patient_id=pids, split=split,
    ...              class_names=["Cardiomegaly"], task="binary", source="toy")
    >>> with open_bundle("toy.h5") as b:
    ...     x_train = b.images[b.indices("train")]
"""

from heartcv.data.bundle.checks import check_labels
from heartcv.data.bundle.reader import Bundle, BundleData, open_bundle, read_bundle
from heartcv.data.bundle.schema import (BOX_COLUMNS, BOXES, FOLD, IMAGE_CHANNELS, IMAGE_ID, IMAGES,
                                        LABELS, MASKS, META, PATIENT_ID, SCHEMA_VERSION, SPLIT,
                                        SPLITS, TASKS, Box, BundleError)
from heartcv.data.bundle.writer import BundleWriter, write_bundle

__all__ = [
    "SCHEMA_VERSION",
    "TASKS",
    "SPLITS",
    "IMAGE_CHANNELS",
    "IMAGES",
    "LABELS",
    "MASKS",
    "PATIENT_ID",
    "IMAGE_ID",
    "SPLIT",
    "FOLD",
    "BOXES",
    "META",
    "BOX_COLUMNS",
    "BundleError",
    "Box",
    "Bundle",
    "BundleData",
    "BundleWriter",
    "check_labels",
    "write_bundle",
    "open_bundle",
    "read_bundle",
]

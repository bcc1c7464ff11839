"""The bundle schema: the one place that names tasks, splits, dataset keys and attributes.

A *bundle* holds every image of a dataset resized to one size, with its labels and/or masks,
patient ids and split assignment, so that training never touches the raw layout again.
This docstring is the reference for the schema (``SCHEMA_VERSION = 1``).

Datasets (``N`` samples; every per-sample dataset has length ``N``):

=================  ===========================  ==============================================
name               shape / dtype                meaning
=================  ===========================  ==============================================
``images``         (N, H, W, C) uint8           C in ``IMAGE_CHANNELS``: 1 (grey), 3 (RGB) or 13
                                                (the lead crops of an ECG sheet, one per
                                                channel); chunked one image per
                                                chunk, gzip (level 1) or lzf compressed
``labels``         (N, K) float32               one column per ``class_names`` entry; 0/1,
                                                NaN = unknown. multiclass: one-hot rows (or an
                                                all-NaN row when unknown)
``masks``          (N, H, W) or (N, H, W, M)    0/1 uint8; with M structures the dataset attr
                   uint8                        ``mask_names`` (JSON list) names them
``patient_id``     (N,) UTF-8 str               never empty
``image_id``       (N,) UTF-8 str               unique within the bundle
``split``          (N,) UTF-8 str               ``"train"``, ``"val"``, ``"test"`` or ``""``
                                                (unassigned)
``fold``           (N,) int8, optional          k-fold assignment, ``-1`` = unassigned
``boxes/``         group of 1-D columns,        ``image_index`` (int64), ``label`` (str),
                   optional                     ``x``, ``y``, ``w``, ``h`` (float32) in the
                                                bundle's pixel coordinates (H x W)
``meta/<name>``    (N,) numeric or str,         extra per-image columns (e.g. ``ctr``, ``view``,
                   optional                     ``src_width``)
=================  ===========================  ==============================================

A bundle needs ``images``, ``patient_id``, ``image_id``, ``split`` and, by ``task``:
``labels`` for ``"binary"``, ``"multiclass"`` and ``"multilabel"``; ``masks`` for
``"segmentation"`` (labels optional there).

File attributes: ``schema_version`` (int), ``class_names`` (JSON list of str, one per label
column), ``task`` (one of ``TASKS``), ``source`` (free text: dataset name, origin),
``heartcv_version``, ``created`` (ISO-8601 UTC), ``image_size`` ([H, W]); any extra scalar
attributes given by the writer.
"""

from __future__ import annotations

from typing import NamedTuple

import h5py

__all__ = [
    "SCHEMA_VERSION", "TASKS", "SPLITS", "COMPRESSIONS", "IMAGE_CHANNELS", "GZIP_LEVEL",
    "IMAGES", "LABELS", "MASKS", "PATIENT_ID", "IMAGE_ID", "SPLIT", "FOLD", "BOXES", "META",
    "BOX_COLUMNS", "ID_COLUMNS", "ROW_DATASETS", "REQUIRED_DATASETS",
    "ATTR_SCHEMA_VERSION", "ATTR_CLASS_NAMES", "ATTR_TASK", "ATTR_SOURCE",
    "ATTR_HEARTCV_VERSION", "ATTR_CREATED", "ATTR_IMAGE_SIZE", "ATTR_MASK_NAMES",
    "RESERVED_ATTRS", "STR_DTYPE", "ROW_CHUNK", "BundleError", "Box",
]

SCHEMA_VERSION = 1
TASKS = ("binary", "multiclass", "multilabel", "segmentation")
SPLITS = ("train", "val", "test", "")
COMPRESSIONS = ("gzip", "lzf", None)
IMAGE_CHANNELS = (1, 3, 13)  # grey, RGB, the 13 lead crops of a 12-lead ECG sheet
GZIP_LEVEL = 1  # radiographs compress to ~0.68 at levels 1-6 alike; 1 is ~2.5x faster than 4

# dataset keys
IMAGES = "images"
LABELS = "labels"
MASKS = "masks"
PATIENT_ID = "patient_id"
IMAGE_ID = "image_id"
SPLIT = "split"
FOLD = "fold"
BOXES = "boxes"
META = "meta"
BOX_COLUMNS = ("image_index", "label", "x", "y", "w", "h")
ID_COLUMNS = (PATIENT_ID, IMAGE_ID, SPLIT)  # the 1-D string columns every bundle has
REQUIRED_DATASETS = (IMAGES, *ID_COLUMNS)
ROW_DATASETS = (IMAGES, PATIENT_ID, IMAGE_ID, SPLIT, LABELS, MASKS, FOLD)  # one row per sample

# file attributes (and the one dataset attribute, on ``masks``)
ATTR_SCHEMA_VERSION = "schema_version"
ATTR_CLASS_NAMES = "class_names"
ATTR_TASK = "task"
ATTR_SOURCE = "source"
ATTR_HEARTCV_VERSION = "heartcv_version"
ATTR_CREATED = "created"
ATTR_IMAGE_SIZE = "image_size"
ATTR_MASK_NAMES = "mask_names"
RESERVED_ATTRS = (
    ATTR_SCHEMA_VERSION,
    ATTR_CLASS_NAMES,
    ATTR_TASK,
    ATTR_SOURCE,
    ATTR_HEARTCV_VERSION,
    ATTR_CREATED,
    ATTR_IMAGE_SIZE,
)

STR_DTYPE = h5py.string_dtype("utf-8")
ROW_CHUNK = 1024  # rows per chunk of the 1-D and label datasets


class BundleError(ValueError):
    """A file is not a valid heartcv bundle; the message names the file and the problem."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"Invalid heartcv bundle {self.path}: {problem}")


class Box(NamedTuple):
    """One bounding box in the bundle's pixel coordinates."""

    label: str
    x: float
    y: float
    w: float
    h: float

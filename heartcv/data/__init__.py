"""Data layer: HDF5 bundles, patient-wise splits, image reading and index conversion.

Pure NumPy/OpenCV/h5py/pandas (no TensorFlow here): ``bundle`` (the bundle schema, writer,
validator and reader), ``splits`` (patient-disjoint splits, folds, leakage check), ``images``
(robust reading and resizing), ``convert`` (parallel, resumable dataset index -> bundle).
"""

from heartcv.data.bundle import (
    SCHEMA_VERSION,
    Bundle,
    BundleData,
    BundleError,
    BundleWriter,
    open_bundle,
    read_bundle,
    write_bundle,
)
from heartcv.data.convert import ConversionResult, convert_index
from heartcv.data.images import (
    ImageInfo,
    ImageReadError,
    load_image,
    read_image,
    read_mask,
    resize_image,
    resize_mask,
)
from heartcv.data.splits import (
    LeakageError,
    assert_disjoint,
    assign_folds,
    leakage_report,
    patient_kfold,
    patient_split,
)

__all__ = [
    "SCHEMA_VERSION",
    "Bundle",
    "BundleData",
    "BundleError",
    "BundleWriter",
    "ConversionResult",
    "ImageInfo",
    "ImageReadError",
    "LeakageError",
    "assert_disjoint",
    "assign_folds",
    "convert_index",
    "leakage_report",
    "load_image",
    "open_bundle",
    "patient_kfold",
    "patient_split",
    "read_bundle",
    "read_image",
    "read_mask",
    "resize_image",
    "resize_mask",
    "write_bundle",
]

"""The one batch builder: ``tf.data`` under TensorFlow, a ``PyDataset`` otherwise.

Every batch holds float32 images in [0, 255] (models carry their own preprocessing layer,
so nothing is normalised here), resized to ``image_size`` (bilinear, antialiased when
shrinking) and with ``channels`` channels (grey is repeated). Targets are float32 (integer
class ids keep their dtype); segmentation yields ``(image, mask)`` with masks
``(B, H, W, M)`` in {0, 1}. A mask channel an image has no reference for holds
:data:`heartcv.losses.MISSING_MASK` (255) in every pixel instead; resizing keeps it, and
after augmentation (which moves and thresholds masks) the channel is set back to it, so the
loss can leave it out. Extra model inputs (the MIT-BIH RR features) and sample weights ride
along with the rows.

Layers: :mod:`~heartcv.data.batches.rows` (the one row source: arrays, bundle rows, the
resized cache; :meth:`Rows.load`, the one load function), :mod:`~.transforms` (resize,
:func:`~.transforms.apply_layer`, the one augment step, channels, packing), the two engines
:mod:`~.tfdata` and :mod:`~.pydataset`, and :mod:`~.builder` (:func:`batches`,
:func:`make_dataset`, :func:`dataset_from_bundle`). No other module of heartcv builds a
``tf.data`` pipeline or subclasses ``PyDataset`` (``tests/test_package_layout.py``).

Under ``KERAS_BACKEND=jax`` this package never imports TensorFlow, so it runs where
TensorFlow is not installed. The ``PyDataset``'s loader threads or processes:
``HEARTCV_DATA_WORKERS`` (default 1, batches made in the training loop's thread) and
``HEARTCV_DATA_MULTIPROCESSING=1`` (worker processes instead of threads). Keras forks those
processes; JAX warns that forking its multithreaded process may deadlock, and the augmenter
draws its random parameters with Keras (JAX) ops inside the workers, so under JAX augmented
training is safer with threads (tested: 2 forked workers feeding a 2-step fit without
augmentation, ``tests/jax/test_jax.py``).
"""

from heartcv.data.batches.builder import (DEFAULT_MEMORY_LIMIT, ArraySequence, BundleSequence,
                                          array_rows, batches, dataset_from_bundle,
                                          make_dataset, uses_tf_data)
from heartcv.data.batches.pydataset import RowBatches
from heartcv.data.batches.rows import Rows
from heartcv.data.batches.weights import class_weights, label_frequencies

pydataset_from_bundle = BundleSequence

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "ArraySequence",
    "BundleSequence",
    "RowBatches",
    "Rows",
    "array_rows",
    "batches",
    "class_weights",
    "dataset_from_bundle",
    "label_frequencies",
    "make_dataset",
    "pydataset_from_bundle",
    "uses_tf_data",
]

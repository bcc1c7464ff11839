"""The one batch builder under TensorFlow: its ``tf.data`` path against its ``PyDataset`` path.

Writes ``--n`` synthetic chest X-rays (:func:`heartcv.data.synthetic.generate_chest_xrays`)
at ``--bundle-size`` into a bundle, then times full training epochs at ``--image-size``
with every augmentation on (the settings of ``pipeline_throughput.py``) and without, in
``--rounds`` interleaved rounds, for:

- ``tf.data``: :func:`dataset_from_bundle` under the TensorFlow backend (what training uses);
- ``PyDataset``: the same rows served as a ``keras.utils.PyDataset`` (OpenCV resizing, the
  augmenter's transforms drawn eagerly), iterated in this thread as ``HEARTCV_DATA_WORKERS=1``
  would.

Run: ``.venv/bin/python benchmarks/batches_throughput.py`` (about 3 minutes on 2 cores).
It runs against the package before and after the batch builder moved to
:mod:`heartcv.data.batches` (issue 22): it imports whichever is there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

try:  # after issue 22
    from heartcv.data.batches import dataset_from_bundle, pydataset_from_bundle
except ImportError:  # before: heartcv.data.pipeline
    from heartcv.data.pipeline import BundleSequence as pydataset_from_bundle
    from heartcv.data.pipeline import dataset_from_bundle
from heartcv.data.synthetic import generate_chest_xrays

try:
    from heartcv.data.bundle import write_bundle
except ImportError:  # before: heartcv.data.h5
    from heartcv.data.h5 import write_bundle

AUGMENT = dict(rotation_range=15.0, width_shift_range=0.1, height_shift_range=0.1,
               shear_range=10.0, zoom_range=0.1, horizontal_flip=True,
               brightness_range=(0.8, 1.2))


def write_synthetic_bundle(path, n, size):
    d = generate_chest_xrays(n // 2, 2, size=size, seed=0)
    write_bundle(path, d["images"], labels=d["labels"], patient_id=d["patient_id"],
                 split=["train"] * len(d["images"]), class_names=["Cardiomegaly"],
                 task="binary", source="benchmark: synthetic phantoms")


def images_per_second(batches):
    n, t0 = 0, time.perf_counter()
    if hasattr(batches, "on_epoch_end"):  # PyDataset: one epoch as the training loop reads it
        for i in range(len(batches)):
            n += len(batches[i][0])
        batches.on_epoch_end()
    else:
        for x, _ in batches:
            n += int(x.shape[0])
    return n / (time.perf_counter() - t0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--bundle-size", type=int, default=320)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="heartcv-batches-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bundle = workdir / f"synthetic{args.bundle_size}_{args.n}.h5"
    if not bundle.exists():
        write_synthetic_bundle(bundle, args.n, args.bundle_size)
    kw = dict(image_size=args.image_size, batch_size=args.batch_size, training=True, seed=0)
    paths = {
        "tf.data, augmented": dataset_from_bundle(bundle, "train", augment=dict(AUGMENT), **kw),
        "PyDataset, augmented": pydataset_from_bundle(bundle, "train", augment=dict(AUGMENT),
                                                      **kw),
        "tf.data, no augmentation": dataset_from_bundle(bundle, "train", **kw),
        "PyDataset, no augmentation": pydataset_from_bundle(bundle, "train", **kw),
    }
    for ds in paths.values():  # warm up (trace, thread pools)
        images_per_second(ds)
    rates = {name: [] for name in paths}
    for _ in range(args.rounds):
        for name, ds in paths.items():
            rates[name].append(images_per_second(ds))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\n{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
          f"{args.n} images {args.bundle_size}→{args.image_size}, batch {args.batch_size} · "
          f"load average at the end {load}\n")
    print("| Path | img/s per round | median |")
    print("|---|---|---|")
    for name, r in rates.items():
        print(f"| {name} | {' / '.join(f'{v:.0f}' for v in r)} | {np.median(r):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

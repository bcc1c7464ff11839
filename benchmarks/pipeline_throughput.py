"""Input-pipeline throughput: an HDF5 bundle through tf.data vs decoding PNG files each epoch.

Writes ``--n`` synthetic chest X-rays as ``--png-size`` PNGs (derived from a few phantoms of
:func:`heartcv.data.synthetic.generate_chest_xrays`, each copy shifted, contrast-changed
and noised so no two files are alike), converts them once to a bundle at ``--bundle-size``,
then times passes at ``--image-size`` with every augmentation on (full epochs for the
bundle, ``--png-images`` images for the slow paths), in ``--rounds`` interleaved rounds so
that each round compares the paths under the same load from other processes, for:

- ``bundle``: :func:`heartcv.data.batches.dataset_from_bundle` (resized uint8 cache);
- ``png-tf``: the PNG pipeline a user would write: ``tf.io.read_file`` →
  ``tf.io.decode_png`` → ``tf.image.resize`` (parallel map) → shuffle → batch → the same
  augmenter;
- ``png-cv2``: the same with ``cv2.imread`` + ``cv2.resize`` in a ``tf.numpy_function``;

plus the bundle without augmentation, PNG decoding without augmentation (the ceiling of
any PNG pipeline), and the augmenter alone called as a Keras model (TensorFlow warps; the
pipelines warp ``RandomAffine`` with OpenCV, see :mod:`heartcv.data.batches`).

Run: ``.venv/bin/python benchmarks/pipeline_throughput.py`` (about 5 minutes on 2 cores,
2 of them writing the PNGs and the bundle; ``--workdir DIR`` keeps and reuses those).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from heartcv.data.augment import build_augmenter
from heartcv.data.bundle import write_bundle
from heartcv.data.batches import dataset_from_bundle
from heartcv.data.synthetic import generate_chest_xrays

AUGMENT = dict(
    rotation_range=15.0,
    width_shift_range=0.1,
    height_shift_range=0.1,
    shear_range=10.0,
    zoom_range=0.1,
    horizontal_flip=True,
    brightness_range=(0.8, 1.2),
)


def write_pngs(folder, n, size, seed=0, n_phantoms=16):
    """``n`` distinct grey PNGs of ``size``² from ``n_phantoms`` rendered phantoms."""
    folder.mkdir(parents=True, exist_ok=True)
    base = generate_chest_xrays(n_phantoms // 2, 2, size=size, seed=seed)["images"][..., 0]
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        img = base[i % len(base)].astype(np.float32)
        img = np.roll(img, tuple(rng.integers(-size // 32, size // 32 + 1, 2)), axis=(0, 1))
        img = 255.0 * (img / 255.0) ** rng.uniform(0.8, 1.25) + rng.normal(0.0, 2.0, img.shape)
        path = folder / f"{i:05d}.png"
        cv2.imwrite(str(path), np.clip(img, 0, 255).astype(np.uint8))
        paths.append(str(path))
    return paths


def write_png_bundle(paths, out, size):
    """Decode every PNG once, resize to ``size`` (INTER_AREA) and write a bundle."""
    images = np.empty((len(paths), size, size, 1), dtype=np.uint8)
    for i, p in enumerate(paths):
        img = cv2.imread(p, cv2.IMREAD_GRAYSCALE)
        images[i, ..., 0] = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    labels = (np.arange(len(paths)) % 2).astype(np.float32)[:, None]
    write_bundle(
        out, images, labels=labels, patient_id=[f"p{i}" for i in range(len(paths))],
        split=["train"] * len(paths), class_names=["Cardiomegaly"], task="binary",
        source="benchmark: synthetic phantoms",
    )


def png_dataset(paths, labels, *, image_size, batch_size, augmenter, reader, seed=0):
    """The PNG pipeline a user writes: decode + resize per image every epoch, then augment."""
    ds = tf.data.Dataset.from_tensor_slices((paths, labels)).shuffle(len(paths), seed=seed)
    size = (image_size, image_size)

    def tf_read(path, y):
        img = tf.io.decode_png(tf.io.read_file(path), channels=1)
        return tf.image.resize(img, size, antialias=True), y

    def cv2_read(path, y):
        def read(p):
            img = cv2.imread(p.decode(), cv2.IMREAD_GRAYSCALE)
            return cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)[..., None]

        img = tf.numpy_function(read, [path], tf.uint8)
        img.set_shape((size[0], size[1], 1))
        return tf.cast(img, tf.float32), y

    ds = ds.map(tf_read if reader == "tf" else cv2_read, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size)
    if augmenter is not None:
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda x, y: (tf.repeat(x, 3, axis=-1), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def images_per_second(ds, max_images=None):
    """Images per second of one pass over ``ds`` (stopping after ``max_images``)."""
    n, t0 = 0, time.perf_counter()
    for x, _ in ds:
        n += int(x.shape[0])
        if max_images is not None and n >= max_images:
            break
    return n / (time.perf_counter() - t0)


def time_augmenter(augmenter, batch, repeats=20):
    """Images per second of the augmenter alone on one batch, inside tf.data (graph mode)."""
    ds = tf.data.Dataset.from_tensors(batch).repeat(repeats)
    ds = ds.map(lambda x: augmenter(x, training=True)).prefetch(2)
    for _ in ds.take(2):
        pass
    t0 = time.perf_counter()
    n = sum(int(x.shape[0]) for x in ds)
    return n / (time.perf_counter() - t0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="number of images")
    parser.add_argument("--png-size", type=int, default=1024)
    parser.add_argument("--bundle-size", type=int, default=320)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds over all paths")
    parser.add_argument("--png-images", type=int, default=768,
                        help="images per timed pass of the slow paths (PNG, cache=False)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep PNGs and the bundle here and reuse them (default: a temp dir)")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="heartcv-bench-"))
    try:
        png_dir = workdir / f"png{args.png_size}"
        t0 = time.perf_counter()
        paths = sorted(str(p) for p in png_dir.glob("*.png"))[: args.n]
        if len(paths) < args.n:
            paths = write_pngs(png_dir, args.n, args.png_size)
        t_png = time.perf_counter() - t0
        bundle = workdir / f"bundle{args.bundle_size}_{args.n}.h5"
        t0 = time.perf_counter()
        if not bundle.exists():
            write_png_bundle(paths, bundle, args.bundle_size)
        t_bundle = time.perf_counter() - t0
        mb = sum(os.path.getsize(p) for p in paths) / 2**20
        print(f"{len(paths)} PNGs {args.png_size}² ({mb:.0f} MiB) ready in {t_png:.1f} s; "
              f"bundle {args.bundle_size}² ({os.path.getsize(bundle) / 2**20:.0f} MiB) "
              f"in {t_bundle:.1f} s")

        kw = dict(image_size=args.image_size, batch_size=args.batch_size)
        t0 = time.perf_counter()
        bundle_aug = dataset_from_bundle(bundle, "train", training=True, augment=dict(AUGMENT),
                                         seed=0, **kw)
        build = time.perf_counter() - t0
        labels = (np.arange(len(paths)) % 2).astype(np.float32)
        png = f"PNG {args.png_size}²"
        # (name, dataset, images per timed pass)
        paths_to_time = [
            ("bundle → tf.data, augmented", bundle_aug, None),
            ("bundle → tf.data, no augmentation",
             dataset_from_bundle(bundle, "train", training=True, seed=0, **kw), None),
            ("bundle → tf.data, augmented, cache=False",
             dataset_from_bundle(bundle, "train", training=True, augment=dict(AUGMENT), seed=0,
                                 cache=False, **kw), args.png_images),
            (f"{png} → tf decode + resize, augmented",
             png_dataset(paths, labels, augmenter=build_augmenter(**AUGMENT, seed=0),
                         reader="tf", **kw), args.png_images),
            (f"{png} → cv2 decode + resize, augmented",
             png_dataset(paths, labels, augmenter=build_augmenter(**AUGMENT, seed=0),
                         reader="cv2", **kw), args.png_images),
            (f"{png} → cv2 decode + resize, no augmentation (decode ceiling)",
             png_dataset(paths, labels, augmenter=None, reader="cv2", **kw), args.png_images),
        ]
        for _, ds, _ in paths_to_time:  # warm up: trace functions, fill thread pools
            images_per_second(ds, 2 * args.batch_size)
        # Rounds interleave the paths, so each round's ratios compare rates taken under the
        # same load from other processes.
        rates = {name: [] for name, _, _ in paths_to_time}
        for _ in range(args.rounds):
            for name, ds, limit in paths_to_time:
                rates[name].append(images_per_second(ds, limit))
        batch = tf.random.uniform((args.batch_size, args.image_size, args.image_size, 1), 0, 255)
        for engine in ("fused", "keras"):
            aug = build_augmenter(**AUGMENT, seed=0, engine=engine)
            name = f"augmenter alone as a Keras model, engine={engine!r}"
            rates[name] = [time_augmenter(aug, batch)]

        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(f"\n{dt.date.today()} · {platform.machine()} · {os.cpu_count()} cores · "
              f"TF {tf.__version__} · batch {args.batch_size} · {args.bundle_size}→"
              f"{args.image_size} · build of the augmented bundle dataset {build:.1f} s · "
              f"load average at the end {load} (other processes)\n")
        print("| Path | img/s per round | median |")
        print("|---|---|---|")
        for name, r in rates.items():
            print(f"| {name} | {' / '.join(f'{v:.0f}' for v in r)} | {np.median(r):.0f} |")
        print()
        ours = np.asarray(rates["bundle → tf.data, augmented"])
        for name, r in rates.items():
            if name.startswith("PNG"):
                per_round = ours / np.asarray(r)
                print(f"augmented bundle / {name}: per round "
                      f"{' / '.join(f'{v:.1f}' for v in per_round)}x, "
                      f"median {np.median(per_round):.1f}x")
        return 0
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

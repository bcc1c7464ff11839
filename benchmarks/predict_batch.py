"""``heartcv predict DIR`` (one model load, batches) against one ``heartcv predict IMAGE`` per image.

Makes 100 phantom PNGs (one of them corrupt) and a small_cnn saved with a card at 96 px,
then times, as subprocesses of the console script: (a) one batch call on the folder and
(b) single-image calls (``--singles N``, default 10, extrapolated to every image; pass
``--singles 100`` to time them all). Checks that predictions.csv has 99 rows and
skipped.csv 1, and prints the speed-up.

    python benchmarks/predict_batch.py [--images 100] [--singles 100] [--keep DIR]
"""

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _make_inputs(folder: Path, n_images: int) -> Path:
    import cv2

    from heartcv._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()  # none of TensorFlow's start-up lines
    import heartcv
    from heartcv.data.synthetic import generate_chest_xrays

    images = folder / "images"
    images.mkdir(parents=True)
    d = generate_chest_xrays(n_images - 1, 1, 320, seed=0)
    for i, img in enumerate(d["images"][..., 0]):
        cv2.imwrite(str(images / f"cxr{i:03d}.png"), img)
    (images / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    model = heartcv.build_model("small_cnn", input_shape=(None, None, 1))
    path = heartcv.save_model(model, folder / "model" / "model.h5")
    (folder / "model" / "model.card.json").write_text(json.dumps(  # as train.write_card
        {"model": "small_cnn", "task": "binary", "class_names": ["No Finding", "Cardiomegaly"],
         "input_size": 96, "channels": 1, "input_range": "[0, 255]"}))
    return path


def _rows(path: Path) -> int:
    with open(path, newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.DictReader(fh))


def _timed(cmd) -> float:
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({out.returncode}): {out.stderr[-500:]}")
    return elapsed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=100, help="images in the folder (one corrupt)")
    p.add_argument("--singles", type=int, default=10,
                   help="single-image calls to time (default 10, extrapolated; 100: all)")
    p.add_argument("--keep", default=None, help="work in this folder and keep it")
    args = p.parse_args(argv)
    exe = shutil.which("heartcv") or str(Path(sys.executable).parent / "heartcv")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="heartcv-bench-"))
    try:
        t = time.perf_counter()
        model = _make_inputs(work, args.images)
        print(f"made {args.images} PNGs (320 px, one corrupt) and a 96-px model in "
              f"{time.perf_counter() - t:.1f} s")
        images = work / "images"
        batch = _timed([exe, "predict", str(images), "--model", str(model),
                        "--out", str(work / "batch"), "--no-progress"])
        n_pred, n_skip = _rows(work / "batch" / "predictions.csv"), _rows(work / "batch" / "skipped.csv")
        ok = (n_pred, n_skip) == (args.images - 1, 1)
        print(f"(a) heartcv predict DIR: {batch:.1f} s for {args.images} images "
              f"({args.images / batch:.1f} img/s); predictions.csv {n_pred} rows, skipped.csv "
              f"{n_skip} {'(as expected)' if ok else '(UNEXPECTED)'}")
        readable = sorted(images.glob("cxr*.png"))  # a single call on the corrupt one exits 2
        files = readable[:max(0, args.singles)]
        times = [_timed([exe, "predict", str(f), "--model", str(model),
                         "--out", str(work / "single")]) for f in files]
        if times:
            per = sum(times) / len(times)
            total = per * args.images
            how = f"measured on all {len(times)} readable images" \
                if len(times) >= len(readable) else f"extrapolated from {len(times)}"
            print(f"(b) {len(times)} x heartcv predict IMAGE: {sum(times):.1f} s, "
                  f"{per:.2f} s per call (min {min(times):.2f}, max {max(times):.2f}); "
                  f"{args.images} calls: {total:.0f} s ({how})")
            print(f"speed-up: {total / batch:.1f}x")
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""``heartcv predict DIR`` against one ``heartcv predict IMAGE`` per image, or (``--films N``)
the heart + lungs segmenter on real films against a minimal decode + inference script.

Default mode: makes 100 phantom PNGs (one of them corrupt) and a small_cnn saved with a card
at 96 px, then times, as subprocesses of the console script: (a) one batch call on the folder
and (b) single-image calls (``--singles N``, default 10, extrapolated to every image; pass
``--singles 100`` to time them all). Checks that predictions.csv has 99 rows and
skipped.csv 1, and prints the speed-up.

``--films N`` (N >= 400; issue 21 item 8): builds N 1024-px PNG films in a temporary folder
(the 95 NIH ChestX-ray14 images as they are, the 247 JSRT PNGs enlarged from 512 to 1024 px,
then gamma-changed and slightly cropped copies of them until N), and times, each as a
subprocess with process start included, ``--repeats`` times in turn: (a) ``heartcv predict
FOLDER --model M --no-tta`` (QC on), (b) ``benchmarks/minimal_segment.py`` (decode, resize,
batched ``model.predict``, threshold: nothing else) and (c) ``heartcv predict FOLDER --model
M`` (TTA and QC on, the default). Prints the medians, throughput, CPU time (user + system),
(a)/(b) (target >= 0.9) and what TTA costs per film ((c) - (a)), with the load average
around each run. Results: benchmarks/RESULTS.md.

    python benchmarks/predict_batch.py [--images 100] [--singles 100] [--keep DIR]
    python benchmarks/predict_batch.py --films 400 [--repeats 3] [--runs abc] [--model M]
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


DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MODEL = Path(__file__).resolve().parents[1] / "models" / "jsrt_heart_lungs_vgg16_unet.h5"


def _make_films(folder: Path, n: int) -> int:
    """``n`` 1024-px grey PNG films in ``folder``; returns how many are real (not copies)."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True)
    sources = []
    for path in sorted((DATA / "nih_cxr14" / "images").glob("*.png")):
        shutil.copyfile(path, folder / f"nih_{path.name}")
        sources.append(folder / f"nih_{path.name}")
    for path in sorted((DATA / "jsrt_heart" / "png").glob("*.png")):
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        target = folder / f"jsrt_{path.name}"
        cv2.imwrite(str(target), cv2.resize(img, (1024, 1024), interpolation=cv2.INTER_LINEAR))
        sources.append(target)
    real = len(sources)
    for i in range(n - real):  # copies: a gamma change and a 2-4 % crop, back at 1024 px
        img = cv2.imread(str(sources[i % real]), cv2.IMREAD_GRAYSCALE)
        gamma = (0.8, 1.25)[i % 2]
        img = (255.0 * (img / 255.0) ** gamma).astype(np.uint8)
        c = int(1024 * (0.02 + 0.02 * ((i // 2) % 2)))
        img = cv2.resize(img[c:1024 - c, c:1024 - c], (1024, 1024), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(str(folder / f"copy{i:04d}_{sources[i % real].name}"), img)
    return real


def _timed_load(cmd):
    """``(wall s, CPU s (user + system), load average before, after)`` of one subprocess."""
    import os
    import resource

    before = os.getloadavg()[0]
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed = _timed(cmd)
    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru2.ru_utime - ru.ru_utime) + (ru2.ru_stime - ru.ru_stime)
    return elapsed, cpu, before, os.getloadavg()[0]


def _films(args, exe, work: Path) -> int:
    import hashlib
    import os
    import platform
    import statistics

    if args.films < 400:
        raise SystemExit(f"--films must be at least 400. Received: --films {args.films}")
    if not (DATA / "nih_cxr14" / "images").is_dir() or not (DATA / "jsrt_heart" / "png").is_dir():
        print(f"skipped: the NIH and JSRT films are not under {DATA}")
        return 0
    t = time.perf_counter()
    films = work / "films"
    real = _make_films(films, args.films)
    print(f"made {args.films} 1024-px films ({real} real, {args.films - real} copies) in "
          f"{time.perf_counter() - t:.1f} s")
    minimal = Path(__file__).resolve().parent / "minimal_segment.py"
    runs = {
        "a": [exe, "predict", str(films), "--model", str(args.model), "--out",
              str(work / "a"), "--no-progress", "--no-tta"],
        "b": [sys.executable, str(minimal), str(films), "--model", str(args.model)],
        "c": [exe, "predict", str(films), "--model", str(args.model), "--out",
              str(work / "c"), "--no-progress"],
    }
    runs = {k: v for k, v in runs.items() if k in args.runs}
    times, cpus = {k: [] for k in runs}, {k: [] for k in runs}
    loads = []
    for r in range(args.repeats):
        for key, cmd in runs.items():
            elapsed, cpu, before, after = _timed_load(cmd)
            times[key].append(elapsed)
            cpus[key].append(cpu)
            loads += [before, after]
            print(f"  repeat {r + 1} ({key}): {elapsed:.1f} s, CPU {cpu:.1f} s (load average "
                  f"{before:.2f} -> {after:.2f})", flush=True)
    for key in [k for k in ("a", "c") if k in runs]:
        n_pred, n_skip = _rows(work / key / "predictions.csv"), _rows(work / key / "skipped.csv")
        if (n_pred, n_skip) != (args.films, 0):
            print(f"UNEXPECTED: ({key}) predicted {n_pred}, skipped {n_skip}")
    med = {k: statistics.median(v) for k, v in times.items()}
    n = args.films
    labels = {"a": "(a) `heartcv predict FOLDER --no-tta` (QC on)",
              "b": "(b) minimal script (`benchmarks/minimal_segment.py`)",
              "c": "(c) `heartcv predict FOLDER` (TTA + QC, the default)"}
    print(f"\nMachine: {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
          f"load average during the runs {min(loads):.2f}-{max(loads):.2f}; {n} films, "
          f"{args.repeats} repeats, median (all); model {Path(args.model).name} (sha256 "
          f"{hashlib.sha256(Path(args.model).read_bytes()).hexdigest()[:12]})")
    print("| Run | Wall, process start included: median (each) | Throughput | CPU (user + sys) |")
    print("|---|---|---|---|")
    for key in runs:
        every = ", ".join(f"{v:.1f}" for v in times[key])
        print(f"| {labels[key]} | {med[key]:.1f} s ({every}) | {n / med[key]:.1f} img/s | "
              f"{statistics.median(cpus[key]):.1f} s |")
    if not {"a", "b"} <= set(runs):
        return 0
    ratio = med["b"] / med["a"]
    best = min(times["b"]) / min(times["a"])
    verdict = "met" if ratio >= 0.9 else "MISSED"
    print(f"\n(a)/(b) throughput: {ratio:.2f} from the medians, {best:.2f} from the fastest run "
          f"of each (target >= 0.9: {verdict})")
    if "c" in runs:
        print(f"TTA (5 views) with QC, per film: (c) - (a) = "
              f"{1000 * (med['c'] - med['a']) / n:.1f} ms (QC is on in both; (c) runs at "
              f"{n / med['c']:.1f} img/s, {med['b'] / med['c']:.2f} of (b))")
    return 0 if ratio >= 0.9 else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=100, help="images in the folder (one corrupt)")
    p.add_argument("--singles", type=int, default=10,
                   help="single-image calls to time (default 10, extrapolated; 100: all)")
    p.add_argument("--films", type=int, default=None,
                   help="instead: N >= 400 real 1024-px films, the segmenter vs a minimal script")
    p.add_argument("--repeats", type=int, default=3, help="--films: runs of each command")
    p.add_argument("--model", default=str(MODEL), help="--films: the segmenter")
    p.add_argument("--runs", default="abc", help="--films: which of (a), (b), (c) to time")
    p.add_argument("--keep", default=None, help="work in this folder and keep it")
    args = p.parse_args(argv)
    exe = shutil.which("heartcv") or str(Path(sys.executable).parent / "heartcv")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="heartcv-bench-"))
    if args.films is not None:
        try:
            return _films(args, exe, work)
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
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

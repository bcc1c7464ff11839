"""At what resolution must ``predict`` measure the CTR to give the full-resolution value?

The segmenter predicts at 256 px; ``predict`` used to resize the probabilities to the film's
own size (1024 px) and measure there (three connected-component passes on 1024² masks per
film). This measures, on real films, the CTR at lower working resolutions (the longer side
``S``, the probabilities resized with the same ``resize_image`` and thresholded at 0.5)
against the CTR at the film's own size:

- the 247 JSRT films (``../shared/data/jsrt_heart/png``, 512 px, enlarged to 1024 px with
  ``INTER_LINEAR`` as a 1024-px film),
- the 95 NIH ChestX-ray14 films (``../shared/data/nih_cxr14/images``, 1024 px).

Prints max |ΔCTR|, its percentiles and the films above 0.005 per ``S``, and the time per film
of each measurement (indicative only: the machine may be busy).

    python benchmarks/ctr_resolution.py [--model models/jsrt_heart_lungs_vgg16_unet.h5]
"""

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SIDES = (256, 384, 512, 640, 768)
TOLERANCE = 0.005


def films():
    """``(name, 1024-px grey film)`` for the JSRT and NIH films."""
    import cv2

    for path in sorted((DATA / "jsrt_heart" / "png").glob("*.png")):
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        yield f"jsrt/{path.name}", cv2.resize(img, (1024, 1024), interpolation=cv2.INTER_LINEAR)
    for path in sorted((DATA / "nih_cxr14" / "images").glob("*.png")):
        yield f"nih/{path.name}", cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="models/jsrt_heart_lungs_vgg16_unet.h5")
    args = p.parse_args(argv)
    if not (DATA / "jsrt_heart" / "png").is_dir():
        print(f"skipped: {DATA} is missing")
        return 0
    from heartcv._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from heartcv.ctr import STRUCTURES, ctr_from_prediction
    from heartcv.data.images import resize_image
    from heartcv.io import load_model
    from heartcv.predict import measure_size, prepare_image

    model = load_model(args.model)
    names = list(STRUCTURES)
    rows, probs = [], []
    batch, batch_names = [], []

    def flush():
        if batch:
            out = np.asarray(model.predict_on_batch(np.concatenate(batch)))
            probs.extend((n, im, o) for (n, im), o in zip(batch_names, out))
            batch.clear()
            batch_names.clear()

    for name, img in films():
        batch.append(prepare_image(img, model.input_shape, (256, 256)))
        batch_names.append((name, img.shape[:2]))
        if len(batch) == 16:
            flush()
    flush()
    timing = {s: 0.0 for s in ("full", *SIDES)}
    for name, hw, pred in probs:
        t = time.perf_counter()
        full = ctr_from_prediction(np.clip(resize_image(pred, hw), 0, 1), names)["ctr"]
        timing["full"] += time.perf_counter() - t
        row = {"name": name, "full": full}
        for side in SIDES:
            t = time.perf_counter()
            size = measure_size(hw, side)
            p_s = pred if size == pred.shape[:2] else resize_image(pred, size)
            row[side] = ctr_from_prediction(np.clip(p_s, 0, 1), names)["ctr"]
            timing[side] += time.perf_counter() - t
        rows.append(row)
    n = len(rows)
    print(f"{n} films ({sum(r['name'].startswith('jsrt') for r in rows)} JSRT enlarged to 1024 px, "
          f"{sum(r['name'].startswith('nih') for r in rows)} NIH at 1024 px); model {args.model} "
          f"(sha256 {hashlib.sha256(Path(args.model).read_bytes()).hexdigest()[:12]})")
    print(f"full resolution (1024 px): {1000 * timing['full'] / n:.1f} ms per film")
    print("| longer side | films with a CTR | max abs dCTR | p99 | p95 | median | films > 0.005 "
          "| ms per film |")
    print("|---|---|---|---|---|---|---|---|")
    for side in SIDES:
        both = [(r["full"], r[side]) for r in rows if r["full"] is not None and r[side] is not None]
        mism = sum((r["full"] is None) != (r[side] is None) for r in rows)
        d = np.abs(np.array([a - b for a, b in both]))
        print(f"| {side} | {len(both)} (+{mism} measured at one size only) | {d.max():.4f} | "
              f"{np.percentile(d, 99):.4f} | {np.percentile(d, 95):.4f} | {np.median(d):.4f} | "
              f"{int((d > TOLERANCE).sum())} | {1000 * timing[side] / n:.1f} |")
        worst = sorted(((abs(r['full'] - r[side]), r["name"]) for r in rows
                        if r["full"] is not None and r[side] is not None), reverse=True)[:3]
        print("    worst: " + ", ".join(f"{nm} {dv:.4f}" for dv, nm in worst))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Does the CTR quality control flag inputs built to fail, and leave real films alone?

    python scripts/qc_built_to_fail.py --model models/jsrt_heart_lungs_vgg16_unet.h5 \
        --bundle /tmp/seg/jsrt_256.h5 --out /tmp/qc_fail

Builds, from the JSRT *test* patients of ``--bundle`` (the 512-px PNGs in ``--jsrt``), the
phantom and the ECG printouts, one folder of PNGs per kind:

=================  ====================================================================
kind               what
=================  ====================================================================
jsrt_test          the test films as they are (QC should pass them: flagged <= 5 %)
flipped            mirrored left-right (the heart on the wrong side)
rotated_90         turned by 90 degrees (alternately clockwise and counter-clockwise)
inverted           grey levels inverted (255 - x)
half_top           the top half of the film only (no heart base, no diaphragm)
half_side          the left or right half only (one lung)
lateral            lateral views of the chest phantom (``heartcv.data.synthetic``)
not_a_chest        the ECG printouts of ``--ecg`` and 10 synthetic pictures (noise, grey,
                   gradient, checkerboard, discs)
=================  ====================================================================

runs ``heartcv.predict.predict_batch`` (the ``heartcv predict`` path, test-time augmentation
on) on each and writes ``<out>/qc_built_to_fail.json``: per kind the number of images, how
many QC flagged (``review`` or ``fail``), failed, and the most common reasons.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import cv2
import h5py
import numpy as np
import pandas as pd

KINDS = ("jsrt_test", "flipped", "rotated_90", "inverted", "half_top", "half_side", "lateral",
         "not_a_chest")


def _test_ids(bundle):
    with h5py.File(bundle, "r") as f:
        ids = f["image_id"][:].astype(str)
        split = f["split"][:].astype(str)
    return sorted(ids[split == "test"])


def _synthetic_pictures(size=512, n=10, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    pics = [rng.integers(0, 256, (size, size)).astype(np.uint8),
            np.full((size, size), 128, np.uint8),
            (xx * 255 // (size - 1)).astype(np.uint8),
            (((yy // 64) + (xx // 64)) % 2 * 255).astype(np.uint8),
            cv2.GaussianBlur(rng.integers(0, 256, (size, size)).astype(np.uint8), (0, 0), 8)]
    while len(pics) < n:
        img = np.full((size, size), int(rng.integers(0, 80)), np.uint8)
        for _ in range(6):
            c = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.circle(img, c, int(rng.integers(20, 150)), int(rng.integers(100, 256)), -1)
        pics.append(cv2.GaussianBlur(img, (0, 0), 3))
    return pics[:n]


def build_inputs(jsrt, bundle, ecg, out):
    """Write the PNGs of every kind under ``out/inputs/<kind>/``; returns ``{kind: folder}``."""
    from heartcv.data.synthetic import generate_chest_xrays

    folders = {k: out / "inputs" / k for k in KINDS}
    for f in folders.values():
        f.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(_test_ids(bundle)):
        img = cv2.imread(str(Path(jsrt) / "png" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        h, w = img.shape
        made = {
            "jsrt_test": img,
            "flipped": img[:, ::-1],
            "rotated_90": np.rot90(img, 1 if i % 2 else -1),
            "inverted": 255 - img,
            "half_top": img[: h // 2],
            "half_side": img[:, : w // 2] if i % 2 else img[:, w // 2:],
        }
        for kind, pic in made.items():
            cv2.imwrite(str(folders[kind] / f"{name}.png"), np.ascontiguousarray(pic))
    lateral = generate_chest_xrays(30, 1, 512, task="cardiomegaly", view="lateral", seed=7)
    images = lateral["images"] if isinstance(lateral, dict) else lateral[0]
    for i, img in enumerate(np.asarray(images)):
        img = np.asarray(img)
        img = img[..., 0] if img.ndim == 3 else img
        if img.dtype != np.uint8:
            img = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folders["lateral"] / f"lateral_{i:02d}.png"), img)
    for p in sorted(Path(ecg).rglob("*.jpg")):
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(folders["not_a_chest"] / f"ecg_{p.parent.name[:12]}_{p.stem}.png"), img)
    for i, pic in enumerate(_synthetic_pictures()):
        cv2.imwrite(str(folders["not_a_chest"] / f"synthetic_{i:02d}.png"), pic)
    return folders


def score(model, folders, out, batch_size=16):
    from heartcv.predict import collect_inputs, predict_batch

    results = {}
    for kind, folder in folders.items():
        files, missing = collect_inputs([folder])
        dest = out / "predictions" / kind
        predict_batch(files, model, out_dir=dest, missing=missing, batch_size=batch_size,
                      progress=False)
        d = pd.read_csv(dest / "predictions.csv", keep_default_na=False)
        reasons = collections.Counter(r for x in d["qc_reasons"] for r in x.split(";") if r)
        flagged = d["qc"] != "ok"
        results[kind] = {"n": int(len(d)), "flagged": int(flagged.sum()),
                         "flagged_share": float(flagged.mean()),
                         "failed": int((d["qc"] == "fail").sum()),
                         "called_cardiomegaly": int((d["cardiomegaly"] == "True").sum()),
                         "top_reasons": dict(reasons.most_common(5))}
    built = [k for k in KINDS if k != "jsrt_test"]
    n_built = sum(results[k]["n"] for k in built)
    results["built_to_fail"] = {
        "n": n_built, "flagged": sum(results[k]["flagged"] for k in built),
        "flagged_share": sum(results[k]["flagged"] for k in built) / max(n_built, 1)}
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--bundle", required=True, help="JSRT bundle (its test split is used)")
    p.add_argument("--jsrt", default="../shared/data/jsrt_heart")
    p.add_argument("--ecg", default="../shared/data/ecg_khan/printouts")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    for path in (args.model, args.bundle, args.jsrt, args.ecg):
        if not Path(path).exists():
            print(f"qc_built_to_fail: error: not found: {path}", file=sys.stderr)
            return 2
    out = Path(args.out)
    folders = build_inputs(args.jsrt, args.bundle, args.ecg, out)
    results = score(args.model, folders, out)
    results["model"] = str(args.model)
    (out / "qc_built_to_fail.json").write_text(json.dumps(results, indent=2))
    print(f"{'kind':<14}{'n':>5}{'flagged':>9}{'share':>8}  top reasons")
    for kind in (*KINDS, "built_to_fail"):
        r = results[kind]
        print(f"{kind:<14}{r['n']:>5}{r['flagged']:>9}{r['flagged_share']:>8.1%}  "
              f"{', '.join(r.get('top_reasons', {}))}")
    print(f"wrote {out / 'qc_built_to_fail.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

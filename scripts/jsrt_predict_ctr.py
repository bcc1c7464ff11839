"""`heartcv predict` CTR on JSRT test radiographs at 1024 px and dimmed, vs the mask CTR.

    python scripts/jsrt_predict_ctr.py --model runs/.../model.h5 --bundle data/jsrt_256.h5 \
        --raw ../shared/data/jsrt_heart --out /tmp/jsrt_predict [--limit 50]

For every test-split image of the bundle: the 512-px JSRT PNG is enlarged to 1024 px (cubic)
and written as ``<id>_1024.png`` and as a copy dimmed to 45% of its range
(``<id>_1024_dim45.png``); each goes through :func:`heartcv.predict.predict_image` (what
``heartcv predict IMAGE --model M`` runs: resize to the card's input size, masks, CTR). The
predicted CTRs are compared with the CTR measured on the SCR masks (the bundle's
``meta/ctr``); prints the absolute errors and writes ``ctr_errors.csv``.
"""

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--bundle", required=True)
    p.add_argument("--raw", required=True, help="JSRT folder with png/")
    p.add_argument("--out", required=True)
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args(argv)

    from heartcv.data.bundle import read_bundle
    from heartcv.predict import predict_image

    b = read_bundle(args.bundle)
    split = np.asarray(b.split).astype(str)
    ids = np.asarray(b.image_id).astype(str)[split == "test"]
    ctr = np.asarray(b.meta_columns["ctr"], float)[split == "test"]
    if args.limit:
        ids, ctr = ids[: args.limit], ctr[: args.limit]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for image_id, ref in zip(ids, ctr):
        grey = cv2.imread(str(Path(args.raw) / "png" / f"{image_id}.png"), cv2.IMREAD_GRAYSCALE)
        big = cv2.resize(grey, (1024, 1024), interpolation=cv2.INTER_CUBIC)
        dim = np.round(big.astype(np.float32) * 0.45).astype(np.uint8)
        row = {"image_id": image_id, "ctr_masks": ref}
        for tag, img in (("1024", big), ("1024_dim45", dim)):
            path = out / f"{image_id}_{tag}.png"
            cv2.imwrite(str(path), img)
            res = predict_image(path, args.model, out_dir=out)
            row[f"ctr_{tag}"] = res["ctr"]["value"] if res.get("ctr") else None
        rows.append(row)
        print(f"{image_id}: masks {ref:.3f}  1024 {row['ctr_1024']:.3f}  "
              f"dim45 {row['ctr_1024_dim45']:.3f}")
    with open(out / "ctr_errors.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for tag in ("1024", "1024_dim45"):
        err = np.array([abs(r[f"ctr_{tag}"] - r["ctr_masks"]) for r in rows])
        print(f"{tag}: |CTR error| mean {err.mean():.4f}, median {np.median(err):.4f}, "
              f"max {err.max():.4f}, within 0.03: {int((err <= 0.03).sum())} of {len(err)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

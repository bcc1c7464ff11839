"""The synthetic chest phantom → heartcv HDF5 bundle (no download needed).

    heartcv prep synthetic --out data/phantom_cardiomegaly_320.h5 --kind cardiomegaly \
        --n-patients 500 --size 320

Generates the phantom (``heartcv.data.synthetic.generate_chest_xrays``), assigns a seeded
patient-wise 72/8/20 split (stratified on the class), checks that no patient is in two
splits and writes a bundle with images, labels (or heart masks for ``--kind segmentation``),
heart masks, patient ids, the measured cardiothoracic ratio and the finding boxes.

Like the other ``heartcv prep`` commands it refuses, before generating anything, an
``--out`` that is a folder, an existing bundle (unless ``--overwrite``) or one in a folder
it cannot write; a missing folder is created.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from heartcv.data.bundle import write_bundle
from heartcv.data.datasets._prep import CONVERT_ERRORS, check_out, first_line
from heartcv.data.splits import assert_disjoint, patient_split
from heartcv.data.synthetic import generate_chest_xrays
from heartcv.registry import register_dataset

PROG = "heartcv prep synthetic"
KINDS = ("cardiomegaly", "chd", "findings", "view", "segmentation")


def build_parser(prog=PROG):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="bundle to write (.h5)")
    p.add_argument("--kind", choices=KINDS, default="cardiomegaly", help="task (default cardiomegaly)")
    p.add_argument("--n-patients", type=int, default=200, help="synthetic patients (default 200)")
    p.add_argument("--images-per-patient", type=int, default=2, help="images each (default 2)")
    p.add_argument("--size", type=int, default=320, help="image side in pixels (default 320)")
    p.add_argument("--seed", type=int, default=0, help="generation and split seed (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    return p


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    if args.n_patients < 1 or args.size < 16:
        print(f"{prog}: error: expected --n-patients >= 1 and --size >= 16. Received: "
              f"n_patients={args.n_patients}, size={args.size}", file=sys.stderr)
        return 2
    try:
        check_out(args)
        _write(args)
    except CONVERT_ERRORS as e:
        print(f"{prog}: error: {first_line(e)}", file=sys.stderr)
        return 2
    return 0


def _write(args):
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    gen = "cardiomegaly" if args.kind == "segmentation" else args.kind
    d = generate_chest_xrays(args.n_patients, args.images_per_patient, args.size, task=gen,
                             seed=args.seed)
    labels = np.asarray(d["labels"], np.float32)
    stratify = None
    if d["task_type"] == "binary":
        stratify = (labels[:, -1] > 0.5).astype(int)
    elif d["task_type"] == "multiclass":
        stratify = labels.argmax(axis=1)
    split = patient_split(d["patient_id"], {"train": 0.72, "val": 0.08, "test": 0.2},
                          seed=args.seed, stratify=stratify)
    assert_disjoint(d["patient_id"], split)
    rows = [(i, *b) for i, img_boxes in enumerate(d["boxes"]) for b in img_boxes]
    boxes = {k: [r[j] for r in rows] for j, k in enumerate(("image_index", "label", "x", "y", "w", "h"))}
    seg = args.kind == "segmentation"
    # a binary bundle holds one column, named after the positive class
    names = list(d["class_names"])[-labels.shape[1]:]
    write_bundle(
        args.out, d["images"], labels=None if seg else labels, masks=d["heart_masks"],
        patient_id=d["patient_id"], image_id=d["image_id"], split=split,
        class_names=["heart"] if seg else names,
        task="segmentation" if seg else d["task_type"], source=f"heartcv synthetic phantom ({gen})",
        boxes=boxes if rows else None,
        meta={"ctr": d["ctr"], "view": d["view"], "ctr_true": d["ctr_true"],
              "view_position": d["view_position"]},
        attrs={"negative_class": d["class_names"][0]} if d["task_type"] == "binary" and not seg else None,
    )
    print(f"wrote {args.out}: {len(split)} images of {args.n_patients} patients at {args.size}px")
    for name in ("train", "val", "test"):
        idx = split == name
        if seg:
            print(f"  {name:<5} {int(idx.sum()):>6} images")
        else:
            counts = labels[idx].sum(axis=0).astype(int).tolist()
            print(f"  {name:<5} {int(idx.sum()):>6} images; positives per class "
                  f"{dict(zip(names, counts))}")


register_dataset("synthetic", main=main, build_parser=build_parser, reader=None,
                 description="the synthetic chest-radiograph phantom (no download)", module=__name__)

"""``heartcv evaluate MODEL --data BUNDLE``: metrics of a saved model on a bundle split.

Classifiers are streamed through :func:`heartcv.evaluate.evaluate_bundle` (any size);
segmentation and ``--shifts`` go through :func:`heartcv.train.evaluate_saved_model`. Both are
looked up on their modules when called (tests replace them there).
"""

import errno
import json
from pathlib import Path

import heartcv.evaluate
import heartcv.train
from heartcv.classes import parse_class_map
from heartcv.commands import EXIT_OK
from heartcv.summary import headline


def run(args) -> int:
    class_map = parse_class_map(args.class_map)  # a malformed map: one line, before any work
    # a model of the other task, or --shifts on classification: one line, before any work
    task = heartcv.evaluate.check_task(args.model, args.data, shifts=args.shifts)
    if task != "segmentation" and not args.shifts:  # classifiers: streamed, any size
        out = Path(args.out) if args.out else Path(args.model).parent / f"eval_{args.split}"
        if out.exists() and not out.is_dir():
            raise FileExistsError(errno.EEXIST, "exists and is not a folder", str(out))
        res = heartcv.evaluate.evaluate_bundle(
            args.model, args.data, args.split, args.image_size, threshold=args.threshold,
            prevalence=args.prevalence, out_dir=out, class_map=class_map)
        print(f"{args.split} at {res['image_size_label']} ({res['image_size_source']}): "
              f"{headline(res)}")
        print(f"metrics written to {out / 'metrics.json'}")
        return EXIT_OK
    out = heartcv.train.evaluate_saved_model(
        args.model, args.data, split=args.split, out_dir=args.out, threshold=args.threshold,
        prevalence=args.prevalence, image_size=args.image_size, shifts=args.shifts,
        class_map=class_map)
    metrics = json.loads((out / "metrics.json").read_text())
    if metrics.get("task") == "segmentation":
        for line in segmentation_lines(metrics):
            print(line)
    print(f"metrics written to {out / 'metrics.json'}")
    return EXIT_OK


def segmentation_lines(m: dict) -> list[str]:
    """Dice per structure, CTR, and one line per shift, for the terminal."""
    lines = [f"{s}: Dice {m['dice'][s]['mean']:.3f} ± {m['dice'][s]['sd']:.3f} (median "
             f"{m['dice'][s]['median']:.3f}, {m['dice'][s]['below_0.8']:.0%} below 0.8, "
             f"n={m['dice'][s]['n']})" for s in m["structures"]]
    if m.get("unscored_structures"):
        lines.append(f"not scored (no reference mask): {', '.join(m['unscored_structures'])}")
    c = m.get("ctr")
    if c and not c.get("measured", True):
        lines.append(f"CTR: not measured ({c['reason']})")
    elif c:
        lines.append(f"CTR: MAE {c['mae']:.4f}, AUROC for CTR > 0.5 {c['auroc']:.3f} "
                     f"[{c['auroc_ci'][0]:.3f}–{c['auroc_ci'][1]:.3f}] ({c['n_positive']} of "
                     f"{c['n']} positive; {c['n_unmeasured']} unmeasured)")
    for row in m.get("shift_table", []):
        parts = [f"{k.split('.')[1]} {v:.3f}" for k, v in row.items() if k.endswith(".mean")]
        if "ctr.mae" in row:
            parts.append(f"CTR MAE {row['ctr.mae']:.4f}")
        lines.append(f"  shift {row['shift']:<10} Dice " + ", ".join(parts))
    return lines

"""Seeds of the heart + lungs recipe on JSRT: mean ± sd of every test metric, and the seed a
user gets chosen by validation alone.

    python scripts/jsrt_seed_table.py --runs /tmp/runs21/jsrt_heart_lungs_seed{0,1,2} \
        --shifts /tmp/runs21/eval_seed{0,1,2} --out experiments/chd_xray_vgg_unet/results/jsrt_heart_lungs_seeds.json

Each ``--runs`` folder is a ``heartcv train`` run directory (``history.csv``, ``metrics.json``,
``model.card.json``); each ``--shifts`` folder (optional, same order) holds the
``metrics.json`` of ``heartcv evaluate MODEL --data BUNDLE --shifts``. The shipped seed is
the one with the highest best-epoch validation Dice (``val_dice`` in ``history.csv``, the
monitor of the recipe); test numbers play no part in the choice.

``--range-shift NAME=RUN [NAME=RUN ...]`` adds the range-shift runs (trained on JSRT without
its largest CTRs, tested on them): CTR bias per band of the reference CTR, per recipe.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

STRUCTURES = ("heart", "left_lung", "right_lung")


def best_val(run: Path, monitor="val_dice") -> tuple[float, int]:
    with open(run / "history.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get(monitor) not in (None, "")]
    values = [float(r[monitor]) for r in rows]
    k = int(np.argmax(values))
    return values[k], int(rows[k]["epoch"]) + 1


def test_numbers(metrics: dict) -> dict:
    out = {f"dice_{s}": metrics["dice"][s]["mean"] for s in STRUCTURES}
    out["heart_dice_below_0.8"] = metrics["dice"]["heart"]["below_0.8"]
    c = metrics["ctr"]
    out.update({"ctr_mae": c["mae"], "ctr_bias": c["bias"], "ctr_max_abs_error": c["max_abs_error"],
                "ctr_auroc": c["auroc"], "n_test": metrics["n_samples"]})
    return out


def _mean_sd(values):
    v = np.asarray(values, float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "values": [float(x) for x in v]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--shifts", nargs="*", default=[])
    p.add_argument("--range-shift", nargs="*", default=[], metavar="NAME=RUN")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    runs = [Path(r) for r in args.runs]
    for r in runs + [Path(s) for s in args.shifts]:
        if not (r / "metrics.json").is_file():
            print(f"jsrt_seed_table: error: {r}: no metrics.json", file=sys.stderr)
            return 2
    seeds = []
    for k, run in enumerate(runs):
        card = json.loads((run / "model.card.json").read_text())
        val, epoch = best_val(run)
        row = {"run": run.name, "seed": card["config"]["train"]["seed"], "val_dice": val,
               "best_epoch": epoch, "epochs_run": sum(1 for _ in open(run / "history.csv")) - 1,
               **test_numbers(json.loads((run / "metrics.json").read_text()))}
        if k < len(args.shifts):
            ev = json.loads((Path(args.shifts[k]) / "metrics.json").read_text())
            row["shifts"] = {name: {"dice_heart": rep["dice"]["heart"]["mean"],
                                    "heart_below_0.8": rep["dice"]["heart"]["below_0.8"],
                                    "dice_left_lung": rep["dice"]["left_lung"]["mean"],
                                    "dice_right_lung": rep["dice"]["right_lung"]["mean"],
                                    "ctr_mae": rep["ctr"]["mae"], "ctr_auroc": rep["ctr"]["auroc"]}
                             for name, rep in ev["shifts"].items()}
        seeds.append(row)
    keys = [k for k in seeds[0] if isinstance(seeds[0][k], float) and k != "seed"]
    summary = {k: _mean_sd([s[k] for s in seeds]) for k in keys}
    shipped = max(seeds, key=lambda s: s["val_dice"])
    out = {"what": "JSRT heart + lungs, configs/jsrt_heart_lungs.yaml, one run per seed on the "
                   "same patient-wise split; the shipped seed chosen by validation Dice",
           "seeds": seeds, "summary": summary, "shipped_seed": shipped["seed"],
           "shipped_run": shipped["run"]}
    if seeds and "shifts" in seeds[0]:
        names = list(seeds[0]["shifts"])
        out["shift_summary"] = {
            name: {m: _mean_sd([s["shifts"][name][m] for s in seeds if "shifts" in s])
                   for m in seeds[0]["shifts"][name]} for name in names}
    if args.range_shift:
        rs = {}
        for item in args.range_shift:
            name, _, path = item.partition("=")
            m = json.loads((Path(path) / "metrics.json").read_text())
            rs.setdefault(name, []).append({
                "run": Path(path).name, "dice_heart": m["dice"]["heart"]["mean"],
                "ctr_mae": m["ctr"]["mae"], "ctr_bias": m["ctr"]["bias"],
                "bands": m["ctr"]["bands"]})
        out["range_shift"] = rs
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(args.out).with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=2, default=lambda x: None if isinstance(x, float)
                              and math.isnan(x) else x))
    tmp.replace(args.out)
    print(f"{'seed':>4} {'val Dice':>9} {'epoch':>5} {'heart':>7} {'L lung':>7} {'R lung':>7} "
          f"{'CTR MAE':>8} {'AUROC':>6}")
    for s in seeds:
        print(f"{s['seed']:>4} {s['val_dice']:>9.4f} {s['best_epoch']:>5} {s['dice_heart']:>7.4f} "
              f"{s['dice_left_lung']:>7.4f} {s['dice_right_lung']:>7.4f} {s['ctr_mae']:>8.4f} "
              f"{s['ctr_auroc']:>6.3f}")
    for k in ("dice_heart", "ctr_mae", "ctr_auroc"):
        print(f"{k}: {summary[k]['mean']:.4f} ± {summary[k]['sd']:.4f}")
    print(f"shipped (best validation Dice): seed {shipped['seed']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The CTR of the heart + lungs segmenter on the 95 real ChestX-ray14 films (another source).

    python scripts/nih_ctr_check.py --model models/jsrt_heart_lungs_vgg16_unet.h5 \
        --nih ../shared/data/nih_cxr14 --out /tmp/nih_ctr

There are no masks for these films, so Dice cannot be measured; what can be: how often QC
flags a film, and how well the predicted CTR separates the films labelled Cardiomegaly from
those labelled No Finding (AUROC with a bootstrap CI), on PA films (where the 0.5 rule
applies) and AP films (which magnify the heart), each film read with its view from the
metadata (the `view` column of the CSV given to ``predict_batch``). Writes
``<out>/nih_ctr_check.json`` and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def _auroc_ci(y, s, n_boot=2000, seed=0):
    from sklearn.metrics import roc_auc_score

    y, s = np.asarray(y, bool), np.asarray(s, float)
    if y.all() or not y.any():
        return None, [None, None]
    auc = float(roc_auc_score(y, s))
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if y[i].all() or not y[i].any():
            continue
        boots.append(roc_auc_score(y[i], s[i]))
    return auc, [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--nih", default="../shared/data/nih_cxr14")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    labels = Path(args.nih) / "labels.csv"
    if not labels.is_file() or not Path(args.model).is_file():
        print(f"nih_ctr_check: error: not found: {labels if not labels.is_file() else args.model}",
              file=sys.stderr)
        return 2
    from heartcv.predict import collect_inputs, csv_views, predict_batch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lab = pd.read_csv(labels)
    rows = pd.DataFrame({"path": [str((Path(args.nih) / "images" / n).resolve())
                                  for n in lab["Image Index"]],
                         "view": lab["View Position"]})
    rows.to_csv(out / "inputs.csv", index=False)
    files, missing = collect_inputs(csv=out / "inputs.csv")
    predict_batch(files, args.model, out_dir=out, missing=missing, progress=False,
                  views=csv_views(out / "inputs.csv"))
    pred = pd.read_csv(out / "predictions.csv", keep_default_na=False)
    pred["Image Index"] = pred["path"].map(lambda x: Path(x).name)
    d = pred.merge(lab, on="Image Index")
    d["ctr"] = pd.to_numeric(d["ctr"], errors="coerce")
    result = {"model": str(args.model), "n": int(len(d)),
              "qc": {k: int(v) for k, v in d["qc"].value_counts().items()}}
    for view in ("PA", "AP"):
        v = d[(d["view"] == view)]
        task = v[(v["Cardiomegaly"] == 1) | (v["Finding Labels"] == "No Finding")]
        usable = task[(task["qc"] != "fail") & task["ctr"].notna()]
        auc, ci = _auroc_ci(usable["Cardiomegaly"] == 1, usable["ctr"])
        result[view] = {
            "n": int(len(v)), "flagged": int((v["qc"] != "ok").sum()),
            "failed": int((v["qc"] == "fail").sum()),
            "cardiomegaly_vs_no_finding": {
                "n_cardiomegaly": int((task["Cardiomegaly"] == 1).sum()),
                "n_no_finding": int((task["Finding Labels"] == "No Finding").sum()),
                "n_scored (QC not fail)": int(len(usable)), "auroc": auc, "auroc_ci": ci},
            "called": int((v["cardiomegaly"] != "").sum())}
    (out / "nih_ctr_check.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

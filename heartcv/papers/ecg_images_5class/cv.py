"""Grouped k-fold cross-validation of the ECG-image rows, with the shortcut probe in each fold.

The paper's single split tests 6 distinct MI ECGs of ``leads28``: too few to show whether a
row finds MI. Here every ECG is tested once: :func:`grouped_folds` cuts the ECGs (after
:func:`~heartcv.papers.ecg_images_5class.experiment.drop_duplicates` and
:func:`~heartcv.papers.ecg_images_5class.experiment.group_shared_crops`, whose groups join
ECGs sharing a near-identical lead crop) into ``k`` class-stratified folds that never split a
group; each fold's training ECGs give a grouped validation share for the checkpoint, and the
trace-free shortcut probe (:func:`~heartcv.papers.ecg_images_5class.shortcut.shortcut_probe`)
is fitted on the same training ECGs. Predictions of every fold are pooled;
:func:`pooled_metrics` gives accuracy and per-class recall and precision with percentile
bootstrap intervals over ECGs; :func:`credit` credits a row only where its pooled accuracy
interval lies above the probe's (lower bound above the probe's upper bound).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from heartcv.config import replace
from heartcv.data.sources import SplitArrays
from heartcv.evaluation.roc import percentile_ci
from heartcv.files import atomic_write_json, atomic_write_text
from heartcv.papers.ecg_images_5class.experiment import VolumeSplits, row_label
from heartcv.papers.ecg_images_5class.shortcut import shortcut_probe
from heartcv.report import markdown_table
from heartcv.train import train

__all__ = ["credit", "cv_table", "grouped_folds", "pooled_metrics", "run_cv",
           "source_shift_check"]


def grouped_folds(y, groups, *, k=5, val_folds=8, seed=0) -> list[dict]:
    """``k`` class-stratified folds over ECGs, no group split; a grouped val share per fold.

    Args:
        y: (N,) int class of each ECG.
        groups: (N,) group of each ECG (its patient id after ``group_shared_crops``).
        k: folds; every ECG is in exactly one test fold.
        val_folds: the validation share of each fold's training ECGs is one of this many
            stratified group folds (8: about 1/8 of them; fewer when few ECGs allow no more).
        seed: shuffling seed.

    Returns:
        ``[{"train", "val", "test"}: int index arrays]``, one per fold.

    Raises:
        ValueError: ``k`` < 2 or more folds than groups.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    y, groups = np.asarray(y), np.asarray(groups).astype(str)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"Expected `k` as an int >= 2. Received: k={k!r}")
    if len(np.unique(groups)) < k:
        raise ValueError(f"Expected at least k={k} groups. Received: "
                         f"{len(np.unique(groups))} groups")
    outer = StratifiedGroupKFold(n_splits=int(k), shuffle=True, random_state=seed)
    folds = []
    for i, (rest, test) in enumerate(outer.split(np.zeros(len(y)), y, groups)):
        # as many validation folds as the training ECGs allow (a small set: fewer, larger)
        v = max(2, min(int(val_folds), len(np.unique(groups[rest])),
                       int(np.bincount(y[rest]).max())))
        inner = StratifiedGroupKFold(n_splits=v, shuffle=True, random_state=seed + 1 + i)
        tr, va = next(inner.split(np.zeros(len(rest)), y[rest], groups[rest]))
        folds.append({"train": np.sort(rest[tr]), "val": np.sort(rest[va]),
                      "test": np.sort(test)})
    return folds


def _ci(stat, n, n_boot, ci, seed):
    """Percentile interval of ``stat(idx)`` over ``n_boot`` resamples of ``n`` ECGs."""
    rng = np.random.default_rng(seed)
    vals = np.array([stat(rng.integers(0, n, n)) for _ in range(int(n_boot))], float)
    vals = vals[np.isfinite(vals)]
    return percentile_ci(vals, ci) if len(vals) else [float("nan"), float("nan")]


def pooled_metrics(y_true, y_pred, class_names, *, n_boot=2000, ci=0.95, seed=0) -> dict:
    """Accuracy and per-class recall and precision of pooled predictions, with bootstrap CIs.

    Every resample draws ECGs with replacement (the same draws for every statistic: one
    seeded generator per statistic, same seed). Returns ``{"n", "accuracy": {"value",
    "ci_low", "ci_high"}, "per_class": {class: {"support", "recall": {...},
    "precision": {...}}}, "confusion_matrix"}``; an undefined value is NaN.
    """
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    n, k = len(y_true), len(class_names)

    def entry(stat):
        with np.errstate(invalid="ignore", divide="ignore"):
            value = float(stat(np.arange(n)))
            lo, hi = _ci(stat, n, n_boot, ci, seed)
        return {"value": value, "ci_low": float(lo), "ci_high": float(hi)}

    def recall(c):
        return lambda i: np.mean(y_pred[i][y_true[i] == c] == c) if (y_true[i] == c).any() \
            else np.nan

    def precision(c):
        return lambda i: np.mean(y_true[i][y_pred[i] == c] == c) if (y_pred[i] == c).any() \
            else np.nan

    cm = np.zeros((k, k), int)
    np.add.at(cm, (y_true, y_pred), 1)
    return {"n": int(n), "accuracy": entry(lambda i: np.mean(y_true[i] == y_pred[i])),
            "per_class": {c: {"support": int((y_true == j).sum()), "recall": entry(recall(j)),
                              "precision": entry(precision(j))}
                          for j, c in enumerate(class_names)},
            "confusion_matrix": cm.tolist()}


def credit(row: dict, probe: dict) -> int:
    """1 where the row's pooled accuracy interval lies above the probe's (its lower bound
    above the probe's upper bound), else 0."""
    return int(row["accuracy"]["ci_low"] > probe["accuracy"]["ci_high"])


def _fmt(e) -> str:
    if not np.isfinite(e["value"]):
        return "NaN"
    return f"{e['value']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}]"


def cv_table(rows: dict, probe_key="probe", mi="myocardial_infarction") -> str:
    """Markdown: pooled accuracy and MI recall with CIs, MI precision, credited, per row."""
    body = []
    for row, r in rows.items():
        pc = r["per_class"].get(mi)
        label = ("shortcut probe (trace-free crop statistics)" if row == probe_key
                 else row_label(row))
        body.append([label, f"{r.get('epochs', '')}", _fmt(r["accuracy"]),
                     _fmt(pc["recall"]) if pc else "", _fmt(pc["precision"]) if pc else "",
                     "" if row == probe_key else ("yes" if r.get("credited") else "no")])
    return markdown_table(["Row", "Epochs", "Accuracy [95% CI]", "MI recall [95% CI]",
                           "MI precision [95% CI]", "Credited"], body)


def run_cv(configs: dict, volumes: dict, *, out_dir, k=5, seed=0, n_boot=2000,
           probe=True, lead_augment=None) -> dict:
    """Train every ``{row: RunConfig}`` on each of ``k`` grouped folds; pool; write the table.

    Args:
        configs: resolved run configs by row (as :func:`experiment.run_experiment` takes);
            each fold's run goes to ``<output_dir>/<name>/cv<k>/fold<i>``.
        volumes: grouped volumes (``x``, ``y``, ``class_names``, ``patient_id`` = group).
        out_dir: where ``cv.md`` and ``cv.json`` go.
        k, seed: folds and their seed.
        n_boot: bootstrap resamples of the pooled intervals.
        probe: also fit the shortcut probe in every fold and credit rows against it.
        lead_augment: keyword arguments of
            :func:`heartcv.data.lead_augment.build_lead_augmenter` for the training batches
            (``VolumeSplits.lead_augment``); None: no augmentation, as the paper.

    Returns:
        ``{"rows": {row: pooled_metrics + "credited", "epochs", "seconds"}, "folds": [...],
        "run_dirs": {row: [fold run folders]}, "results": flat {"cv/<row>/<metric>":
        number}, "paths": {...}}``.
    """
    import time

    import keras

    names = list(volumes["class_names"])
    y = np.asarray(volumes["y"], int)
    groups = np.asarray(volumes["patient_id"]).astype(str)
    folds = grouped_folds(y, groups, k=k, seed=seed)
    arrays = SplitArrays(np.asarray(volumes["x"]), np.eye(len(names), dtype=np.float32)[y],
                         groups, np.asarray([f"{g}/{i}" for i, g in enumerate(groups)]))
    preds = {row: np.full(len(y), -1) for row in ([*configs, "probe"] if probe else configs)}
    seconds = {row: 0.0 for row in preds}
    run_dirs = {row: [] for row in configs}
    fold_info = []
    for i, f in enumerate(folds):
        data = VolumeSplits({s: arrays.subset(f[s]) for s in ("train", "val", "test")}, names,
                            "multiclass", f"{volumes['source']} (fold {i + 1}/{k})")
        data.lead_augment = lead_augment
        fold_info.append({s: {"ecgs": int(len(f[s])),
                              "classes": np.bincount(y[f[s]], minlength=len(names)).tolist()}
                          for s in f})
        if probe:
            t0 = time.perf_counter()
            p = shortcut_probe(data, seed=seed)
            preds["probe"][f["test"]] = p["y_pred"]
            seconds["probe"] += time.perf_counter() - t0
            fold_info[-1]["probe"] = p["chosen"]
        for row, cfg in configs.items():
            print(f"\n=== fold {i + 1}/{k}: {row_label(row)}", flush=True)
            t0 = time.perf_counter()
            run = train(replace(cfg, name=f"{cfg.name}/cv{k}/fold{i + 1}"), data=data)
            score = np.load(run.run_dir / "test_predictions.npz")["y_score"]
            preds[row][f["test"]] = np.argmax(score, -1)
            run_dirs[row].append(run.run_dir)
            seconds[row] += time.perf_counter() - t0
            keras.backend.clear_session()
    rows = {}
    for row, pred in preds.items():
        r = pooled_metrics(y, pred, names, n_boot=n_boot, seed=seed)
        r["seconds"] = round(seconds[row], 1)
        if row in configs:
            r["epochs"] = int(configs[row].train.epochs)
        rows[row] = r
    if probe:
        for row in configs:
            rows[row]["credited"] = credit(rows[row], rows["probe"])
    flat = {}
    for row, r in rows.items():
        flat[f"cv/{row}/accuracy"] = r["accuracy"]["value"]
        flat[f"cv/{row}/accuracy_ci_low"] = r["accuracy"]["ci_low"]
        flat[f"cv/{row}/accuracy_ci_high"] = r["accuracy"]["ci_high"]
        for c, pc in r["per_class"].items():
            for m in ("recall", "precision"):
                flat[f"cv/{row}/{m}_{c}"] = pc[m]["value"]
                flat[f"cv/{row}/{m}_{c}_ci_low"] = pc[m]["ci_low"]
                flat[f"cv/{row}/{m}_{c}_ci_high"] = pc[m]["ci_high"]
        if "credited" in r:
            flat[f"cv/{row}/credited"] = r["credited"]
    flat = {key: v for key, v in flat.items() if np.isfinite(v)}  # results.json: finite only
    out_dir = Path(out_dir)
    counts = ", ".join(f"{c}: {int((y == j).sum())}" for j, c in enumerate(names))
    md = [f"# Grouped {k}-fold cross-validation", "",
          f"{len(y)} ECGs ({counts}),"
          f" {len(np.unique(groups))} groups (ECGs sharing a near-identical lead crop are one "
          f"group, never split); every ECG tested once; predictions pooled over the folds. "
          f"95 % percentile bootstrap intervals over ECGs ({n_boot} resamples). Credited: the "
          f"row's accuracy interval lies above the shortcut probe's.", "", cv_table(rows)]
    paths = {"markdown": atomic_write_text(out_dir / "cv.md", "\n".join(md) + "\n"),
             "json": atomic_write_json(out_dir / "cv.json", {
                 "k": k, "seed": seed, "n_boot": n_boot, "class_names": names,
                 "lead_augment": lead_augment,
                 "folds": fold_info, "rows": rows,
                 "predictions": {r: p.tolist() for r, p in preds.items()},
                 "y_true": y.tolist(), "group": groups.tolist()})}
    return {"rows": rows, "folds": folds, "run_dirs": run_dirs, "results": flat,
            "paths": paths}


def source_shift_check(run_dirs: dict, volumes: dict, class_names, *,
                       target="myocardial_infarction", out_dir=None) -> dict:
    """Score every fold's model of every row on the ``target`` ECGs of another source.

    The source-shift check of issue 23: models trained on ``leads28`` scored on the MI
    sheets of the printouts, made into lead volumes of the same side (``heartcv prep ecg_khan
    --leads --size 28 --split none``). Classes are matched by name: the other source's
    ECGs of class ``target`` (by its own class names) must be called ``target`` (in the
    models' ``class_names``); its other classes are not scored.

    Args:
        run_dirs: ``{row: [run folders with model.h5]}`` (:func:`run_cv`'s ``run_dirs``).
        volumes: the other source's volumes (:func:`experiment.read_volume_bundle`).
        class_names: the models' classes, in output order.
        target: the class scored.
        out_dir: when given, ``source_shift.md`` and ``.json`` are written there.

    Returns:
        ``{"n", "source", "rows": {row: {"recall_per_fold", "recall" (mean over folds),
        "called" {class: share of predictions pooled over folds}}}, "results": flat}``.

    Raises:
        ValueError: ``target`` is not a class of the models or of the other source, or the
            volumes' side differs from the models' input.
    """
    import keras

    names = [str(c) for c in class_names]
    theirs = [str(c) for c in volumes["class_names"]]
    if target not in names or target not in theirs:
        raise ValueError(f"Expected {target!r} among the models' classes {names} and the "
                         f"other source's {theirs}. Received: target={target!r}")
    x = np.asarray(volumes["x"])[np.asarray(volumes["y"]) == theirs.index(target)]
    k = names.index(target)
    rows, flat = {}, {}
    for row, dirs in run_dirs.items():
        per_fold, counts = [], np.zeros(len(names), int)
        for d in dirs:
            model = keras.models.load_model(Path(d) / "model.h5", compile=False)
            if tuple(model.input_shape[1:]) != tuple(x.shape[1:]):
                raise ValueError(f"{d}: model input {model.input_shape[1:]} differs from the "
                                 f"other source's volumes {x.shape[1:]}")
            pred = model.predict(x.astype(np.float32), verbose=0).argmax(-1)
            del model
            keras.backend.clear_session()
            per_fold.append(float(np.mean(pred == k)))
            counts += np.bincount(pred, minlength=len(names))
        rows[row] = {"recall_per_fold": per_fold, "recall": float(np.mean(per_fold)),
                     "called": {c: float(counts[j] / max(counts.sum(), 1))
                                for j, c in enumerate(names)}}
        flat[f"source_shift/{row}/recall_{target}"] = rows[row]["recall"]
    out = {"n": int(len(x)), "source": volumes.get("source"), "target": target, "rows": rows,
           "results": flat}
    if out_dir is not None:
        body = [[row_label(row), f"{r['recall']:.3f}",
                 " ".join(f"{v:.2f}" for v in r["recall_per_fold"]),
                 ", ".join(f"{c} {v:.2f}" for c, v in r["called"].items())]
                for row, r in rows.items()]
        md = [f"# Source shift: {len(x)} {target} ECGs of {volumes.get('source')}", "",
              "Each fold's model (trained on that fold's training ECGs) scored on every one of "
              "them; recall averaged over the folds.", "",
              markdown_table(["Row", f"{target} recall", "Per fold", "Called (pooled)"], body)]
        out_dir = Path(out_dir)
        out["paths"] = {
            "markdown": atomic_write_text(out_dir / "source_shift.md", "\n".join(md) + "\n"),
            "json": atomic_write_json(out_dir / "source_shift.json",
                                      {k2: v for k2, v in out.items() if k2 != "results"})}
    return out

"""Five-class ECG-image reproduction: six architectures, the paper's performance tables, bagging.

Paul, Azad. *Heart Condition Classification based on ECG Images* (CSE 472 report, BUET).
Each ECG printout becomes a 13-lead volume (H, W, 13): the 13 lead crops of
:mod:`heartcv.papers.ecg_images_5class.layout`, greyscale, inverted, dilated and resized (64 x 64 in the
paper). :func:`run_experiment` trains the chosen architectures (``heartcv.papers.ecg_images_5class.models``) on one
patient-wise split with :func:`heartcv.train.train` (each run writes its per-class
precision/recall/F1/specificity report and confusion matrix), then writes the paper's
"Performance Report" tables for all of them: accuracy, per-class precision, recall, F1 and
specificity, the weighted "Decision" table, confusion matrices, and paper-vs-heartcv rows
from ``expected.csv``. :func:`bagging_ensemble` is the paper's stated future work: members
trained on patient bootstrap samples with different seeds, softmax outputs averaged.

Volumes come from synthetic printouts (:func:`synthetic_volumes`), from the real 28 x 28 lead
arrays (:func:`leads28_volumes`), or from an HDF5 bundle of (N, H, W, 13) images
(:func:`read_volume_bundle`; needs a bundle schema that accepts 13 channels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from heartcv import evaluate, report
from heartcv.config import replace
from heartcv.data.batches import make_dataset
from heartcv.data.bundle import read_bundle, write_bundle
from heartcv.data.datasets.ecg_khan import leads28_dataset
from heartcv.data.lead_augment import build_lead_augmenter
from heartcv.data.sources import DataSplits, SplitArrays, split_arrays
from heartcv.data.splits import leakage_report
from heartcv.data.synthetic import generate_ecg_printouts
from heartcv.evaluate import plot_confusion_matrix
from heartcv.files import atomic_write_json, atomic_write_text
from heartcv.papers.ecg_images_5class import BGNORM, MODELS  # noqa: F401 (MODELS re-exported)
from heartcv.papers.ecg_images_5class import shortcut as sc
from heartcv.papers.ecg_images_5class.layout import crop_leads, preprocess_lead
from heartcv.report import markdown_table, read_expected
from heartcv.train import train

#: Table order of the paper's Performance Report.
PAPER_NAMES = {"ecg_cnn3d": "CNN3D", "ecg_cnn2d": "CNN2D", "ecg_hybrid": "Hybrid",
               "ecg_timedistributed_cnn": "Time Dist CNN", "ecg_attn_lstm": "Attn LSTM",
               "ecg_attention_vgg": "CNN with Attn"}
#: heartcv class → the paper's column, in the paper's column order.
PAPER_CLASSES = {"normal": "Normal Heart", "myocardial_infarction": "MI",
                 "history_of_mi": "History of MI", "abnormal_heartbeat": "Abnormal HeartBeat",
                 "covid19": "Covid"}
#: Synthetic printout classes (heartcv.data.synthetic) → the dataset's class names.
SYNTHETIC_CLASSES = {"normal": "normal", "abnormal_heartbeat": "abnormal_heartbeat",
                     "mi": "myocardial_infarction", "history_mi": "history_of_mi",
                     "covid": "covid19"}
#: Row suffix of a model trained with ``model.params.background_norm=true`` (beyond the paper).
METRICS = ("precision", "recall", "f1", "specificity")
METRIC_TITLES = {"precision": "Precision", "recall": "Recall", "f1": "F1 Score",
                 "specificity": "Specificity", "accuracy": "Accuracy"}


# ----------------------------------------------------------------------------- volumes


def sheet_volume(sheet, size=64, dilate_kernel=3) -> np.ndarray:
    """One printout → (size, size, 13) uint8: the 13 lead crops, preprocessed, as channels."""
    leads = [preprocess_lead(c, size, dilate_kernel=dilate_kernel) for c in crop_leads(sheet)]
    return np.stack(leads, axis=-1)


def synthetic_volumes(n, *, size=64, seed=0, sheet_shape=(540, 940)) -> dict:
    """``n`` synthetic five-class printouts cut into 13-lead volumes.

    Returns:
        ``{"x": (n, size, size, 13) uint8, "y": (n,) int, "class_names": [...],
        "patient_id": (n,) str, "source": str}``; class names as the dataset's.
    """
    d = generate_ecg_printouts(n, height=sheet_shape[0], width=sheet_shape[1], seed=seed)
    x = np.stack([sheet_volume(s, size) for s in d["images"]])
    names = [SYNTHETIC_CLASSES[c] for c in d["class_names"]]
    return {"x": x, "y": d["labels"], "class_names": names,
            "patient_id": np.asarray(d["patient_id"]).astype(str),
            "source": f"synthetic ECG printouts (n={n}, seed={seed})"}


def leads28_volumes(root) -> dict:
    """The real 28 x 28 lead crops (``leads28/``) as (N, 28, 28, 13) volumes."""
    d = leads28_dataset(root)
    return {"x": np.ascontiguousarray(np.transpose(d.x, (0, 2, 3, 1))), "y": d.y,
            "class_names": list(d.class_names), "patient_id": d.patient_id,
            "source": f"ecg_khan leads28 ({root})"}


def write_volume_bundle(path, volumes: dict, split=None) -> Path:
    """Write ``volumes`` (as returned above) as a multiclass bundle of (N, H, W, 13) images.

    Needs :mod:`heartcv.data.bundle` to accept 13-channel ``images`` (schema version 1 takes
    C in (1, 3) only, and raises ValueError here).
    """
    k = len(volumes["class_names"])
    labels = np.eye(k, dtype=np.float32)[np.asarray(volumes["y"])]
    return write_bundle(path, volumes["x"], labels=labels, patient_id=volumes["patient_id"],
                        split=split, class_names=volumes["class_names"], task="multiclass",
                        source=volumes["source"])


def read_volume_bundle(path) -> dict:
    """Read a bundle of (N, H, W, 13) volumes into the dict form (keeping its splits)."""
    b = read_bundle(path)
    if b.task != "multiclass" or b.images.shape[-1] != 13:
        raise ValueError(f"Expected a multiclass bundle of (N, H, W, 13) lead volumes in {path}. "
                         f"Received: task={b.task!r}, images.shape={b.images.shape}")
    return {"x": b.images, "y": np.argmax(b.labels, axis=-1), "class_names": list(b.class_names),
            "patient_id": np.asarray(b.patient_id).astype(str),
            "split": np.asarray(b.split).astype(str), "source": str(path)}


def drop_duplicates(volumes: dict) -> tuple[dict, dict]:
    """Keep one copy of each distinct volume; drop volumes found under two labels.

    The shared ``leads28`` arrays hold many byte-identical ECGs (343 distinct volumes among
    622; MI: 33 among 219), which a split would otherwise put on both sides. Returns the
    reduced ``volumes`` and ``{"n_in", "n_out", "copies_dropped", "conflicting_dropped",
    "per_class": {class: [n_in, n_out]}}``.
    """
    import hashlib

    x, y = np.asarray(volumes["x"]), np.asarray(volumes["y"])
    groups: dict[str, list[int]] = {}
    for i, a in enumerate(x):
        groups.setdefault(hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest(), []).append(i)
    keep, conflicting = [], 0
    for idx in groups.values():
        if len(set(y[idx].tolist())) > 1:
            conflicting += len(idx)
        else:
            keep.append(idx[0])
    keep = np.sort(np.asarray(keep, dtype=int))
    out = {**volumes, "x": x[keep], "y": y[keep],
           "patient_id": np.asarray(volumes["patient_id"])[keep]}
    if volumes.get("split") is not None:
        out["split"] = np.asarray(volumes["split"])[keep]
    names = volumes["class_names"]
    report = {"n_in": int(len(x)), "n_out": int(len(keep)),
              "copies_dropped": int(len(x) - len(keep) - conflicting),
              "conflicting_dropped": int(conflicting),
              "per_class": {c: [int((y == k).sum()), int((out["y"] == k).sum())]
                            for k, c in enumerate(names)}}
    return out, report


def _crop_rows(x, min_std):
    """Every lead crop of ``x`` (N, H, W, C) as a float32 row; ``(rows, ecg_of_row, keep)``.

    ``keep`` leaves out near-constant crops (std < ``min_std``: blank leads), which many
    unrelated ECGs share and which say nothing about a copy.
    """
    x = np.asarray(x)
    rows = np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)).reshape(-1, x.shape[1] * x.shape[2]),
                                dtype=np.float32)
    ecg = np.repeat(np.arange(len(x)), x.shape[-1])
    return rows, ecg, rows.std(1) >= min_std


def _near(a, b, tol, block=1024):
    """Pairs ``(i, j)`` of rows of ``a`` and ``b`` whose RMS difference is <= ``tol``."""
    out_i, out_j = [], []
    bb = (b.astype(np.float64) ** 2).sum(1)
    for s in range(0, len(a), block):
        blk = a[s:s + block].astype(np.float64)
        d2 = ((blk ** 2).sum(1)[:, None] + bb[None] - 2.0 * blk @ b.T.astype(np.float64))
        i, j = np.nonzero(d2 <= (tol ** 2) * a.shape[1] + 1e-6)
        out_i.append(i + s)
        out_j.append(j)
    return np.concatenate(out_i), np.concatenate(out_j)


def group_shared_crops(volumes: dict, *, tol=3.0, min_std=2.0) -> tuple[dict, dict]:
    """Make ECGs that share a lead crop one patient, so that no crop straddles a split.

    ``drop_duplicates`` removes byte-identical *volumes*; the ``leads28`` copy still has ECGs
    that share 2-4 identical *crops* with another ECG (partial copies). Two ECGs are linked
    when any crop of one is within ``tol`` grey levels RMS of any crop of the other (any
    lead; near-constant crops, std < ``min_std``, never link), and linked ECGs (connected
    components) get one ``patient_id`` ``shared-<k>``, which the patient-wise split keeps
    together. Returns the volumes with new patient ids and ``{"ecgs_linked",
    "groups", "largest", "tolerance", "min_std"}``.
    """
    x = np.asarray(volumes["x"])
    rows, ecg, keep = _crop_rows(x, min_std)
    rows, ecg = rows[keep], ecg[keep]
    parent = np.arange(len(x))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    i, j = _near(rows, rows, tol)
    for a, b in zip(ecg[i], ecg[j]):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(a) for a in range(len(x))])
    uniq, inverse, counts = np.unique(roots, return_inverse=True, return_counts=True)
    pid = np.asarray(volumes["patient_id"]).astype(object).copy()
    for k, root in enumerate(uniq):
        if counts[k] > 1:
            pid[inverse == k] = f"shared-{root:05d}"
    report = {"ecgs_linked": int(counts[counts > 1].sum()), "groups": int((counts > 1).sum()),
              "largest": int(counts.max()) if len(counts) else 0, "tolerance": float(tol),
              "min_std": float(min_std)}
    return {**volumes, "patient_id": pid.astype(str)}, report


def shared_crops_across(data, *, split="test", against="train", tol=3.0, min_std=2.0) -> int:
    """How many ECGs of ``split`` share a lead crop (as in :func:`group_shared_crops`) with
    an ECG of ``against``: 0 after grouping; recorded in ``split.json``."""
    a, ea, ka = _crop_rows(data.splits[split].images, min_std)
    b, _, kb = _crop_rows(data.splits[against].images, min_std)
    i, _ = _near(a[ka], b[kb], tol)
    return int(len(np.unique(ea[ka][i])))


# ----------------------------------------------------------------------------- splits


class VolumeSplits(DataSplits):
    """``DataSplits`` of 13-lead volumes: fed as they are (no resizing); no augmentation
    unless ``lead_augment`` (set after construction) holds the keyword arguments of
    :func:`heartcv.data.lead_augment.build_lead_augmenter`, applied to training batches."""

    lead_augment = None

    def dataset(self, split, *, batch_size, image_size, channels=13, training=False,
                augment=None, seed=0, cache=True):
        """The split's batches from the one batch builder (no resizing; the lead augmenter
        on training batches when ``lead_augment`` is set)."""
        s = self.splits[split]
        if augment is not None:
            raise ValueError("Lead volumes are not augmented (the paper uses none): set "
                             f"data.augment.enabled=false. Received: augment={augment!r}")
        if s.images.shape[1:] != (image_size, image_size, channels):
            raise ValueError(f"Expected `data.image_size`={s.images.shape[1]} and `data.channels`="
                             f"{s.images.shape[-1]} for these volumes. Received: "
                             f"image_size={image_size}, channels={channels}")
        if training and self.lead_augment:
            augment = build_lead_augmenter(**self.lead_augment, seed=seed)
        return make_dataset(s.images, s.targets, batch_size=batch_size, channels=channels,
                            training=training, augment=augment, seed=seed, cache=False)


def make_splits(volumes: dict, *, val_fraction=0.1, test_fraction=0.1, seed=0) -> VolumeSplits:
    """Patient-wise, class-stratified train/val/test split (a bundle's own split is kept).

    ``VolumeSplits`` asserts on construction that no patient is in two splits.
    """
    k = len(volumes["class_names"])
    y = np.asarray(volumes["y"])
    arrays = SplitArrays(np.asarray(volumes["x"]), np.eye(k, dtype=np.float32)[y],
                         np.asarray(volumes["patient_id"]).astype(str),
                         np.asarray([f"{p}/{i}" for i, p in enumerate(volumes["patient_id"])]))
    given = volumes.get("split")
    if given is not None and {"train", "test"} <= set(np.unique(given)):
        splits = {s: arrays.subset(np.flatnonzero(given == s))
                  for s in ("train", "val", "test") if np.any(given == s)}
    else:
        splits = split_arrays(arrays, val_fraction=val_fraction, test_fraction=test_fraction,
                              seed=seed, task="multiclass")
    return VolumeSplits(splits, list(volumes["class_names"]), "multiclass", volumes["source"])


def split_summary(data: DataSplits, duplicates=None, shared_crops=None) -> dict:
    """Per split: samples, patients and class counts, and the leakage checks' results.

    ``test_sharing_a_crop_with_train``: test ECGs with a lead crop within 3 grey levels RMS
    of a training ECG's crop (:func:`shared_crops_across`); ``shared_crops``: the
    :func:`group_shared_crops` report, if the split was grouped.
    """
    ids = {k: s.patient_id for k, s in data.splits.items()}
    report = leakage_report(ids)
    sharing = (shared_crops_across(data) if {"train", "test"} <= set(data.splits) else None)
    return {"splits": {k: {"samples": len(s), "patients": int(len(np.unique(s.patient_id))),
                           "classes": dict(zip(data.class_names,
                                               s.targets.sum(0).astype(int).tolist()))}
                       for k, s in data.splits.items()},
            "leaking_patients": report["leaking"], "duplicates": duplicates,
            "shared_crops": shared_crops, "test_sharing_a_crop_with_train": sharing}


# ----------------------------------------------------------------------------- tables


def row_label(row) -> str:
    """``ecg_cnn2d`` → ``CNN2D (`ecg_cnn2d`)``; a ``_bgnorm`` row gets ``+ background norm``,
    an ``_aug`` row (``run.py --lead-augment``) ``+ lead augmentation``."""
    base, extra = row, ""
    if base.endswith("_aug"):
        base, extra = base[:-len("_aug")], " + lead augmentation"
    if base.endswith(BGNORM):
        base, extra = base[:-len(BGNORM)], " + background norm" + extra
    return f"{PAPER_NAMES.get(base, base)}{extra} (`{row}`)"


def _fmt(x) -> str:
    return "NaN" if x is None or not np.isfinite(x) else f"{x:.5f}"


def performance_tables(runs: dict, class_names) -> str:
    """The paper's Performance Report tables (Markdown) for ``{model: classification_report}``.

    Accuracy; Precision, Recall, F1 Score and Specificity with one column per class (the
    paper's column order, classes absent from the data left out); the weighted "Decision"
    table (accuracy and support-weighted precision, recall, F1, specificity).
    """
    cols = [c for c in PAPER_CLASSES if c in class_names] + [
        c for c in class_names if c not in PAPER_CLASSES]
    label = row_label
    out = ["**Performance Report (Accuracy)**", "",
           markdown_table(["Architecture", "Accuracy"],
                          [[label(m), _fmt(r["accuracy"])] for m, r in runs.items()])]
    for metric in METRICS:
        head = [METRIC_TITLES[metric]] + [PAPER_CLASSES.get(c, c) for c in cols]
        body = [[label(m)] + [_fmt(r["per_class"][c][metric]) for c in cols]
                for m, r in runs.items()]
        out += ["", f"**Performance Report ({METRIC_TITLES[metric]})**", "",
                markdown_table(head, body)]
    head = ["Model", "Accuracy", "Precision", "Recall", "F1 Score", "Specificity"]
    body = [[label(m), _fmt(r["accuracy"])] + [_fmt(r["weighted_avg"][k]) for k in METRICS]
            for m, r in runs.items()]
    out += ["", "**Performance Report (Decision)** (support-weighted averages)", "",
            markdown_table(head, body)]
    return "\n".join(out)


def paper_rows(runs: dict, expected_csv) -> list[dict]:
    """Paper vs heartcv for every ``expected.csv`` row that this run can answer.

    Tables ``Per-class <model>`` (row = class) and ``Decision`` (row = model; weighted
    averages and accuracy). Rows for models not run or classes not in the data are skipped.
    """
    out = []
    for e in read_expected(expected_csv):
        table, row, metric = e["table"], e["row"], e["metric"]
        if table == "Decision":
            model, res = row, runs.get(row)
            if res is None:
                continue
            value = res["accuracy"] if metric == "accuracy" else res["weighted_avg"][metric]
            where = "weighted avg"
        elif table.startswith("Per-class "):
            model = table[len("Per-class "):]
            res = runs.get(model)
            if res is None or row not in res["per_class"]:
                continue
            value, where = res["per_class"][row][metric], row
        else:
            continue
        value = float("nan") if value is None else float(value)
        out.append({"model": model, "row": where, "metric": metric, "paper": e["paper"],
                    "heartcv": value, "delta": value - e["paper"]})
    return out


def _comparison_markdown(rows) -> str:
    body = [[f"{PAPER_NAMES.get(r['model'], r['model'])}: {r['row']}", METRIC_TITLES[r["metric"]],
             _fmt(r["paper"]), _fmt(r["heartcv"]),
             "NaN" if not np.isfinite(r["delta"]) else f"{r['delta']:+.5f}"] for r in rows]
    return markdown_table(["Row", "Metric", "Paper", "heartcv", "Δ"], body,
                          align=[":---", ":---", "---:", "---:", "---:"])


def write_tables(runs: dict, class_names, out_dir, *, expected_csv=None, title="") -> dict:
    """Write ``performance_report.md`` (+ ``.json``), paper rows and confusion matrices."""
    out_dir = Path(out_dir)
    md = [f"# {title or 'Performance Report'}", "", performance_tables(runs, class_names)]
    paths = {}
    if expected_csv is not None:
        rows = paper_rows(runs, expected_csv)
        md += ["", f"**Paper vs heartcv** ({Path(expected_csv).name}; Δ = heartcv - paper)", "",
               _comparison_markdown(rows)]
        paths["paper_rows"] = atomic_write_json(out_dir / "paper_comparison.json", rows)
    for model, res in runs.items():
        paths[f"confusion_{model}"] = plot_confusion_matrix(
            res["confusion_matrix"], res["class_names"],
            out_dir / "figures" / f"confusion_{model}.png",
            title=row_label(model).replace("`", ""))
    paths["markdown"] = atomic_write_text(out_dir / "performance_report.md", "\n".join(md) + "\n")
    keep = ("accuracy", "per_class", "weighted_avg", "macro_avg", "confusion_matrix",
            "class_names", "n_samples", "auroc")
    paths["json"] = atomic_write_json(out_dir / "performance_report.json",
                                      {m: {k: r.get(k) for k in keep} for m, r in runs.items()})
    return paths


# ----------------------------------------------------------------------------- runs


def bagging_ensemble(cfg, data: DataSplits, *, members=5, seed=0) -> dict:
    """Bagging (the paper's future work): ``members`` runs of ``cfg`` on patient bootstrap
    samples of the training split, each with its own seed; test softmax outputs averaged.

    Runs go to ``<cfg.run_dir>/bagging/member<i>``; the ensemble's report (per-class table,
    confusion matrix) to ``<cfg.run_dir>/bagging``. Returns the ensemble's
    ``classification_report`` with ``members`` (each member's test accuracy) added.
    """
    if isinstance(members, bool) or not isinstance(members, int) or members < 2:
        raise ValueError(f"Expected `members` >= 2. Received: members={members!r}")
    tr, test = data.splits["train"], data.splits["test"]
    rng = np.random.default_rng(seed)
    patients = np.unique(tr.patient_id)
    rows = {p: np.flatnonzero(tr.patient_id == p) for p in patients}
    probs, accs = [], []
    for i in range(1, members + 1):
        pick = rng.choice(patients, size=len(patients), replace=True)
        idx = np.concatenate([rows[p] for p in pick])
        member = VolumeSplits({**data.splits, "train": tr.subset(idx)}, data.class_names,
                              data.task, f"{data.source} (bootstrap {i})")
        mcfg = replace(cfg, **{"name": f"{cfg.name}/bagging/member{i}",
                               "train.seed": cfg.train.seed + i})
        run = train(mcfg, data=member)
        probs.append(np.load(run.run_dir / "test_predictions.npz")["y_score"])
        accs.append(run.metrics["accuracy"])
    results = evaluate.classification_report(
        test.targets, np.mean(probs, axis=0), task="multiclass", class_names=data.class_names,
        n_boot=cfg.eval.bootstrap, ci=cfg.eval.ci, seed=cfg.train.seed)
    results["members"] = {"n": members, "test_accuracy": accs, "bootstrap_seed": seed}
    report.write_report(results, cfg.run_dir / "bagging",
                        table=f"Bagging {cfg.model.name} ({members} members)")
    return results


def shortcut_report(runs: dict, data: DataSplits, out_dir, *, probe=None, n_boot=2000,
                    seed=0) -> dict:
    """The shortcut probe beside every model, and each model on background-shifted tests.

    For each run, the saved ``model.h5`` (best validation checkpoint) is loaded and scored
    on the test split as it is and with every crop's background moved
    (:func:`heartcv.papers.ecg_images_5class.shortcut.background_shift`, ``black`` and
    ``grey``). Accuracy has a 95 % bootstrap interval over test ECGs; a model is
    ``credited`` when the 95 % paired bootstrap interval of its accuracy minus the probe's
    lies above 0. Writes ``shortcut.md`` and ``shortcut.json`` to ``out_dir``.

    Returns:
        ``{"results": flat {"<row>/<metric>": number}, "probe": probe output,
        "rows": {row: {...}}, "paths": {...}}``.
    """
    import keras

    test = data.splits["test"]
    y_true = np.argmax(test.targets, axis=-1)
    probe = probe or sc.shortcut_probe(data, seed=seed)
    flat = {}
    p_acc = sc.accuracy_ci(y_true, probe["y_pred"], n_boot=n_boot, seed=seed)
    flat.update({"probe/accuracy": p_acc["accuracy"], "probe/accuracy_ci_low": p_acc["ci_low"],
                 "probe/accuracy_ci_high": p_acc["ci_high"]})
    for name, c in probe["candidates"].items():
        flat[f"probe_{name}/accuracy"] = c["test_accuracy"]
        if "val_accuracy" in c:
            flat[f"probe_{name}/val_accuracy"] = c["val_accuracy"]
    majority = float(np.mean(y_true == np.bincount(
        np.argmax(data.splits["train"].targets, -1), minlength=len(data.class_names)).argmax()))
    flat["majority/accuracy"] = majority
    rows = {}
    for row, run in runs.items():
        model = keras.models.load_model(run.run_dir / "model.h5", compile=False)
        preds = {"test": model.predict(test.images.astype(np.float32), verbose=0).argmax(-1)}
        for kind in sc.SHIFTS:
            shifted = sc.background_shift(test.images, kind).astype(np.float32)
            preds[kind] = model.predict(shifted, verbose=0).argmax(-1)
        del model
        keras.backend.clear_session()
        acc = sc.accuracy_ci(y_true, preds["test"], n_boot=n_boot, seed=seed)
        cmp = sc.compare_to_probe(y_true, preds["test"], probe["y_pred"], n_boot=n_boot,
                                  seed=seed)
        r = {"accuracy": acc["accuracy"], "accuracy_ci_low": acc["ci_low"],
             "accuracy_ci_high": acc["ci_high"],
             "accuracy_black_background": float(np.mean(preds["black"] == y_true)),
             "accuracy_grey_background": float(np.mean(preds["grey"] == y_true)),
             "minus_probe": cmp["difference"], "minus_probe_ci_low": cmp["ci_low"],
             "minus_probe_ci_high": cmp["ci_high"], "credited": cmp["credited"]}
        for k, c in enumerate(data.class_names):
            for kind in ("test", *sc.SHIFTS):
                hit = preds[kind][y_true == k] == k
                if hit.size:
                    suffix = "" if kind == "test" else f"_{kind}_background"
                    r[f"recall_{c}{suffix}"] = float(hit.mean())
        rows[row] = r
        flat.update({f"{row}/{k}": v for k, v in r.items()})
    body = [[f"shortcut probe ({probe['chosen']}, trace-free crop statistics)",
             f"{p_acc['accuracy']:.3f} [{p_acc['ci_low']:.3f}, {p_acc['ci_high']:.3f}]",
             "", "", "", ""],
            ["majority class", f"{majority:.3f}", "", "", "", ""]]
    for row, r in rows.items():
        body.append([row_label(row),
                     f"{r['accuracy']:.3f} [{r['accuracy_ci_low']:.3f}, "
                     f"{r['accuracy_ci_high']:.3f}]",
                     f"{r['minus_probe']:+.3f} [{r['minus_probe_ci_low']:+.3f}, "
                     f"{r['minus_probe_ci_high']:+.3f}]",
                     "yes" if r["credited"] else "no",
                     f"{r['accuracy_black_background']:.3f}",
                     f"{r['accuracy_grey_background']:.3f}"])
    md = ["# Shortcut probe and background-shifted test sets", "",
          f"{len(y_true)} test ECGs; 95 % bootstrap intervals ({n_boot} resamples). Credited: "
          "the paired interval of (model - probe) accuracy lies above 0. Black / grey "
          "background: the same test crops with every background moved to 0 / 45.", "",
          markdown_table(["Row", "Accuracy [95% CI]", "Model - probe [95% CI]", "Credited",
                          "Black background", "Grey background"], body)]
    out_dir = Path(out_dir)
    paths = {"markdown": atomic_write_text(out_dir / "shortcut.md", "\n".join(md) + "\n"),
             "json": atomic_write_json(out_dir / "shortcut.json",
                                       {"probe": {k: probe[k] for k in ("chosen", "candidates",
                                                                        "features")},
                                        "rows": rows, "results": flat})}
    return {"results": flat, "probe": probe, "rows": rows, "paths": paths}


def run_experiment(configs: dict, data: DataSplits, *, out_dir, expected_csv=None,
                   bagging=0, title="", duplicates=None, shared_crops=None) -> dict:
    """Train each ``{model: RunConfig}`` on ``data``; write the paper's tables to ``out_dir``.

    Args:
        configs: resolved run configs by registry key (``experiments/ecg_images_5class/
            configs/<model>.yaml``), in table order.
        data: ``VolumeSplits`` shared by every model.
        out_dir: where ``performance_report.md``, ``split.json`` and figures go.
        expected_csv: the paper's numbers, for the Paper | heartcv | Δ rows.
        bagging: > 1 also trains a bagging ensemble of that many members per model.
        duplicates: the :func:`drop_duplicates` report, recorded in ``split.json``.
        shared_crops: the :func:`group_shared_crops` report, recorded in ``split.json``.

    Returns:
        ``{"runs": {model: RunResult}, "bagging": {model: results}, "paths": {...}}``.
    """
    import keras

    out_dir = Path(out_dir)
    summary = split_summary(data, duplicates, shared_crops)
    if summary["leaking_patients"]:
        raise ValueError(f"Patients in two splits: {summary['leaking_patients'][:10]}")
    paths = {"split": atomic_write_json(out_dir / "split.json", summary)}
    runs, bags = {}, {}
    for model, cfg in configs.items():
        print(f"\n=== {row_label(model)}")
        runs[model] = train(cfg, data=data)
        if bagging and bagging > 1:
            bags[model] = bagging_ensemble(cfg, data, members=bagging, seed=cfg.train.seed)
        keras.backend.clear_session()
    results = {m: r.metrics for m, r in runs.items()}
    results.update({f"{m}_bagging": b for m, b in bags.items()})
    paths.update(write_tables(results, data.class_names, out_dir, expected_csv=expected_csv,
                              title=title))
    return {"runs": runs, "bagging": bags, "paths": paths, "split": summary}

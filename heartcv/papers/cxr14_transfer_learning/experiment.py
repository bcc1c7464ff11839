"""cxr14 transfer-learning reproduction: Tables 1–2, Fig. 3–8, leakage check, box scores.

The paper (``../shared/papers/cxr14-transfer-learning.txt``) trains DenseNet121 without and
with data augmentation (DA) and ResNet50 with DA as frozen ImageNet feature extractors with a
GAP + dense head on ChestX-ray14's 14 labels, with a weighted binary cross-entropy, and
reports training accuracy (Table 1), test accuracy (Table 2; accuracy = correctly predicted
labels / (labels × images) at 0.5), per-label ROC curves (Fig. 4–6), loss curves (Fig. 3) and
Grad-CAM heatmaps of the four most probable labels (Fig. 7–8). ``run_experiment`` does all of
that on one patient-wise split, and beyond the paper: bootstrap CIs of every AUROC, accuracy
at per-label thresholds chosen on the validation split, and, for test images with boxes
(NIH ``BBox_List_2017.csv`` or the phantom's), the pointing game and IoU/IoBB of each
label's Grad-CAM and Grad-CAM++ against its boxes (Wang et al. 2017's protocol).

:func:`heartcv.data.splits.leakage_check` is the paper's set-intersection check on a bundle
or a CSV (``heartcv leakage``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from heartcv import evaluate
from heartcv.data.bundle import open_bundle
from heartcv.data.sources import load_data
from heartcv.data.synthetic import generate_chest_xrays
from heartcv.evaluation._common import atomic_save_figure
from heartcv.evaluation.expected import comparison_markdown, paper_comparison
from heartcv.explain import gradcam
from heartcv.explain.topk import save_top_k_figure, top_k_gradcam
from heartcv.files import atomic_write_json, atomic_write_text
from heartcv.io import load_model
from heartcv.localization import iou_iobb, mass_inside, pointing_game
from heartcv.papers.cxr14_transfer_learning import ROWS  # noqa: F401 (re-exported)
from heartcv.report import read_expected
from heartcv.scoring import predict_split
from heartcv.train import train

ROW_LABELS = {"densenet121_no_da": "DenseNet121 without data augmentation",
              "densenet121_da": "DenseNet121 with data augmentation",
              "resnet50_da": "ResNet50 with data augmentation"}
ROC_FIGURES = {"densenet121_no_da": "Fig. 4", "densenet121_da": "Fig. 5", "resnet50_da": "Fig. 6"}


# ----------------------------------------------------------------------------- boxes


def bundle_boxes(path, image_ids) -> list:
    """Per image id, its ``(label, x, y, w, h)`` boxes (all labels) in the bundle's frame."""
    with open_bundle(path) as b:
        where = {str(i): k for k, i in enumerate(b.image_id)}
        return [[(x.label, x.x, x.y, x.w, x.h) for x in b.boxes_for(where[str(i)])]
                if str(i) in where else [] for i in image_ids]


def phantom_boxes(data_cfg, image_ids) -> list:
    """The boxes of the synthetic findings phantom of ``data_cfg``, per image id (regenerated)."""
    d = generate_chest_xrays(n_patients=data_cfg.n_patients,
                             images_per_patient=data_cfg.images_per_patient,
                             size=data_cfg.image_size, task=data_cfg.synthetic, seed=data_cfg.seed,
                             **dict(data_cfg.synthetic_options))
    where = {str(i): b for i, b in zip(d["image_id"], d["boxes"])}
    return [list(where.get(str(i), [])) for i in image_ids]


def model_images(images, size) -> np.ndarray:
    """uint8 (N, H, W[, C]) → float32 (N, size, size, 3) in [0, 255] (what the models take)."""
    import cv2

    x = np.asarray(images)
    x = x[..., 0] if x.ndim == 4 and x.shape[-1] == 1 else x
    if x.shape[1:3] != (size, size):
        x = np.stack([cv2.resize(m, (size, size), interpolation=cv2.INTER_AREA) for m in x])
    x = x.astype(np.float32)
    return np.repeat(x[..., None], 3, axis=-1) if x.ndim == 3 else x


def box_scores(model, images, boxes, class_names, *, frame=None, heat_threshold=0.5,
               plus=False) -> dict:
    """Pointing game and IoU/IoBB of each label's heatmap on the images boxed for that label.

    Args:
        model: a multi-label classifier (outputs in the order of ``class_names``).
        images: (N, H, W, 3) float32 at the model's input size.
        boxes: per image, a list of ``(label, x, y, w, h)`` in the ``frame`` (H, W) pixels.
        frame: the (H, W) the box coordinates refer to (default: the images' size).
        heat_threshold: binarisation of the min–max normalised map for IoU/IoBB.
        plus: Grad-CAM++ instead of Grad-CAM.

    Returns:
        ``{label: {n_images, pointing_game, box_area_fraction (the pointing game's chance
        level), iou_mean, iobb_mean, accuracy_iou {T: acc}, accuracy_iobb {T: acc}}}`` for the
        labels that have boxes; labels outside ``class_names`` are counted under ``skipped``.
    """
    frame = tuple(frame or images.shape[1:3])
    out, skipped = {}, {}
    labels = sorted({b[0] for bs in boxes for b in bs})
    for label in labels:
        if label not in class_names:
            skipped[label] = sum(any(b[0] == label for b in bs) for bs in boxes)
            continue
        rows = [i for i, bs in enumerate(boxes) if any(b[0] == label for b in bs)]
        gt = [[b[1:] for b in boxes[i] if b[0] == label] for i in rows]
        heat = gradcam(model, images[rows], class_index=class_names.index(label), plus=plus)
        hits = pointing_game(heat, gt, image_size=frame)
        area = mass_inside(np.ones_like(heat), gt, image_size=frame)
        r = iou_iobb(heat, gt, thresholds=(heat_threshold,), image_size=frame)
        out[label] = {
            "n_images": len(rows), "pointing_game": float(hits.mean()),
            "box_area_fraction": float(np.mean(area)), "heat_threshold": heat_threshold,
            "iou_mean": float(r["iou"].mean()), "iobb_mean": float(r["iobb"].mean()),
            "accuracy_iou": {f"{t:g}": float(a)
                             for t, a in zip(r["iou_thresholds"], r["accuracy_iou"][0])},
            "accuracy_iobb": {f"{t:g}": float(a)
                              for t, a in zip(r["iobb_thresholds"], r["accuracy_iobb"][0])},
        }
    if skipped:
        out["skipped"] = skipped
    return out


def box_scores_markdown(scores: dict) -> str:
    """Markdown: per row, map and label: n, pointing game (chance), IoBB and its accuracies."""
    head = ("| Model | Map | Label | n | Pointing game (chance) | mean IoBB | Acc. IoBB ≥ 0.25 "
            "| Acc. IoBB ≥ 0.5 |")
    lines = [head, "|:---|:---|:---|---:|---:|---:|---:|---:|"]
    for row, methods in scores.items():
        for method, labels in methods.items():
            for label, s in labels.items():
                if label == "skipped":
                    continue
                lines.append(f"| {row} | {method} | {label} | {s['n_images']} | "
                             f"{s['pointing_game']:.2f} ({s['box_area_fraction']:.2f}) | "
                             f"{s['iobb_mean']:.2f} | {s['accuracy_iobb']['0.25']:.2f} | "
                             f"{s['accuracy_iobb']['0.5']:.2f} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- figures


def plot_loss_curves(histories: dict, path) -> Path:
    """Fig. 3: training and validation loss per epoch, one panel per row."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * max(len(histories), 1), 3.6))
    axes = fig.subplots(1, max(len(histories), 1), squeeze=False)[0]
    for ax, (row, csv_path) in zip(axes, histories.items()):
        with open(csv_path, newline="") as f:
            rec = list(csv.DictReader(f))
        epochs = [int(r["epoch"]) + 1 for r in rec]
        for key, label in (("loss", "Training loss"), ("val_loss", "Validation loss")):
            if rec and key in rec[0]:
                ax.plot(epochs, [float(r[key] or "nan") for r in rec], marker=".", label=label)
        ax.set_title(ROW_LABELS.get(row, row), fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend(fontsize=8)
    fig.suptitle("Loss curves (Fig. 3)", fontsize=10)
    fig.tight_layout()
    return atomic_save_figure(fig, Path(path))


# ----------------------------------------------------------------------------- experiment


def _row_result(run, model, data, cfg) -> dict:
    """Tables 1–2 numbers of one trained row, per-label AUROC, validation-chosen thresholds."""
    names = data.class_names
    p_train = predict_split(model, data, "train", cfg)
    y_test = data.splits["test"].targets
    p_test = np.load(run.run_dir / "test_predictions.npz")["y_score"]
    out = {"train_accuracy": evaluate.multilabel_accuracy(data.splits["train"].targets, p_train),
           "test_accuracy": run.metrics["accuracy"], "mean_auroc": run.metrics["auroc"]["value"],
           "mean_auroc_ci": run.metrics["auroc"]["ci"],
           "auroc": {n: run.metrics["per_class"][n].get("auroc") for n in names},
           "auroc_ci": {n: run.metrics["per_class"][n].get("auroc_ci") for n in names}}
    if "val" in data.splits and len(data.splits["val"]):
        p_val = predict_split(model, data, "val", cfg)
        t = evaluate.choose_threshold(data.splits["val"].targets, p_val, method="youden")
        t = [0.5 if not np.isfinite(v) else float(v) for v in t]
        rep = evaluate.classification_report(y_test, p_test, task="multilabel", class_names=names,
                                             threshold=t, threshold_source="validation:youden",
                                             auroc=False)
        at_half = run.metrics["macro_avg"]
        out["validation_thresholds"] = dict(zip(names, t))
        out["test_accuracy_val_thresholds"] = rep["accuracy"]
        out["macro_sensitivity"] = {"0.5": at_half["recall"],
                                    "validation": rep["macro_avg"]["recall"]}
        out["macro_specificity"] = {"0.5": at_half["specificity"],
                                    "validation": rep["macro_avg"]["specificity"]}
    return out


def _lookup(results):
    def lookup(row_key, metric, table):
        if table.startswith("CheXNet"):
            r = results.get("densenet121_da") or next(iter(results.values()))
            return (r["mean_auroc"], r["mean_auroc_ci"]) if row_key == "mean" else \
                (r["auroc"].get(row_key, float("nan")), r["auroc_ci"].get(row_key))
        if table.startswith("Fig."):
            row, label = row_key.split(":", 1)
            r = results.get(row.strip())
            if r is None:
                return float("nan"), None
            return r["auroc"].get(label.strip(), float("nan")), r["auroc_ci"].get(label.strip())
        r = results.get(row_key)
        if r is None:
            return float("nan"), None
        return r["train_accuracy" if table == "Table 1" else "test_accuracy"], None
    return lookup


def comparison(results: dict, expected_csv) -> tuple[list, str]:
    """Paper vs heartcv for every expected.csv row (NaN where a row or label was not run)."""
    lookup = _lookup(results)
    rows, parts = [], []
    expected = read_expected(expected_csv)
    for table in dict.fromkeys(e["table"] for e in expected):
        sel = [e for e in expected if e["table"] == table]
        cmp = paper_comparison(sel, lambda row, metric, t=table: lookup(row, metric, t))
        rows += cmp
        parts += [f"### {table}", "", comparison_markdown(cmp), ""]
    return rows, "\n".join(parts)


def run_experiment(row_cfgs: dict, *, data=None, out_dir=None, expected_csv=None, boxes=None,
                   frame=None, n_show=2, max_boxed=None) -> dict:
    """Train and evaluate each row; write Tables 1–2, Fig. 3–8 and box scores.

    Args:
        row_cfgs: ``{row: RunConfig}`` in table order (``ROWS``); every row shares the data
            settings of the first.
        data: ``DataSplits`` (built from the first config when None).
        out_dir: where the comparison files go (default: the first run's parent).
        expected_csv: the paper's numbers (``experiments/cxr14_transfer_learning/expected.csv``).
        boxes: per test image, ``(label, x, y, w, h)`` boxes in ``frame`` pixels, or None.
        frame: (H, W) of the box coordinates (default: the test images' size).
        n_show: test images in the top-4 Grad-CAM figures.
        max_boxed: score heatmaps on at most this many boxed test images (the first ones);
            None: all of them.

    Returns:
        ``{"rows": {row: dict}, "runs": {row: RunResult}, "box_scores": ..., "paths": ...}``.
    """
    first = next(iter(row_cfgs.values()))
    data = data if data is not None else load_data(first.data)
    out_dir = Path(out_dir or first.run_dir.parent)
    names, test = data.class_names, data.splits["test"]
    frame = tuple(frame or test.images.shape[1:3])
    boxed = [i for i, b in enumerate(boxes or []) if b][:max_boxed]
    show = np.arange(min(n_show, len(test)))
    results, runs, scores, paths = {}, {}, {}, {}
    for row, cfg in row_cfgs.items():
        aug = "on" if cfg.data.augment.enabled else "off"
        print(f"\n=== {row}: {cfg.model.name}, augmentation {aug}")
        run = train(cfg, data=data)
        model = load_model(run.paths["model_keras"])
        runs[row], results[row] = run, _row_result(run, model, data, cfg)
        fig = ROC_FIGURES.get(row, "ROC")
        paths[f"roc_{row}"] = evaluate.plot_roc(
            run.metrics["roc_curves"], out_dir / "figures" / f"roc_{row}.png",
            title=f"ROC per label, {ROW_LABELS.get(row, row)} ({fig})")
        size = cfg.data.image_size
        x = model_images(test.images[show], size)
        for plus in (False, True):
            res = top_k_gradcam(model, x, k=min(4, len(names)), plus=plus, class_names=names)
            truth = [", ".join(n for n, v in zip(names, test.targets[i]) if v == 1) or "No Finding"
                     for i in show]
            key = f"top4_{'gradcampp' if plus else 'gradcam'}_{row}"
            titles = [f"{test.image_id[i]}\n{t}" for i, t in zip(show, truth)]
            paths[key] = save_top_k_figure(x, res, out_dir / "figures" / f"{key}.png",
                                           titles=titles)
        if boxed:
            xb = model_images(test.images[boxed], size)
            bb = [boxes[i] for i in boxed]
            scores[row] = {m: box_scores(model, xb, bb, names, frame=frame, plus=m == "Grad-CAM++")
                           for m in ("Grad-CAM", "Grad-CAM++")}
    paths["loss_curves"] = plot_loss_curves({r: runs[r].paths["history_csv"] for r in runs},
                                            out_dir / "figures" / "loss_curves.png")
    paths["rows"] = atomic_write_json(out_dir / "rows.json", results)
    md = [_tables_markdown(results, names)]
    if expected_csv:
        cmp, text = comparison(results, expected_csv)
        md += ["## Paper vs heartcv (Δ = heartcv − paper)", "", text]
        paths["comparison"] = atomic_write_json(out_dir / "paper_comparison.json", cmp)
    if scores:
        paths["box_scores"] = atomic_write_json(out_dir / "box_scores.json", scores)
        md += ["## Heatmaps against boxes (heatmap binarised at 0.5)", "",
               box_scores_markdown(scores)]
    else:
        md += ["## Heatmaps against boxes", "", "No test image has a box: not measured.", ""]
    paths["tables"] = atomic_write_text(out_dir / "tables.md", "\n".join(md))
    return {"rows": results, "runs": runs, "box_scores": scores, "paths": paths}


def flat_results(results: dict) -> dict:
    """The flat ``results.json`` mapping of :func:`run_experiment`'s ``rows``.

    Per row: ``<row>/mean/auroc`` (+ ``_ci_low``/``_ci_high``), ``<row>/<Label>/auroc`` (+ CI),
    ``<row>/train_accuracy``, ``<row>/test_accuracy`` and
    ``<row>/test_accuracy_val_thresholds``; across rows, ``mean/auroc``: the mean of the rows'
    mean AUROCs. Labels without an AUROC (a split with one class) are left out.
    """
    out = {}

    def put(key, value, ci=None):
        if value is not None and np.isfinite(value):
            out[key] = float(value)
            if ci is not None and all(c is not None and np.isfinite(c) for c in ci):
                out[key + "_ci_low"], out[key + "_ci_high"] = float(ci[0]), float(ci[1])

    for row, r in results.items():
        put(f"{row}/mean/auroc", r["mean_auroc"], r.get("mean_auroc_ci"))
        for label, value in r["auroc"].items():
            put(f"{row}/{label}/auroc", value, (r.get("auroc_ci") or {}).get(label))
        for key in ("train_accuracy", "test_accuracy", "test_accuracy_val_thresholds"):
            put(f"{row}/{key}", r.get(key))
    means = [out[f"{row}/mean/auroc"] for row in results if f"{row}/mean/auroc" in out]
    if means:
        out["mean/auroc"] = float(np.mean(means))
    return out


def _tables_markdown(results, names) -> str:
    def num(v):
        return "NaN" if v is None or not np.isfinite(v) else f"{v:.3f}"

    lines = ["## Tables 1 and 2", "",
             "| Row | Training accuracy (Table 1) | Test accuracy (Table 2) | Test accuracy, "
             "validation thresholds | Mean AUROC [95% CI] |", "|:---|---:|---:|---:|---:|"]
    for row, r in results.items():
        lo, hi = r["mean_auroc_ci"] or (float("nan"), float("nan"))
        lines.append(f"| {ROW_LABELS.get(row, row)} | {num(r['train_accuracy'])} | "
                     f"{num(r['test_accuracy'])} | {num(r.get('test_accuracy_val_thresholds'))} | "
                     f"{num(r['mean_auroc'])} [{num(lo)}, {num(hi)}] |")
    lines += ["", "## Per-label test AUROC (Fig. 4–6)", "",
              "| Label | " + " | ".join(ROW_LABELS.get(r, r) for r in results) + " |",
              "|:---|" + "---:|" * len(results)]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(num(r["auroc"][n]) for r in results.values()) + " |")
    return "\n".join(lines) + "\n"

"""Cardio-XAttentionNet reproduction: AMM vs GAP models, Tables 4 and 5, figures, localization.

Innat, Hossain, Mader, Kouzani. *A convolutional attention mapping deep neural network for
classification and localization of cardiomegaly on chest X-rays.* Sci Rep 13 (2023).

``run_experiment`` trains the chosen models on one patient-wise split, evaluates each on the
held-out patients (Table 4: per-class precision/recall/F1, weighted average, accuracy),
compares them (Table 5: averages and AUROC with bootstrap CIs, DeLong's paired test of each
AMM model against its GAP baseline), draws the ROC curves of all models in one figure
(Fig. 6), attention maps and overlays at intensity 0.2 (Fig. 7–9) with the GAP baselines'
Grad-CAM beside them, and measures localization: the share of heatmap mass on the true heart
and the pointing game (phantom masks), or IoU/IoBB and pointing game against the NIH
Cardiomegaly boxes when the test images have boxes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from heartcv.files import atomic_write_json

AMM_MODELS = ("cxa_densenet121", "cxa_densenet201", "cxa_resnet50", "cxa_inceptionresnetv2")
BASELINES = {"cxa_densenet121": "densenet121_gap", "cxa_densenet201": "densenet201_gap",
             "cxa_resnet50": "resnet50_gap", "cxa_inceptionresnetv2": "inceptionresnetv2_gap"}
MODELS = tuple(m for amm in AMM_MODELS for m in (BASELINES[amm], amm))  # Table 5's row order

# The paper's training recipe is experiments/cardio_xattentionnet/configs/paper.yaml.


def _tables_in(expected_csv) -> set:
    if not expected_csv:
        return set()
    from heartcv.report import read_expected

    return {r["table"] for r in read_expected(expected_csv)}


def bundle_boxes(path, image_ids, label="Cardiomegaly") -> list:
    """Per image id, the (x, y, w, h) boxes of ``label`` in the bundle's pixel frame."""
    from heartcv.data.h5 import open_bundle

    with open_bundle(path) as b:
        where = {str(i): k for k, i in enumerate(b.image_id)}
        out = []
        for image_id in image_ids:
            k = where.get(str(image_id))
            boxes = [] if k is None else b.boxes_for(k)
            out.append([(x.x, x.y, x.w, x.h) for x in boxes if x.label == label])
    return out


def heatmaps(model, name: str, images: np.ndarray) -> tuple[str, np.ndarray]:
    """The model's own map: AMM attention W for ``cxa_*``, Grad-CAM for the GAP baselines."""
    from heartcv import explain

    if name.startswith("cxa_"):
        return "AMM attention", explain.attention_maps(model, images)[1]
    return "Grad-CAM", explain.gradcam(model, images)


def localization(models: dict, test, out_dir: Path, *, boxes=None, n_show=6, seed=0) -> dict:
    """Localization of each model's heatmaps on the positive test images, and Fig. 7–9 grids.

    Uses the heart masks when the split has them (phantom), else ``boxes``: a list (one per
    test image) of (x, y, w, h) Cardiomegaly boxes in the test images' pixel frame.
    """
    from heartcv import explain
    from heartcv.localization import localization_summary

    positives = np.flatnonzero(test.targets[:, 0] > 0.5)
    if test.heart_masks is None and boxes is not None:
        positives = np.array([i for i in positives if boxes[i]], dtype=int)
    if not len(positives) or (test.heart_masks is None and boxes is None):
        return {"note": "no positive test image with a heart mask or box: localization not measured"}
    images = test.images[positives].astype(np.float32)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    masks = None if test.heart_masks is None else test.heart_masks[positives]
    box_list = None if boxes is None or masks is not None else [boxes[i] for i in positives]
    out, shown = {}, {}
    for name, model in models.items():
        method, heat = heatmaps(model, name, images)
        summary = localization_summary(heat, masks=masks, boxes=box_list, seed=seed)
        summary["method"] = method
        if masks is not None:
            summary["heart_area_share"] = float(np.mean(masks))
        out[name] = summary
        shown[f"{name} ({method})"] = heat[:n_show]
    probs = {n: np.asarray(m.predict(images[:n_show], verbose=0))[:, 0] for n, m in models.items()}
    titles = [" ".join(f"{n}: p={probs[n][i]:.2f}" for n in models) for i in range(min(n_show, len(images)))]
    explain.save_overlay_grid(images[:n_show], shown, out_dir / "figures" / "attention_overlays.png",
                              titles=titles, alpha=0.2)
    return out


def run_experiment(base_cfg, models=MODELS, *, data=None, out_dir=None, expected_csv=None,
                   boxes=None) -> dict:
    """Train and evaluate ``models`` on one split; write Tables 4/5, figures and localization.

    Args:
        base_cfg: the run config shared by all models (``model.name`` is set per model; each
            run goes to ``<output_dir>/<name>/<model>``).
        models: registry keys, in table order.
        data: ``DataSplits`` (built from ``base_cfg.data`` when None), shared by every model.
        out_dir: where the comparison tables and figures go (default: the runs' parent).
        expected_csv: the paper's numbers (``experiments/cardio_xattentionnet/expected.csv``).
        boxes: optional per-test-image Cardiomegaly boxes for localization (NIH).

    Returns:
        ``{"runs": {model: RunResult}, "delong": {...}, "localization": {...}, "paths": {...}}``.
    """
    from heartcv import evaluate, report
    from heartcv.config import replace
    from heartcv.data.sources import load_data
    from heartcv.explain import attention_renderer
    from heartcv.io import load_model
    from heartcv.train import train

    data = data if data is not None else load_data(base_cfg.data)
    out_dir = Path(out_dir or base_cfg.run_dir)
    tables = _tables_in(expected_csv)
    runs, loaded = {}, {}
    for name in models:
        print(f"\n=== {name}")
        cfg = replace(base_cfg, **{"model.name": name, "name": f"{base_cfg.name}/{name}",
                                   "table": f"Table 4 {name}"})
        run = train(cfg, data=data, render=attention_renderer(alpha=0.2))
        if f"Table 4 {name}" in tables:  # the paper's per-class numbers beside ours
            report.write_report(run.metrics, run.run_dir, table=f"Table 4 {name}",
                                expected_csv=expected_csv)
        runs[name] = run
        loaded[name] = load_model(run.paths["model_h5"])
    y = data.splits["test"].targets[:, 0]
    scores = {n: np.load(r.run_dir / "test_predictions.npz")["y_score"][:, 0] for n, r in runs.items()}
    tests = {amm: evaluate.delong_test(y, scores[amm], scores[gap], names=(amm, gap))
             for amm, gap in BASELINES.items() if amm in runs and gap in runs}
    paths = report.write_comparison(
        {n: r.metrics for n, r in runs.items()}, out_dir, name="table5", tests=tests or None,
        expected_csv=expected_csv if "Table 5" in tables else None, table="Table 5")
    curves = {n: r.metrics["roc_curves"][r.metrics["class_names"][-1]]
              for n, r in runs.items() if r.metrics.get("roc_curves")}
    if curves:
        paths["roc"] = evaluate.plot_roc(curves, out_dir / "figures" / "roc_all_models.png",
                                         title="ROC on held-out patients (Fig. 6)")
    loc = localization(loaded, data.splits["test"], out_dir, boxes=boxes,
                       seed=base_cfg.train.seed)
    paths["localization"] = atomic_write_json(out_dir / "localization.json", loc)
    paths["delong"] = atomic_write_json(out_dir / "delong.json", tests)
    return {"runs": runs, "delong": tests, "localization": loc, "paths": paths, "models": loaded}

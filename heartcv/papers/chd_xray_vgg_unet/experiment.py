"""CHD chest X-ray reproduction: VGG vs VGG+Mask under 10-fold CV, segmentation, heart attention.

Chen & Shi, *Deep Mask For X-ray Based Heart Disease Classification* (arXiv:1808.08277, 2018;
``../shared/papers/chd-xray-vgg-unet.txt``). The paper fine-tunes VGG16 on chest X-rays of
normal controls and VSD/ASD patients, finds with saliency maps that it looks at the lungs,
and proposes "VGG+Mask": a (VGG16-)U-Net segments the heart, the grey values outside it are
scaled by 0.2, and VGG16 classifies the masked image. Its tables are 10-fold
cross-validation means and variances of accuracy, AUROC and per-class accuracy for four
data set settings (normal controls from two sources × {VSD} or {VSD, ASD}).

``run_experiment`` does the same on any CHD data with heart masks (the synthetic phantom by
default, or a bundle from ``heartcv prep chd``):

1. trains the segmenters (``unet``, ``vgg16_unet``) on a patient-disjoint segmentation
   cohort and reports their Dice on held-out patients;
2. masks every classification image with the chosen segmenter (``mask_images``);
3. runs patient-wise k-fold CV of the classifier on the raw images ("VGG") and on the masked
   images ("VGG+Mask") with the same folds, per setting;
4. after each fold measures where the classifier looks: the share of saliency and of deep
   Taylor relevance that falls inside the true heart mask (``heart_share_*``), and, for
   VGG+Mask, of the end-to-end model's saliency on the raw image; the heart's share of the
   image is the chance level;
5. writes the tables beside the paper's numbers (``tables.md``, ``tables.json``) and the
   figures (segmentations, saliency and deep Taylor overlays, ``block5_conv1`` features:
   ``figures/block5_conv1_<setting>_<model>.png``).

Per-class "accuracy" of the three-class tables is one-vs-rest accuracy ((TP + TN) / N), the
only reading under which the paper's per-class values can all exceed its overall accuracy.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from heartcv import explain
from heartcv.config import replace, save_config
from heartcv.data.images import resize_image, resize_mask
from heartcv.data.sources import (
    DataSplits, SplitArrays, bundle_arrays, split_arrays, synthetic_arrays,
)
from heartcv.data.splits import assert_disjoint, patient_split
from heartcv.evaluation.expected import lookup_metric
from heartcv.files import atomic_path, atomic_write_json, atomic_write_text
from heartcv.io import load_model
from heartcv.localization import mass_inside
from heartcv.papers.chd_xray_vgg_unet import MODELS, SETTINGS
from heartcv.papers.chd_xray_vgg_unet.models import chain_mask_classifier, mask_images
from heartcv.report import read_expected
from heartcv.train import cross_validate, train

PAPER_SOURCES = ("az", "indiana")
SHARES = ("heart_share_saliency", "heart_share_deep_taylor", "heart_share_saliency_end_to_end")


def setting_arrays(arrays, class_names, classes, *, normal_source=None):
    """The rows of one data set setting: ``classes`` (normal first), optionally one source.

    Args:
        arrays: ``SplitArrays`` with one-hot ``targets`` over ``class_names``.
        class_names: names of the target columns.
        classes: the setting's classes, e.g. ``("normal", "VSD")``.
        normal_source: keep only normal controls whose patient id starts with
            ``"<source>-"`` (the CHD file-name convention); diseased rows of every source.

    Returns:
        ``(SplitArrays, class_names, task)``: binary (targets (N, 1), 1 = the disease) for two
        classes, multiclass one-hot for more.
    """
    missing = [c for c in classes if c not in class_names]
    if missing or len(classes) < 2:
        raise ValueError(f"Expected at least two of {list(class_names)} in `classes`. "
                         f"Received: classes={classes}")
    y = np.argmax(arrays.targets, axis=-1)
    cols = [list(class_names).index(c) for c in classes]
    keep = np.isin(y, cols)
    if normal_source is not None:
        src = np.char.partition(arrays.patient_id.astype(str), "-")[:, 0]
        keep &= (y != cols[0]) | (np.char.lower(src) == str(normal_source).lower())
    idx = np.flatnonzero(keep)
    if not len(idx):
        raise ValueError(f"No images of {classes} (normal_source={normal_source!r}).")
    sub = arrays.subset(idx)
    onehot = sub.targets[:, cols]
    if len(cols) == 2:
        sub.targets = onehot[:, 1:].astype(np.float32)
        return sub, list(classes), "binary"
    sub.targets = onehot.astype(np.float32)
    return sub, list(classes), "multiclass"


def _rgb(x):
    x = np.asarray(x, np.float32)
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


def heart_shares(model, images, heart_masks, *, segmenter=None, raw_images=None, seed=0) -> dict:
    """Where a classifier looks: mean share of saliency / deep Taylor mass inside the heart.

    ``images`` are what the classifier sees (masked images for VGG+Mask); with a
    ``segmenter`` and the ``raw_images``, the chained VGG+Mask model's saliency on the raw
    image is measured too. ``heart_area`` (the heart's share of the image) is the chance
    level: the share of a uniform map.
    """
    masks = np.asarray(heart_masks) > 0
    out = {"heart_area": float(masks.mean()), "n_attention_images": int(len(masks))}
    maps = {"heart_share_saliency": explain.saliency(model, images, class_index=None),
            "heart_share_deep_taylor": explain.deep_taylor(model, images)}
    if segmenter is not None:
        chained = chain_mask_classifier(segmenter, model)
        maps["heart_share_saliency_end_to_end"] = explain.saliency(chained, raw_images,
                                                                   class_index=None)
    for key, heat in maps.items():  # a map with no mass (a non-positive logit) has no share
        share = mass_inside(heat, masks)
        out[key] = float(np.nanmean(share)) if np.isfinite(share).any() else math.nan
        out[f"{key}_n_empty"] = int(np.sum(~np.isfinite(share)))
    return out


def attention_hook(*, segmenter=None, raw_by_id=None, n_images=24, seed=0):
    """A ``cross_validate`` fold hook measuring :func:`heart_shares` on the fold's test images."""

    def hook(fold, model, fold_data, fold_dir):
        test = fold_data.splits["test"]
        rng = np.random.default_rng(seed + fold)
        pick = np.sort(rng.permutation(len(test))[:n_images])
        raw = None
        if segmenter is not None:
            raw = np.stack([raw_by_id[i] for i in test.image_id[pick]])
        return heart_shares(model, test.images[pick], test.heart_masks[pick],
                            segmenter=segmenter, raw_images=raw, seed=seed)

    return hook


def phantom_cohorts(*, n_patients, image_size, seed, segmentation_fraction=0.3):
    """The CHD phantom (frontal views) split by patient into a segmentation and a CV cohort."""
    arrays, names, _ = synthetic_arrays("chd", n_patients=n_patients, images_per_patient=1,
                                        image_size=image_size, seed=seed,
                                        options={"view": "frontal"})
    part = patient_split(arrays.patient_id, {"seg": segmentation_fraction,
                                             "cls": 1.0 - segmentation_fraction}, seed=seed)
    seg = arrays.subset(np.flatnonzero(part == "seg"))
    seg = SplitArrays(seg.images, seg.heart_masks.astype(np.float32), seg.patient_id,
                      seg.image_id, seg.heart_masks)
    return seg, arrays.subset(np.flatnonzero(part == "cls")), names


def train_segmenters(seg_cfgs: dict, seg_arrays, *, seed) -> dict:
    """Train each segmenter config on a patient-wise train/val/test split of ``seg_arrays``."""
    any_cfg = next(iter(seg_cfgs.values()))
    splits = split_arrays(seg_arrays, val_fraction=any_cfg.data.val_fraction,
                          test_fraction=any_cfg.data.test_fraction, seed=seed, task="segmentation")
    data = DataSplits(splits, ["heart"], "segmentation", "segmentation cohort")
    out = {}
    for name, cfg in seg_cfgs.items():
        print(f"\n=== segmentation: {name}")
        run = train(cfg, data=data)
        out[name] = {"run": run, "model": load_model(run.paths["model_h5"]), "metrics": run.metrics}
    return out, data


def _cell(v, digits=3):
    if isinstance(v, dict) and "mean" in v:
        m, var = v["mean"], v.get("var", math.nan)
        return f"{m:.{digits}f} (var {var:.2g})" if math.isfinite(var) else f"{m:.{digits}f}"
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _metric(summary, row, metric):
    return lookup_metric(summary, row, metric)[0]


def _rows(setting):
    if len(SETTINGS[setting]) == 2:
        return [("accuracy", "accuracy"), ("auroc", "auroc")]
    return [("overall", "accuracy")] + [(c, "accuracy") for c in SETTINGS[setting]]


def tables_markdown(results: dict, expected_csv=None, *, source_label="phantom") -> str:
    """The paper's tables (per setting: VGG and VGG+Mask, fold mean and variance) with ours."""
    expected = {}
    for e in read_expected(expected_csv) if expected_csv else []:
        expected[(e["table"], e["row"].lower(), e["metric"])] = e["paper"]
    lines = []
    for setting, by_model in results.items():
        lines += [f"### {setting} ({source_label}; {next(iter(by_model.values()))['folds']}-fold "
                  "CV by patient, mean (variance over folds))", ""]
        head = ["Row", "Metric"]
        for key, label in MODELS.items():
            if key in by_model:
                head += [f"Paper {label} ({s})" for s in PAPER_SOURCES] + [f"heartcv {label}"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row, metric in _rows(setting):
            cells = [row, metric]
            for key, label in MODELS.items():
                if key not in by_model:
                    continue
                paper_table = f"{label} Normal-{{}} vs {setting.split(' vs ', 1)[1]}"
                cells += [_cell(expected.get((paper_table.format(s), row.lower(), metric)))
                          for s in PAPER_SOURCES]
                cells.append(_cell(_metric(by_model[key], row, metric)))
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "Where the classifier looks (share of the map's mass inside the true heart "
                  "mask; chance = the heart's share of the image):", "",
                  "| Model | Saliency | Deep Taylor | Saliency of the end-to-end model on the raw "
                  "image | Heart area (chance) |", "|---|---|---|---|---|"]
        for key, label in MODELS.items():
            if key in by_model:
                s = by_model[key]
                lines.append(f"| {label} | " + " | ".join(_cell(s.get(k)) for k in SHARES)
                             + f" | {_cell(s.get('heart_area'))} |")
        lines.append("")
    return "\n".join(lines)


def _segmentation_figure(images, masks, segmenters: dict, path, n=4):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(n, len(images))
    preds = {k: np.asarray(m.predict(np.asarray(images[:n], np.float32), verbose=0))[..., 0]
             for k, m in segmenters.items()}
    cols = 2 + len(preds)
    fig, axes = plt.subplots(n, cols, figsize=(2.2 * cols, 2.2 * n), squeeze=False)
    for i in range(n):
        panels = [("image", images[i][..., 0], None), ("heart mask", masks[i], None)]
        panels += [(k, p[i], masks[i]) for k, p in preds.items()]
        for ax, (title, img, ref) in zip(axes[i], panels):
            ax.imshow(img, cmap="gray", vmin=0, vmax=255 if title == "image" else 1)
            if ref is not None:
                p, t = img > 0.5, ref > 0
                dice = 2 * (p & t).sum() / max(p.sum() + t.sum(), 1)
                title = f"{title}: Dice {dice:.3f}"
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return Path(path)


def _attention_figure(fold_dirs: dict, images, masked, path, n=4):
    """Saliency and deep Taylor overlays of VGG and VGG+Mask (the paper's Fig. 5/7)."""
    maps = {}
    for key, fold_dir in fold_dirs.items():
        model = load_model(Path(fold_dir) / "model.h5")
        x = masked[:n] if key == "vgg_mask" else images[:n]
        maps[f"{MODELS[key]} saliency"] = explain.saliency(model, x, class_index=None)
        maps[f"{MODELS[key]} deep Taylor"] = explain.deep_taylor(model, x)
    title = " and ".join(MODELS[k] for k in fold_dirs) + " (VGG16): saliency and deep Taylor"
    explain.save_overlay_grid(_rgb(images[:n]), maps, path, alpha=0.5, title=title)
    return Path(path)


FEATURE_LAYER = "block5_conv1"  # the layer whose outputs the paper shows (Fig. 5a / 6)


def _feature_figures(fold_dirs: dict, images, masked, figures_dir, setting_slug,
                     layer=FEATURE_LAYER, n=4) -> dict:
    """The paper's intermediate-output figure: ``layer``'s feature maps of each model.

    For every model of ``fold_dirs`` (its last fold's ``model.h5``), the outputs of the
    layer named ``layer`` (``block5_conv1``: in the full VGG16 the convolution, in the
    from-scratch ``batchnorm`` variant the ReLU after its BatchNorm, which carries VGG16's
    name) on the first test image, the most active channels first, up to 64 of them. The
    VGG+Mask classifier sees the masked image, as in training. Returns ``{key: path}``.
    """
    out = {}
    for key, fold_dir in fold_dirs.items():
        model = load_model(Path(fold_dir) / "model.h5")
        x = masked[:n] if key == "vgg_mask" else images[:n]
        feats = explain.layer_outputs(model, x, layer)[layer]
        path = Path(figures_dir) / f"{layer}_{setting_slug}_{key}.png"
        title = (f"{MODELS[key]}, {layer} ({feats.shape[1]}x{feats.shape[2]}x{feats.shape[3]}): "
                 f"test image 0 of the last fold, most active channels first")
        out[key] = explain.save_feature_grid(feats, path, max_channels=64, order="mean",
                                             title=title)
    return out


def results_numbers(result: dict) -> dict:
    """The flat ``results.json`` numbers of :func:`run_experiment`'s result.

    ``<setting>/<model>/<metric>`` with setting ``normal_vs_vsd`` / ``normal_vs_vsd_vs_asd``,
    model ``vgg16`` (VGG) / ``vgg16_mask`` (VGG+Mask), metric ``accuracy``, ``auroc`` (two
    classes), ``<class>_accuracy`` (three classes, one-vs-rest), the attention shares
    (:data:`SHARES`) and ``heart_area`` (their chance level), each the fold mean, with
    ``<metric>_var`` its variance over folds; then ``<segmenter>/dice`` / ``iou`` (mean over
    held-out images) and ``<segmenter>/dice_sd``.
    """
    keys = {"vgg": "vgg16", "vgg_mask": "vgg16_mask"}
    out = {}
    for setting, by_model in result.get("cv", {}).items():
        slug = setting.lower().replace(" ", "_")
        for key, summary in by_model.items():
            for row, metric in _rows(setting) + [(k, k) for k in (*SHARES, "heart_area")]:
                v = _metric(summary, row, metric) if row not in (*SHARES, "heart_area") \
                    else summary.get(row)
                name = metric if row in ("accuracy", "auroc", "overall") or row == metric \
                    else f"{row.lower()}_{metric}"
                if isinstance(v, dict) and "mean" in v:
                    for suffix, x in (("", v["mean"]), ("_var", v.get("var"))):
                        if isinstance(x, (int, float)) and math.isfinite(x):
                            out[f"{slug}/{keys[key]}/{name}{suffix}"] = float(x)
    for name, m in result.get("segmentation", {}).items():
        for metric in ("dice", "iou"):
            if isinstance(m.get(metric), dict) and math.isfinite(m[metric].get("mean", math.nan)):
                out[f"{name}/{metric}"] = float(m[metric]["mean"])
        if math.isfinite(m.get("dice", {}).get("sd", math.nan)):
            out[f"{name}/dice_sd"] = float(m["dice"]["sd"])
    return out


def run_experiment(cls_cfg, seg_cfgs: dict, *, cohorts, out_dir, settings=tuple(SETTINGS),
                   models=tuple(MODELS), mask_with="vgg16_unet", expected_csv=None,
                   n_attention_images=24, source_label="phantom") -> dict:
    """Segmenters, then k-fold CV of VGG and VGG+Mask per setting; tables and figures.

    Args:
        cls_cfg: the classifier's run config (``train.folds`` is k; ``model.name`` the VGG).
        seg_cfgs: ``{segmenter name: run config}`` (e.g. ``unet``, ``vgg16_unet``).
        cohorts: ``(segmentation SplitArrays (targets = heart masks), classification
            SplitArrays (one-hot targets, heart_masks), class_names)``, patient-disjoint.
        out_dir: where everything goes.
        settings: keys of :data:`SETTINGS`.
        models: keys of :data:`MODELS`.
        mask_with: the segmenter whose masks make the VGG+Mask images.
        expected_csv: the paper's numbers.
        n_attention_images: test images per fold whose attention is measured.

    Returns:
        ``{"segmentation": {name: metrics}, "cv": {setting: {model: summary}}, "paths": {...}}``.
    """
    seg_arrays, cls_arrays, class_names = cohorts
    assert_disjoint(np.concatenate([seg_arrays.patient_id, cls_arrays.patient_id]),
                    np.array(["segmentation"] * len(seg_arrays) + ["classification"] * len(cls_arrays)))
    out_dir = Path(out_dir)
    seed = cls_cfg.train.seed
    paths = {}
    need_mask = "vgg_mask" in models
    segs, seg_data = train_segmenters(seg_cfgs, seg_arrays, seed=seed) if seg_cfgs else ({}, None)
    if need_mask and mask_with not in segs:
        raise ValueError(f"VGG+Mask needs the segmenter {mask_with!r}; trained: {sorted(segs)}. "
                         f"Received: mask_with={mask_with!r}")
    if segs:
        test = seg_data.splits["test"]
        paths["segmentation_figure"] = _segmentation_figure(
            test.images, test.targets, {k: v["model"] for k, v in segs.items()},
            out_dir / "figures" / "segmentation.png")
    heart_source = "true heart masks"
    if cls_arrays.heart_masks is None:  # a real bundle without traces: the segmenter's heart
        if not segs:
            raise ValueError("No heart masks for the classification images and no segmenter "
                             "to predict them: attention shares cannot be measured.")
        name = mask_with if mask_with in segs else next(iter(segs))
        probs = segs[name]["model"].predict(cls_arrays.images.astype(np.float32), verbose=0)
        cls_arrays = cls_arrays.subset(np.arange(len(cls_arrays)))
        cls_arrays.heart_masks = (probs[..., 0] > 0.5).astype(np.uint8)
        heart_source = f"hearts predicted by {name}"
    inputs = {"vgg": cls_arrays}  # what each model classifies
    if need_mask:
        print(f"\n=== masking {len(cls_arrays)} images with {mask_with}")
        inputs["vgg_mask"] = cls_arrays.subset(np.arange(len(cls_arrays)))
        inputs["vgg_mask"].images = mask_images(segs[mask_with]["model"], cls_arrays.images)
    raw_by_id = dict(zip(cls_arrays.image_id, cls_arrays.images))
    cv = {}
    for setting in settings:
        # the same rows, in the same order, for every model (so the folds are the same)
        rows = {key: setting_arrays(inputs[key], class_names, SETTINGS[setting])
                for key in {"vgg", *models}}
        arrays, names, task = rows["vgg"]
        cv[setting] = {}
        fold_dirs = {}
        for key in models:
            a = rows[key][0]
            slug = f"{setting.lower().replace(' ', '_')}/{key}"
            cfg = replace(cls_cfg, name=f"{out_dir.name}/{slug}", output_dir=str(out_dir.parent),
                          table=f"{MODELS[key]} {setting}")
            run_dir = cfg.run_dir
            run_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, run_dir / "config.yaml")
            print(f"\n=== {MODELS[key]} {setting}: {cfg.train.folds}-fold CV, {len(a)} images")
            hook = attention_hook(segmenter=segs[mask_with]["model"] if key == "vgg_mask" else None,
                                  raw_by_id=raw_by_id, n_images=n_attention_images, seed=seed)
            data = DataSplits({"train": a}, names, task, f"{source_label}: {setting}")
            res = cross_validate(cfg, data, run_dir, fold_hook=hook)
            cv[setting][key] = res.metrics
            fold_dirs[key] = run_dir / f"fold{cfg.train.folds}"
        if fold_dirs:  # the last fold's test images, for the saliency / deep Taylor figure
            shown = np.load(next(iter(fold_dirs.values())) / "test_predictions.npz")["image_id"]
            idx = np.flatnonzero(np.isin(arrays.image_id, shown))
            masked = rows["vgg_mask"][0].images[idx] if need_mask else None
            name = setting.lower().replace(" ", "_")
            paths[f"attention_{name}"] = _attention_figure(
                fold_dirs, arrays.images[idx], masked, out_dir / "figures" / f"attention_{name}.png")
            for key, path in _feature_figures(fold_dirs, arrays.images[idx], masked,
                                              out_dir / "figures", name).items():
                paths[f"{FEATURE_LAYER}_{name}_{key}"] = path
    md = tables_markdown(cv, expected_csv, source_label=source_label)
    seg_lines = ["| Segmenter | Dice | IoU | Test images |", "|---|---|---|---|"]
    for name, s in segs.items():
        m = s["metrics"]
        seg_lines.append(f"| {name} | {m['dice']['mean']:.3f} ± {m['dice']['sd']:.3f} | "
                         f"{m['iou']['mean']:.3f} ± {m['iou']['sd']:.3f} | {m['n_samples']} |")
    text = ["# CHD chest X-rays: VGG vs VGG+Mask", "",
            "## Heart segmentation (held-out patients of the segmentation cohort)", "",
            *seg_lines, "", "## Classification", "",
            f"Attention shares are measured against {heart_source}.", "", md]
    paths["tables_md"] = atomic_write_text(out_dir / "tables.md", "\n".join(text) + "\n")
    result = {"segmentation": {k: v["metrics"] for k, v in segs.items()}, "cv": cv,
              "heart_masks": heart_source}
    paths["tables_json"] = atomic_write_json(out_dir / "tables.json", result)
    return {**result, "paths": paths}


def _resized(arrays, size):
    if arrays.images.shape[1] == size:
        return arrays
    images = np.stack([resize_image(im, size) for im in arrays.images])
    images = images.reshape(len(images), size, size, -1)
    out = arrays.subset(np.arange(len(arrays)))
    out.images = images
    if arrays.heart_masks is not None:
        out.heart_masks = np.stack([resize_mask(m, size) for m in arrays.heart_masks])
    if arrays.targets.ndim == 3:  # segmentation targets are masks
        out.targets = np.stack([resize_mask(m, size) for m in arrays.targets]).astype(np.float32)
    return out


def bundle_cohorts(data, masks, *, image_size):
    """Cohorts from two ``heartcv prep chd`` bundles: labelled images and traced heart masks.

    The segmenters train on the traced bundle (``--masks``); the classification cohort is
    every labelled image of a patient with no traced image, so the two are patient-disjoint
    (checked). Images are resized to ``image_size``. The heart masks used to measure where
    the classifier looks are the classification bundle's own masks when it has them, else
    none (the attention shares are then measured against the segmenter's predicted heart,
    see :func:`run_experiment`).
    """
    _, seg, _, seg_task = bundle_arrays(Path(masks))
    if seg_task != "segmentation":
        raise ValueError(f"{masks}: expected a segmentation bundle (heartcv prep chd --masks DIR). "
                         f"Received: task={seg_task!r}")
    _, cls, names, task = bundle_arrays(Path(data))
    if task != "multiclass":
        raise ValueError(f"{data}: expected a multiclass CHD bundle (heartcv prep chd). "
                         f"Received: task={task!r}")
    traced = set(seg.patient_id)
    keep = np.flatnonzero(~np.isin(cls.patient_id, list(traced)))
    if not len(keep):
        raise ValueError(f"{data}: every patient has a traced image in {masks}; nothing is left "
                         "for patient-disjoint classification.")
    seg = SplitArrays(seg.images, seg.targets, seg.patient_id, seg.image_id, seg.targets)
    return _resized(seg, image_size), _resized(cls.subset(keep), image_size), names

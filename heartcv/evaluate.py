"""Evaluation: classification reports, ROC/AUROC with bootstrap CIs, AUROC comparison, figures.

Everything here but :func:`predict_bundle` / :func:`evaluate_bundle` is pure
numpy/scipy/scikit-learn/matplotlib (no Keras): it takes labels and scores (model
probabilities) and returns JSON-serialisable dicts of plain floats and lists, with NaN (and a
line in ``notes``) wherever a number is undefined. The implementation lives in
:mod:`heartcv.evaluation`; this module is the public import path.

:func:`evaluate_bundle` scores a trained classifier on one split of a bundle at a stated image
size, streaming the images from disk in chunks: ``image_size="full"`` runs a fully
convolutional model at the bundle's own side, e.g. the 1024-px test bundle of
``heartcv prep cxr14 --size 1024 --splits test`` (Cardio-XAttentionNet tests at full
resolution); ``heartcv evaluate MODEL --data BUNDLE --image-size full`` is the same from the
command line. Every result says the size it was measured at (``image_size``,
``image_size_mode``, and the table caption).

Typical use, with the threshold chosen on validation data and applied to the test split::

    from heartcv import evaluate as ev

    t = ev.choose_threshold(y_val, p_val, method="youden")
    res = ev.classification_report(y_test, p_test, task="binary",
                                   class_names=["Non-Cardio", "Cardio"], threshold=t,
                                   threshold_source="validation:youden", prevalence=0.027)
    cmp = ev.delong_test(y_test, p_test_amm, p_test_gap, names=("AMM", "GAP"))

References:
    DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more correlated
    receiver operating characteristic curves: a nonparametric approach. *Biometrics*
    1988;44(3):837-845.
    Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas under
    correlated receiver operating characteristic curves. *IEEE Signal Processing Letters*
    2014;21(11):1389-1393.
    Efron B, Tibshirani RJ. *An Introduction to the Bootstrap*. Chapman & Hall, 1993.
    Youden WJ. Index for rating diagnostic tests. *Cancer* 1950;3(1):32-35.
"""

from pathlib import Path

import numpy as np

import heartcv.io
from heartcv import report
from heartcv.classes import align_targets, check_class_names
from heartcv.data.bundle import open_bundle
from heartcv.data.batches import make_dataset
from heartcv.evaluation._common import TASKS
from heartcv.evaluation.classification import classification_report, multilabel_accuracy
from heartcv.evaluation.delong import (
    delong_covariance,
    delong_roc_variance,
    delong_test,
    paired_bootstrap_test,
)
from heartcv.evaluation.plots import plot_confusion_matrix, plot_roc
from heartcv.evaluation.roc import auroc, roc_analysis
from heartcv.evaluation.thresholds import choose_threshold, ppv_npv_at_prevalence
from heartcv.predict import FULL, check_image_size, read_card, resolve_input_size
from heartcv.tasks import get_task

__all__ = [
    "TASKS",
    "auroc",
    "check_task",
    "choose_threshold",
    "classification_report",
    "delong_covariance",
    "delong_roc_variance",
    "delong_test",
    "evaluate_bundle",
    "multilabel_accuracy",
    "paired_bootstrap_test",
    "plot_confusion_matrix",
    "plot_roc",
    "ppv_npv_at_prevalence",
    "predict_bundle",
    "roc_analysis",
    "size_label",
]


# ------------------------------------------------------------------ trained models on bundles

#: images read from the bundle at a time (1024-px grey: 64 MB)
CHUNK = 64


def size_label(hw, mode, source_size=None) -> str:
    """How tables name the size a model was tested at.

    ``mode`` ``"full"`` → ``"full size, 1024 px"``; ``"bundle"`` (the bundle's own side,
    smaller than the images it was made from) → ``"320 px (bundle side; source images 1024
    px)"``; ``"resized"`` → ``"224 px"`` (``"320x256 px"`` when not square).
    """
    h, w = (int(hw), int(hw)) if isinstance(hw, (int, np.integer)) else (int(hw[0]), int(hw[1]))
    px = f"{h} px" if h == w else f"{h}x{w} px"
    if mode == "full":
        return f"full size, {px}"
    if mode == "bundle":
        return f"{px} (bundle side; source images {source_size} px)"
    return px


def _model_task(model_path) -> str:
    """The task of a saved model: its card's ``task``, else ``"segmentation"`` for a model
    whose output is a map ((N, H, W, C)) and ``"classification"`` otherwise."""
    task = read_card(model_path).get("task")
    if isinstance(task, str) and task in (*TASKS, "segmentation"):
        return task
    shape = heartcv.io.load_model(model_path).output_shape
    return "segmentation" if len(shape) == 4 else "classification"


def check_task(model_path, bundle_path, *, shifts=False) -> str:
    """Refuse, before any image is read or predicted, a model of the wrong task for a bundle
    and ``shifts`` (the acquisition-shift suite) on classification; returns the bundle's task.

    Raises:
        ValueError: one line naming the model, the bundle and both tasks, e.g. ``Expected a
            segmentation model for the segmentation bundle b.h5. Received: m.h5, a binary
            model``.
    """
    with open_bundle(bundle_path) as b:
        task = b.task
    model_task = _model_task(model_path)
    seg_model, seg_data = model_task == "segmentation", task == "segmentation"
    if seg_model != seg_data:
        want = "segmentation" if seg_data else "classification"
        raise ValueError(f"Expected a {want} model for the {task} bundle {bundle_path}. "
                         f"Received: {model_path}, a {model_task} model")
    if shifts and not seg_data:
        raise ValueError(f"--shifts is implemented for segmentation models and bundles; "
                         f"{bundle_path} is a {task} bundle. Received: --shifts with "
                         f"{model_path}, a {model_task} model")
    return task


def _model_and_card(model):

    if isinstance(model, (str, Path)):
        card = read_card(model)  # a broken card fails before the (slow) model load
        return heartcv.io.load_model(model), card, Path(model).name, str(model)
    if not hasattr(model, "predict") or not hasattr(model, "input_shape"):
        raise TypeError(f"Expected `model` as a Keras model or a model file path. "
                        f"Received: {type(model).__name__}")
    name = getattr(model, "name", "model")
    return model, {}, name, name


def _size_mode(b, idx, native, hw):
    """``(source side, size mode)`` of a bundle split predicted at ``hw`` (see
    :func:`predict_bundle`)."""
    src = None  # the side of the images the bundle was made from (meta/src_*), median
    if {"src_height", "src_width"} <= set(b.meta_names):
        sides = np.maximum(np.asarray(b.meta("src_height"), float)[idx],
                           np.asarray(b.meta("src_width"), float)[idx])
        src = int(np.median(sides)) if np.isfinite(sides).all() else None
    if hw != native:
        return src, "resized"
    # the bundle's own size: "full" unless it was made smaller than its images
    return src, "bundle" if src is not None and max(native) < src else "full"


def _model_targets(b, idx, names, columns, card):
    """``(targets, class names)`` of a bundle split in the model's column order (``columns``
    from :func:`heartcv.classes.check_class_names`, or None), a binary bundle's negative class
    named (its ``negative_class`` attribute, else ``"not <positive>"``)."""
    task = get_task(b.task)
    targets = np.asarray(b.labels, np.float32)[idx]
    if columns is not None and task.name != "binary":  # the model's columns, by name
        targets = align_targets(targets, columns, len(card["class_names"]))
        names = [str(n) for n in card["class_names"]]
    return targets, task.class_names(names, b.attrs.get("negative_class"))


def predict_bundle(model, bundle_path, split="test", image_size=FULL, *, batch_size=4,
                   chunk=CHUNK, class_map=None) -> dict:
    """A classifier's probabilities on one split of a bundle, at a stated size.

    Args:
        model: a Keras model, or a ``.h5`` / ``.keras`` path (its model card, when present,
            gives the size for ``image_size=None``).
        bundle_path: a classification bundle (binary, multiclass or multilabel).
        split: ``"train"``, ``"val"`` or ``"test"``.
        image_size: ``"full"`` (the bundle's own side; fully convolutional models only), an
            int ``N`` (resized to N x N) or ``None`` (the card's input size, else the model's,
            else the bundle's).
        batch_size: images per forward pass (full-size 1024-px images: keep it small).
        chunk: images read from disk at a time (the split is never loaded whole).
        class_map: ``{bundle class: model class}`` (:func:`heartcv.classes.parse_class_map`).
            A model whose card names its classes is refused a bundle with other class names
            unless this maps them (:func:`heartcv.classes.check_class_names`); the targets
            and ``class_names`` returned are then in the model's column order.

    Returns:
        ``{"scores" (N, K) float32, "targets" (N, K) float32, "image_id", "patient_id",
        "class_names", "task", "image_size" (h, w), "image_size_mode" (``"full"``: the
        bundle's side, as large as its source images; ``"bundle"``: the bundle's side, smaller
        than the source images of ``meta/src_height``/``src_width``; ``"resized"``),
        "source_image_size" (the median source side, or None), "image_size_source",
        "model" (its path, or the model's name),
        "data_source", "split"}``.

    Raises:
        ValueError: a segmentation bundle, an unknown split, an empty split, a size the
            model cannot take (``"full"`` for a model with a fixed input size), or class
            names that differ from the model's (one line naming both lists).
    """
    image_size = check_image_size(image_size)
    model, card, name, where = _model_and_card(model)
    channels = model.input_shape[-1] or 3
    with open_bundle(bundle_path) as b:
        if b.task == "segmentation":
            raise ValueError(f"{bundle_path}: a segmentation bundle; evaluate_bundle scores "
                             f"classifiers (use `heartcv evaluate` for segmenters). "
                             f"Received: task={b.task!r}")
        names = [str(n) for n in b.class_names]
        columns = None
        if card.get("class_names"):  # before any image is read or predicted
            columns = check_class_names(card["class_names"], names, class_map,
                                        model=where, data=str(bundle_path))
        elif class_map:
            raise ValueError(f"{where}: its card names no classes, so `--class-map` cannot be "
                             f"applied. Received: {class_map}")
        splits = sorted({str(x) for x in b.split} - {""})
        idx = np.flatnonzero(np.asarray(b.split).astype(str) == split)
        if split not in splits or not len(idx):
            raise ValueError(f"{bundle_path}: no split {split!r}; it has {splits}. "
                             f"Received: split={split!r}")
        native = tuple(int(v) for v in b.images.shape[1:3])
        hw, source = resolve_input_size(model.input_shape, card, native, image_size,
                                        model_name=name)
        size = None if hw == native else hw
        parts = []
        for start in range(0, len(idx), int(chunk)):
            rows = idx[start:start + int(chunk)]
            images = b.images[rows[0]:rows[-1] + 1][rows - rows[0]]  # one contiguous read
            ds = make_dataset(images, None, batch_size=int(batch_size), image_size=size,
                              channels=channels, cache=False)
            parts.append(np.asarray(model.predict(ds, verbose=0), np.float32))
        src, mode = _size_mode(b, idx, native, hw)
        targets, names = _model_targets(b, idx, names, columns, card)
        out = {"scores": np.concatenate(parts).reshape(len(idx), -1), "targets": targets,
               "image_id": np.asarray(b.image_id).astype(str)[idx],
               "patient_id": np.asarray(b.patient_id).astype(str)[idx], "class_names": names,
               "task": b.task, "image_size": hw,
               "image_size_mode": mode, "source_image_size": src, "image_size_source": source,
               "model": where, "data_source": str(bundle_path),
               "split": split}
    return out


def evaluate_bundle(model, bundle_path, split="test", image_size=FULL, *, threshold=0.5,
                    threshold_source="caller", prevalence=None, batch_size=4, curves=True,
                    out_dir=None, table=None, class_map=None) -> dict:
    """Evaluate a trained classifier on one split of a bundle at a stated image size.

    ``evaluate_bundle(model, "cxr14_test_1024.h5", image_size="full")`` is the
    Cardio-XAttentionNet protocol: trained at a small size, tested on the full-resolution
    images (a fully convolutional model, input ``(None, None, C)``). Predictions come from
    :func:`predict_bundle`; the metrics from :func:`classification_report` (bootstrap CIs,
    ROC curves; binary and multilabel at ``threshold``, multiclass by arg-max).

    Args:
        model, bundle_path, split, image_size, batch_size, class_map: see
            :func:`predict_bundle`.
        threshold: the decision threshold, chosen on validation data (never on test).
        threshold_source: where it came from (e.g. ``"validation:youden"``), recorded.
        prevalence: also report PPV/NPV at this prevalence.
        curves: keep the ROC curves in the result.
        out_dir: when given, also write ``metrics.json`` / ``.csv`` / ``report.md`` (caption:
            ``table``, default ``"<model> on <split> at <size>"``) and figures there.

    Returns:
        The classification report plus ``image_size`` (the side, or [h, w]),
        ``image_size_mode`` and ``source_image_size`` (see :func:`predict_bundle`),
        ``image_size_label`` (:func:`size_label`, e.g. ``"full size, 1024 px"`` or ``"320 px
        (bundle side; source images 1024 px)"``: what a table should say),
        ``image_size_source``, ``model``, ``data_source``, ``split``.
    """
    p = predict_bundle(model, bundle_path, split, image_size, batch_size=batch_size,
                       class_map=class_map)
    results = get_task(p["task"]).report(
        p["targets"], p["scores"], p["class_names"], threshold=threshold,
        threshold_source=threshold_source, prevalence=prevalence, curves=curves)
    h, w = p["image_size"]
    results.update({"image_size": h if h == w else [h, w], "image_size_mode": p["image_size_mode"],
                    "image_size_label": size_label(p["image_size"], p["image_size_mode"],
                                                   p["source_image_size"]),
                    "source_image_size": p["source_image_size"],
                    "image_size_source": p["image_size_source"], "model": p["model"],
                    "data_source": p["data_source"], "split": split})
    if class_map:
        results["class_map"] = dict(class_map)
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        report.write_report(results, out_dir, table=table or
                            f"{Path(p['model']).name} on {split} at {results['image_size_label']}")
    return results

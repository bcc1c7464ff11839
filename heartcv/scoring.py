"""Scoring trained models: a run's test split (threshold chosen on validation) and a saved
model on one split of a bundle; both write metrics.json/.csv/.md through
:func:`heartcv.report.write_report`. What differs by task comes from :mod:`heartcv.tasks`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import heartcv.io
from heartcv import report
from heartcv.classes import align_targets, check_class_names
from heartcv.config import RunConfig
from heartcv.data.bundle import open_bundle
from heartcv.data.batches import make_dataset
from heartcv.data.sources import bundle_arrays
from heartcv.evaluation.segmentation import shift_report, shift_table
from heartcv.files import atomic_path
from heartcv.predict import FULL, read_card, resolve_input_size
from heartcv.tasks import get_task

__all__ = ["evaluate_run", "evaluate_saved_model", "predict_split", "segmentation_scores"]


def predict_split(model, data, split, cfg: RunConfig) -> np.ndarray:
    """Predictions on one split, at ``eval.image_size`` when set (else the training size)."""
    d = cfg.data
    size = cfg.eval.image_size or d.image_size
    ds = data.dataset(split, batch_size=d.batch_size, image_size=size, channels=d.channels,
                      cache=False)
    if hasattr(ds, "map"):  # tf.data; a PyDataset (other backends) gives predict (x, y) as is
        ds = ds.map(lambda x, y: x)
    return np.asarray(model.predict(ds, verbose=0), dtype=np.float32)


def segmentation_scores(masks_true: np.ndarray, probs: np.ndarray, threshold=0.5, *,
                        structures=None, ref_ctr=None) -> dict:
    """Per-image, per-structure Dice and IoU of thresholded masks, and the CTR where heart and
    both lungs are segmented (:func:`heartcv.evaluation.segmentation.segmentation_report`)."""
    return get_task("segmentation").report(masks_true, probs, structures, threshold=threshold,
                                           ref_ctr=ref_ctr)


def _run_threshold(model, data, cfg: RunConfig):
    """``(threshold, source)`` of a run's classifier: ``eval.fixed_threshold``, or chosen on
    the validation split by ``eval.threshold``; ``(None, None)`` for argmax tasks."""
    task, e = get_task(data.task), cfg.eval
    if not task.thresholded:
        return None, None
    if e.threshold == "fixed" or "val" not in data.splits:
        return e.fixed_threshold, "fixed"
    val_probs = predict_split(model, data, "val", cfg)
    return task.validation_threshold(data.splits["val"].targets, val_probs, e.threshold)


def evaluate_run(model, data, cfg: RunConfig, out_dir: Path) -> dict:
    """Evaluate on the test split (threshold chosen on validation), write report + figures."""
    e = cfg.eval
    task = get_task(data.task)
    test = data.splits["test"]
    probs = predict_split(model, data, "test", cfg)
    if task.segmentation:
        results = task.report(test.targets, probs, data.class_names, ref_ctr=test.ctr)
        results["class_names"] = data.class_names
    else:
        threshold, source = _run_threshold(model, data, cfg)
        results = task.report(
            test.targets, probs, data.class_names, threshold=threshold, threshold_source=source,
            prevalence=e.prevalence if task.reports_prevalence else None,
            n_boot=e.bootstrap, ci=e.ci, seed=cfg.train.seed, curves=True)
        results["scores_file"] = "test_predictions.npz"
        with atomic_path(out_dir / "test_predictions.npz") as tmp:
            np.savez_compressed(tmp, y_true=test.targets, y_score=probs,
                                image_id=test.image_id, patient_id=test.patient_id)
    results["model"] = cfg.model.name
    results["data_source"] = data.source
    results["split_sizes"] = {k: len(v) for k, v in data.splits.items()}
    results["patients"] = {k: int(len(np.unique(v.patient_id))) for k, v in data.splits.items()}
    report.write_report(results, out_dir, table=cfg.table or f"{cfg.model.name} on {data.source}")
    return results


def _saved_model_predictor(model, size, channels):
    """``predict(images)`` of a saved model at ``size`` (None: each image at its own size)."""

    def predict(images):
        if size is None:  # full size: one image at a time (sizes may differ)
            return np.concatenate([np.asarray(model.predict(
                make_dataset(im[None], None, batch_size=1, image_size=im.shape[:2],
                             channels=channels), verbose=0), np.float32) for im in images])
        # every batch exactly 16 images (the last padded by repeating the final image), so the
        # one predict function is traced once per input size, not again for a partial batch
        n = len(images)
        pad = -n % 16
        if pad:
            images = np.concatenate([images, np.repeat(images[-1:], pad, axis=0)])
        ds = make_dataset(images, None, batch_size=16, image_size=size, channels=channels)
        return np.asarray(model.predict(ds, verbose=0), np.float32)[:n]

    return predict


def _classifier_scores(task, s, probs, names, card, *, class_map, model_path, bundle,
                       threshold, prevalence) -> dict:
    """A saved classifier's report on split ``s``, its targets in the model's column order."""
    targets = s.targets
    if card.get("class_names"):
        cols = check_class_names(card["class_names"], names, class_map,
                                 model=str(model_path), data=str(bundle))
        if task.name != "binary":  # the model's columns, by name
            targets = align_targets(targets, cols, probs.shape[-1])
            names = [str(n) for n in card["class_names"]]
    return task.report(targets, probs, names, threshold=threshold, threshold_source="caller",
                       prevalence=prevalence, curves=True)


def evaluate_saved_model(model_path, bundle, *, split="test", out_dir=None, threshold=0.5,
                         prevalence=None, image_size=None, shifts=False, class_map=None) -> Path:
    """Evaluate a saved model on one split of a bundle (e.g. another hospital's images made
    with ``heartcv prep masks``); writes metrics.json/.csv/.md to ``out_dir``.

    Images are resized to the model card's ``input_size`` unless ``image_size`` says
    otherwise. Segmentation models are scored per structure (the card's structures, looked
    up by name in the bundle's ``mask_names``: the structures both have are scored, the
    others listed in ``unscored_structures``) and, with heart and both lungs, on the CTR
    against the bundle's ``meta/ctr`` or its masks (``"ctr": {"measured": false, "reason"}``
    when the bundle lacks one of them). ``shifts=True`` re-runs the evaluation under the
    fixed, seeded acquisition shifts of :mod:`heartcv.evaluation.shifts` (``metrics.json`` →
    ``shifts``). A classifier whose card names its classes is refused a bundle with other
    class names unless ``class_map`` (``{bundle class: model class}``) maps them
    (:func:`heartcv.classes.check_class_names`).

    Raises:
        ValueError: the bundle has a mask for none of the model's structures (one line with
            both lists), or no split ``split``.
    """
    card = read_card(model_path)
    model = heartcv.io.load_model(model_path)  # looked up on the module: tests wrap it
    channels = model.input_shape[-1] or 3
    structures = _structures_to_score(card, model.output_shape[-1], bundle, model_path)
    splits, full, names, task = bundle_arrays(Path(bundle), mask_structures=structures,
                                              allow_missing=True)
    if split not in splits:
        raise ValueError(f"{bundle}: no split {split!r}; it has {sorted(splits)}. Received: split={split!r}")
    s = splits[split]
    task = get_task(task)
    hw, size_source = resolve_input_size(model.input_shape, card, s.images.shape[1:3],
                                         image_size, model_name=Path(model_path).name)
    size = None if image_size == FULL else hw
    predict = _saved_model_predictor(model, size, channels)
    probs = predict(s.images)
    out_dir = Path(out_dir) if out_dir else Path(model_path).parent / f"eval_{split}"
    out_dir.mkdir(parents=True, exist_ok=True)
    if task.segmentation:
        results = task.report(s.targets, probs, names, ref_ctr=s.ctr, threshold=threshold)
        if shifts:
            results["shifts"] = shift_report(s.images, predict, s.targets, names,
                                             ref_ctr=s.ctr, threshold=threshold)
            results["shift_table"] = shift_table(results["shifts"])
    else:
        if shifts:
            raise ValueError("--shifts is implemented for segmentation models")
        results = _classifier_scores(task, s, probs, names, card, class_map=class_map,
                                     model_path=model_path, bundle=bundle,
                                     threshold=threshold, prevalence=prevalence)
    results["model"] = str(model_path)
    results["data_source"] = str(bundle)
    results["image_size"] = "full" if size is None else (size[0] if size[0] == size[1] else list(size))
    results["image_size_source"] = size_source
    report.write_report(results, out_dir, table=f"{Path(model_path).name} on {split}")
    return out_dir


def _structures_to_score(card: dict, out_channels: int, bundle, model_path):
    """The model's output channel names (its card's ``class_names``) to look up in the bundle.

    None (the bundle's first structure, as before names were matched) without a segmentation
    card naming every output channel, and for a one-channel model on a bundle whose masks
    carry no names.

    Raises:
        ValueError: the bundle names its masks and none is a structure of the model.
    """
    names = [str(n) for n in card.get("class_names") or []]
    if card.get("task") != "segmentation" or len(names) != out_channels:
        return None
    with open_bundle(bundle) as b:
        if b.task != "segmentation":
            return None
        have = list(b.mask_names or [])
    if not have:
        return None if out_channels == 1 else names
    if not set(names) & set(have):
        raise ValueError(f"{bundle}: no mask for any structure of the model "
                         f"{Path(model_path).name}: the model segments {names}, the bundle "
                         f"has masks {have}")
    return names

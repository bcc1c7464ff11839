"""The task table: one object per task (binary, multiclass, multilabel, segmentation).

A task owns what depends on it: the loss ``train.loss: auto`` picks, the metrics Keras
logs (the ``history.csv`` columns), class weighting, the decision rule (a threshold for
binary and multilabel outputs, the argmax for multiclass ones), evaluation and the names of
its classes. :mod:`heartcv.train`, :mod:`heartcv.evaluate` and :mod:`heartcv.predict` ask
:func:`get_task` instead of branching on the task's name (KerasHub: behaviour that depends
on the task lives on the task object).
"""

from __future__ import annotations

import keras
import numpy as np

from heartcv.classes import binary_class_names, negative_class_name
from heartcv.config import ConfigError
from heartcv.data.batches import class_weights, label_frequencies
from heartcv.data.sources import stratify_labels
from heartcv.evaluation.classification import classification_report
from heartcv.evaluation.segmentation import segmentation_report
from heartcv.evaluation.thresholds import choose_threshold
from heartcv.losses import BCEDiceLoss, DiceLoss, WeightedBinaryCrossentropy
from heartcv.metrics import DiceCoefficient, MaskIoU
from heartcv.registry import did_you_mean

__all__ = ["CLASSIFICATION_TASKS", "TASKS", "Task", "get_task"]


def _losses() -> dict:
    return {"binary_crossentropy": keras.losses.BinaryCrossentropy(),
            "categorical_crossentropy": keras.losses.CategoricalCrossentropy(),
            "dice": DiceLoss(), "bce_dice": BCEDiceLoss()}


class Task:
    """What a task does; the subclasses below override what differs."""

    name = ""
    default_loss = ""
    single_label = False  # one class per image: class weights allowed, NaN labels refused
    thresholded = False  # calls by threshold (else argmax, or masks for segmentation)
    segmentation = False
    reports_prevalence = False  # PPV/NPV at a stated prevalence (binary only)

    def __repr__(self) -> str:
        return f"Task({self.name!r})"

    # ---------------------------------------------------------------- training

    def loss(self, name, train_targets):
        """The loss ``train.loss`` names (``auto``: the task's own), weights from
        ``train_targets`` (the training split only) for ``weighted_bce``."""
        name = self.default_loss if name == "auto" else name
        if name == "weighted_bce":
            freq = label_frequencies(train_targets)
            return WeightedBinaryCrossentropy.from_frequencies(
                np.asarray(freq["positive"]).tolist())
        return _losses()[name]

    def metrics(self, train_targets, num_outputs) -> list:
        """The compiled metrics (their names are the ``history.csv`` columns)."""
        raise NotImplementedError

    def class_weight(self, train_targets):
        """``train.class_weight: balanced`` from the training split."""
        raise ConfigError("train.class_weight is for single-label tasks (Keras argmaxes it); "
                          "multilabel training uses train.loss=weighted_bce.")

    def stratify(self, targets):
        """Per-sample class ints for stratified patient folds, or None."""
        return stratify_labels(targets, self.name)

    # ---------------------------------------------------------------- classes and calls

    def class_names(self, names, negative=None) -> list:
        """The names reports give the model's outputs."""
        return list(names)

    def y_true(self, targets):
        """The targets as :func:`heartcv.evaluation.classification_report` takes them."""
        return targets

    def decision_threshold(self, threshold):
        """The threshold a report uses (None: argmax)."""
        return threshold

    def validation_threshold(self, y_val, val_probs, method):
        """``(threshold, source)`` chosen on validation predictions."""
        return None, None

    def call(self, probs, names, thresholds, negative=None):
        """``(call, threshold text)`` of one image's probabilities (``predictions.csv``)."""
        raise NotImplementedError

    def describe(self, thresholds, source) -> str:
        """The decision rule in one line."""
        ts = ", ".join(f"{t:g}" for t in sorted(set(thresholds)))
        where = "the card" if source == "card" else "default; the card has no threshold"
        return f"call: probability >= {ts} ({where})"

    # ---------------------------------------------------------------- evaluation

    def report(self, targets, probs, names, *, threshold=None, threshold_source=None,
               prevalence=None, **kwargs) -> dict:
        """The classification report of ``probs`` against ``targets``."""
        return classification_report(
            self.y_true(targets), probs, task=self.name, class_names=self.class_names(names),
            threshold=self.decision_threshold(threshold), threshold_source=threshold_source,
            prevalence=prevalence, **kwargs)


class BinaryTask(Task):
    name = "binary"
    default_loss = "binary_crossentropy"
    single_label = True
    thresholded = True
    reports_prevalence = True

    def metrics(self, train_targets, num_outputs) -> list:
        return [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]

    def class_weight(self, train_targets):
        return class_weights(train_targets, self.name)

    def class_names(self, names, negative=None) -> list:
        return binary_class_names(names, negative)

    def y_true(self, targets):
        return targets[:, 0]

    def validation_threshold(self, y_val, val_probs, method):
        threshold = choose_threshold(y_val[:, 0], val_probs[:, 0], method=method)
        if not np.isfinite(threshold):
            return 0.5, "fixed (validation held one class)"
        return threshold, f"validation:{method}"

    def call(self, probs, names, thresholds, negative=None):
        positive = probs[0] >= thresholds[0]
        call = names[0] if positive else (negative or negative_class_name(names[0]))
        return call, f"{thresholds[0]:g}"


class MulticlassTask(Task):
    name = "multiclass"
    default_loss = "categorical_crossentropy"
    single_label = True

    def metrics(self, train_targets, num_outputs) -> list:
        return [keras.metrics.CategoricalAccuracy(name="accuracy")]

    def class_weight(self, train_targets):
        return class_weights(train_targets, self.name)

    def decision_threshold(self, threshold):
        return None

    def call(self, probs, names, thresholds, negative=None):
        return names[int(np.argmax(probs))], ""

    def describe(self, thresholds, source) -> str:
        return "call: the most probable class (argmax)"


class MultilabelTask(Task):
    name = "multilabel"
    default_loss = "weighted_bce"
    thresholded = True

    def metrics(self, train_targets, num_outputs) -> list:
        if np.isnan(train_targets).any():
            return []  # unknown labels: Keras' AUC cannot skip them; evaluation handles NaN
        return [keras.metrics.AUC(name="auc", multi_label=True, num_labels=num_outputs)]

    def validation_threshold(self, y_val, val_probs, method):
        threshold = choose_threshold(y_val, val_probs, method=method)
        return [0.5 if not np.isfinite(t) else t for t in threshold], f"validation:{method}"

    def call(self, probs, names, thresholds, negative=None):
        call = ";".join(n for n, p, t in zip(names, probs, thresholds) if p >= t)
        return call, ";".join(f"{t:g}" for t in thresholds)


class SegmentationTask(Task):
    name = "segmentation"
    default_loss = "bce_dice"
    segmentation = True

    def metrics(self, train_targets, num_outputs) -> list:
        return [DiceCoefficient(), MaskIoU()]

    def stratify(self, targets):
        return None

    def report(self, targets, probs, names, *, threshold=0.5, ref_ctr=None, **kwargs) -> dict:
        """Per-image, per-structure Dice and IoU of thresholded masks, and the CTR where heart
        and both lungs are segmented (:func:`heartcv.evaluation.segmentation.segmentation_report`)."""
        k = 1 if np.ndim(probs) == 3 else np.shape(probs)[-1]
        if not names or len(names) != k:
            names = ["heart"] if k == 1 else [f"mask{i}" for i in range(k)]
        return segmentation_report(targets, probs, names, ref_ctr=ref_ctr, threshold=threshold)


TASKS = {t.name: t for t in (BinaryTask(), MulticlassTask(), MultilabelTask(),
                             SegmentationTask())}
CLASSIFICATION_TASKS = ("binary", "multiclass", "multilabel")


def get_task(name) -> Task:
    """The task object of ``name`` (``binary``, ``multiclass``, ``multilabel``,
    ``segmentation``).

    Raises:
        ValueError: another name, with did-you-mean.
    """
    if isinstance(name, Task):
        return name
    if name not in TASKS:
        raise ValueError(f"Expected `task` in {list(TASKS)}.{did_you_mean(name, list(TASKS))} "
                         f"Received: task={name!r}")
    return TASKS[name]

"""The task table (heartcv.tasks): what each task owns, one object per task."""

import numpy as np
import pytest

from heartcv.config import ConfigError
from heartcv.tasks import CLASSIFICATION_TASKS, TASKS, get_task

CASES = [  # task, default loss class, metric names (the history.csv columns)
    ("binary", "BinaryCrossentropy", ["accuracy", "auc"]),
    ("multiclass", "CategoricalCrossentropy", ["accuracy"]),
    ("multilabel", "WeightedBinaryCrossentropy", ["auc"]),
    ("segmentation", "BCEDiceLoss", ["dice", "iou"]),
]


def test_one_object_per_task():
    assert sorted(TASKS) == ["binary", "multiclass", "multilabel", "segmentation"]
    assert set(CLASSIFICATION_TASKS) == set(TASKS) - {"segmentation"}
    assert get_task(TASKS["binary"]) is TASKS["binary"]


@pytest.mark.parametrize("name, loss, metrics", CASES)
def test_auto_loss_and_metrics(name, loss, metrics):
    task = get_task(name)
    targets = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]], np.float32)
    assert type(task.loss("auto", targets)).__name__ == loss
    assert [m.name for m in task.metrics(targets, 3)] == metrics


def test_multilabel_with_unknown_labels_compiles_no_auc():
    targets = np.array([[1, np.nan], [0, 1]], np.float32)
    assert get_task("multilabel").metrics(targets, 2) == []


def test_class_weights_are_for_single_label_tasks():
    y = np.array([[1], [0], [0], [0]], np.float32)
    assert get_task("binary").class_weight(y) is not None
    for name in ("multilabel", "segmentation"):
        with pytest.raises(ConfigError, match="single-label tasks"):
            get_task(name).class_weight(y)


def test_binary_names_its_negative_class_once():
    binary = get_task("binary")
    assert binary.class_names(["Cardio"]) == ["not Cardio", "Cardio"]
    assert binary.class_names(["Cardio"], "Non-Cardio") == ["Non-Cardio", "Cardio"]
    assert binary.class_names(["no", "yes"]) == ["no", "yes"]
    assert get_task("multiclass").class_names(["a"]) == ["a"]


@pytest.mark.parametrize("name, probs, thresholds, call, text", [
    ("binary", [0.7], [0.5], "Cardio", "0.5"),
    ("binary", [0.3], [0.5], "not Cardio", "0.5"),
    ("multiclass", [0.2, 0.5, 0.3], None, "b", ""),
    ("multilabel", [0.6, 0.1, 0.9], [0.5, 0.5, 0.95], "a", "0.5;0.5;0.95"),
])
def test_decision_rule(name, probs, thresholds, call, text):
    names = ["Cardio"] if name == "binary" else ["a", "b", "c"]
    assert get_task(name).call(probs, names, thresholds) == (call, text)


def test_validation_threshold_names_its_source():
    y = np.array([[0], [1], [0], [1]], np.float32)
    p = np.array([[0.1], [0.9], [0.2], [0.8]], np.float32)
    threshold, source = get_task("binary").validation_threshold(y, p, "youden")
    assert 0.2 < threshold < 0.81 and source == "validation:youden"
    thresholds, source = get_task("multilabel").validation_threshold(
        np.hstack([y, 1 - y]), np.hstack([p, 1 - p]), "f1")
    assert len(thresholds) == 2 and source == "validation:f1"


ILL_CASES = [("segmentaton", "Did you mean"), ("", "Expected `task`")]


@pytest.mark.parametrize("name, message", ILL_CASES)
def test_unknown_task(name, message):
    with pytest.raises(ValueError, match=message):
        get_task(name)

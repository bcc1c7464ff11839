"""The MIT-BIH beat-image experiment: protocol splits from a bundle, mix accuracy, a tiny run."""

import json

import numpy as np
import pytest

from heartcv.config import load_config
from heartcv.data.bundle import BundleWriter
from heartcv.data.splits import LeakageError
from heartcv.data.synthetic.beats import BEAT_CLASSES, generate_beat_images
from heartcv.papers.mitbih_ecg_beats.experiment import (PAPER_TABLE1, mix_accuracy, prior_shift,
                                         protocol_data, run_experiment, summarize)
from tests.conftest import REPO_ROOT

HERE = REPO_ROOT / "experiments" / "mitbih_ecg_beats"
# two DS1 and two DS2 records, as in a real bundle's inter-patient column
RECORDS = {"101": "train", "106": "train", "100": "test", "103": "test"}


def _bundle(path, n_per_class=8, size=32, with_intra=True):
    """A beat bundle in the layout of data_prep/mitbih.py, from synthetic beats."""
    d = generate_beat_images(n_per_class, size=size, seed=0, render_size=64)
    n = len(d["labels"])
    records = np.array(list(RECORDS))[np.arange(n) % 4]
    inter = np.array([RECORDS[r] for r in records])
    intra = np.where(np.arange(n) % 5 == 0, "test", "train")
    meta = {"split_inter": inter, "record": records, "sample": np.arange(n) * 400}
    if with_intra:
        meta["split_intra"] = intra
    with BundleWriter(path, task="multiclass", class_names=list(BEAT_CLASSES),
                      source="synthetic beats") as w:
        w.append(d["images"][..., :1], labels=np.eye(5, dtype=np.float32)[d["labels"]],
                 patient_id=records, image_id=[f"{r}_{k:06d}" for k, r in enumerate(records)],
                 split=inter, meta=meta)
    return path, d["labels"], records, intra


def test_intra_protocol_is_beat_level_and_records_its_leakage(tmp_path):
    path, labels, records, intra = _bundle(tmp_path / "b.h5")
    data, info = protocol_data(path, "intra", validation="none")
    assert set(data.splits) == {"train", "test"}
    assert len(data.splits["test"]) == int((intra == "test").sum())
    assert info["records_in_train_and_test"] == sorted(RECORDS)  # every record on both sides
    # the beat is the unit: no beat id is in two splits
    assert not set(data.splits["train"].patient_id) & set(data.splits["test"].patient_id)
    assert info["full"]["test"] == {c: int(((labels == k) & (intra == "test")).sum())
                                    for k, c in enumerate(BEAT_CLASSES)}


def test_inter_protocol_is_patient_disjoint(tmp_path):
    path, labels, records, _ = _bundle(tmp_path / "b.h5")
    data, info = protocol_data(path, "inter", validation="test")
    assert set(data.splits["train"].patient_id) == {"101", "106"}
    assert set(data.splits["test"].patient_id) == {"100", "103"}
    assert info["records_in_train_and_test"] == []
    # the paper validates on the test beats: the same images, renamed units
    np.testing.assert_array_equal(data.splits["val"].images, data.splits["test"].images)
    assert all(p.startswith("test-as-val:") for p in data.splits["val"].patient_id)


def test_caps_are_seeded_per_class(tmp_path):
    path, *_ = _bundle(tmp_path / "b.h5", n_per_class=12)
    a, info = protocol_data(path, "inter", max_train_per_class=2, max_test_per_class=3, seed=1,
                            validation="none")
    assert info["selected"]["train"] == dict.fromkeys(BEAT_CLASSES, 2)
    assert info["selected"]["test"] == dict.fromkeys(BEAT_CLASSES, 3)
    b, _ = protocol_data(path, "inter", max_train_per_class=2, max_test_per_class=3, seed=1,
                         validation="none")
    c, _ = protocol_data(path, "inter", max_train_per_class=2, max_test_per_class=3, seed=2,
                         validation="none")
    np.testing.assert_array_equal(a.splits["train"].image_id, b.splits["train"].image_id)
    assert not np.array_equal(a.splits["train"].image_id, c.splits["train"].image_id)


def test_bad_arguments(tmp_path):
    path, *_ = _bundle(tmp_path / "b.h5", with_intra=False)
    with pytest.raises(ValueError, match=r"no `meta/split_intra` column"):
        protocol_data(path, "intra")
    with pytest.raises(ValueError, match=r"Unknown protocol. Did you mean 'inter'"):
        protocol_data(path, "interr")
    with pytest.raises(ValueError, match=r"Unknown validation.*Received: validation='val'"):
        protocol_data(path, "inter", validation="val")


def test_intra_split_fails_the_platform_leakage_check_when_loaded_by_record(tmp_path):
    """Loading the beat-level split as a bundle's own split column fails, as it should."""
    from heartcv.data.sources import DataSplits, SplitArrays

    path, labels, records, intra = _bundle(tmp_path / "b.h5")
    y = np.eye(5, dtype=np.float32)[labels]
    img = np.zeros((len(labels), 8, 8, 1), np.uint8)
    splits = {k: SplitArrays(img[intra == k], y[intra == k], records[intra == k],
                             records[intra == k]) for k in ("train", "test")}
    with pytest.raises(LeakageError, match="4 patients appear in more than one split"):
        DataSplits(splits, list(BEAT_CLASSES), "multiclass", "x")


def test_mix_accuracy():
    cm = np.diag([10, 80, 10, 5, 5]).astype(float)
    cm[3, 1] = 5  # S: recall 0.5
    assert mix_accuracy(cm, dict.fromkeys(BEAT_CLASSES, 1)) == pytest.approx(0.9)
    assert mix_accuracy(cm, {"S": 3, "N": 1}) == pytest.approx(0.625)
    paper = mix_accuracy(cm, PAPER_TABLE1["test"])
    n = sum(PAPER_TABLE1["test"].values())
    assert paper == pytest.approx(1 - 0.5 * PAPER_TABLE1["test"]["S"] / n)


def test_prior_shift():
    flat = np.full((1, 5), 0.2)
    train = dict.fromkeys(BEAT_CLASSES, 100)
    target = {"F": 1, "N": 90, "Q": 3, "S": 3, "V": 3}
    np.testing.assert_allclose(prior_shift(flat, train, target)[0], [0.01, 0.9, 0.03, 0.03, 0.03])
    np.testing.assert_allclose(prior_shift(flat, train, train), flat)  # same mix: unchanged
    # a beat the balanced model calls S by a small margin is N under the N-heavy mix
    s = np.array([[0.0, 0.4, 0.0, 0.6, 0.0]])
    assert int(np.argmax(prior_shift(s, train, target))) == 1


def test_summarize_and_configs():
    results = {"accuracy": 0.5, "confusion_matrix": np.eye(5).tolist(),
               "per_class": {c: {"recall": 1.0, "support": 1} for c in BEAT_CLASSES}}
    info = {"protocol": "intra",
            "full": {"test": {"N": 3}, "train": dict.fromkeys(BEAT_CLASSES, 2)},
            "selected": {"train": dict.fromkeys(BEAT_CLASSES, 1)}}
    s = summarize(results, info, np.eye(5), np.eye(5) * 0.9 + 0.02)
    assert s["balanced_accuracy"] == 1.0 and s["accuracy_at_full_test_mix"] == 1.0
    assert s["prior_corrected"]["accuracy"] == 1.0 and s["prior_corrected"]["recall"]["F"] == 1.0
    paper = load_config(HERE / "configs" / "paper.yaml")
    assert paper.model.name == "mitbih_vgg16" and paper.data.batch_size == 64
    assert paper.train.epochs == 100 and paper.model.params["dropout"] == 0.4
    assert paper.model.params["backbone_weights"] == "imagenet" and paper.train.monitor == "loss"
    cpu = load_config(HERE / "configs" / "small_cnn_cpu.yaml")
    assert cpu.model.name == "small_cnn" and "backbone_weights" not in cpu.model.params
    for cfg in ("recipe", "paper", "small_cnn_cpu"):
        first = (HERE / "configs" / f"{cfg}.yaml").read_text().splitlines()[0]
        assert first.startswith("# python experiments/mitbih_ecg_beats/run.py")


@pytest.mark.slow
def test_run_experiment_writes_fig3_fig4_and_summary(tmp_path):
    path, *_ = _bundle(tmp_path / "b.h5", n_per_class=10)
    cfg = load_config(HERE / "configs" / "small_cnn_cpu.yaml", [
        f"output_dir={tmp_path / 'runs'}", "data.image_size=32", "train.epochs=1",
        "train.verbose=0", "model.params.filters=[4, 8]", "train.tensorboard_images=false"])
    exp = run_experiment(cfg, ("intra", "inter"), bundle=path,
                         expected_csv=HERE / "expected.csv")
    for protocol, run in exp["runs"].items():
        assert (run.run_dir / "report.md").is_file()
        assert (run.run_dir / "figures" / "confusion_matrix.png").is_file()
        assert (run.run_dir / "figures" / "confusion_matrix_recall.png").is_file()
        assert (run.run_dir / "train_eval" / "report.md").is_file()
        assert json.loads((run.run_dir / "protocol.json").read_text())["protocol"] == protocol
    intra_md = (exp["runs"]["intra"].run_dir / "report.md").read_text()
    assert "Paper vs heartcv" in intra_md and "0.976" in intra_md  # 97.57% quoted
    assert "Split protocol: intra" in intra_md
    summary = exp["paths"]["summary_md"].read_text()
    assert "| intra |" in summary and "| inter |" in summary

"""The training engine: run directory, resume after a kill, multi-worker, BN momentum, CLI."""

import csv
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import keras

from heartcv.cli import main
from heartcv.config import load_config
from heartcv.data.sources import DataSplits, SplitArrays
from heartcv.train import build_for_run, train

TINY = ["data.source=synthetic", "data.n_patients=16", "data.images_per_patient=2",
        "data.image_size=32", "data.batch_size=8", "model.name=small_cnn",
        "model.params={filters: [4, 8]}", "eval.bootstrap=50", "train.verbose=0"]


def _events(path):
    return list(Path(path).rglob("events.out.tfevents*"))


def test_cli_train_writes_run_directory(tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("name: tiny\n" f"output_dir: {tmp_path / 'runs'}\n" "train:\n  epochs: 4\n")
    argv = ["train", str(cfg), "--set", "train.epochs=1"]
    for s in TINY:
        argv += ["--set", s]
    assert main(argv) == 0
    run = tmp_path / "runs" / "tiny"
    for name in ("config.yaml", "history.csv", "metrics.json", "report.md", "model.h5",
                 "model.keras", "model.card.json", "figures/roc.png",
                 "figures/confusion_matrix.png", "figures/history.png"):
        assert (run / name).is_file(), name
    assert load_config(run / "config.yaml").train.epochs == 1  # the resolved config
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and "val_loss" in rows[0] and "learning_rate" in rows[0]
    assert _events(run / "tensorboard"), "no TensorBoard event files"
    assert _events(run / "tensorboard" / "images"), "no TensorBoard image summaries"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["split_sizes"]["test"] > 0 and "per_class" in metrics
    assert not (run / "backup").exists()  # BackupAndRestore cleans up after success
    out = capsys.readouterr().out
    assert str(run / "report.md") in out and "tensorboard --logdir" in out
    # the saved model reloads with no custom_objects
    model = keras.models.load_model(run / "model.h5")
    assert model.layers[-1].name == "predictions"


def _toy_data(task, n=48, size=16, seed=0):
    """Bright square in a class-dependent corner: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    k = 3 if task == "multiclass" else 1
    cls = rng.integers(0, max(k, 2), n)
    images = rng.integers(0, 40, (n, size, size, 1)).astype(np.uint8)
    for i, c in enumerate(cls):
        r = 2 + 6 * (c % 2)
        images[i, r:r + 6, 2 + 4 * c:8 + 4 * c] = 220
    targets = np.eye(k)[cls].astype(np.float32) if task == "multiclass" else cls[:, None].astype(np.float32)
    pid = np.array([f"P{i // 2:03d}" for i in range(n)])
    arrays = SplitArrays(images, targets, pid, np.array([f"I{i}" for i in range(n)]))
    part = {"train": slice(0, 32), "val": slice(32, 40), "test": slice(40, 48)}
    splits = {k_: arrays.subset(np.arange(n)[s]) for k_, s in part.items()}
    names = ["a", "b", "c"] if task == "multiclass" else ["positive"]
    return DataSplits(splits, names, task, "toy")


def test_multiclass_engine(tmp_path):
    cfg = load_config(None, TINY + [f"output_dir={tmp_path}", "name=mc", "train.epochs=2",
                                    "data.image_size=16", "train.class_weight=balanced"])
    result = train(cfg, data=_toy_data("multiclass"))
    assert result.metrics["task"] == "multiclass"
    assert len(result.metrics["confusion_matrix"]) == 3
    assert (result.run_dir / "model.h5").is_file()


def test_leaky_splits_refused():
    data = _toy_data("binary")
    data.splits["test"].patient_id[0] = data.splits["train"].patient_id[0]
    with pytest.raises(ValueError, match="patient"):
        DataSplits(data.splits, data.class_names, data.task, "toy")


def test_bn_momentum_auto_and_explicit():
    data = _toy_data("binary")
    cfg = load_config(None, ["data.image_size=16"])
    bn = lambda m: {l.momentum for l in m.layers if isinstance(l, keras.layers.BatchNormalization)}
    assert bn(build_for_run(cfg, data)) == {0.9}  # from scratch: 0.9, not Keras' 0.99
    assert bn(build_for_run(load_config(None, ["data.image_size=16", "train.bn_momentum=0.95"]), data)) == {0.95}
    assert bn(build_for_run(load_config(None, ["data.image_size=16", "train.bn_momentum=null"]), data)) == {0.99}


RESUME_SCRIPT = textwrap.dedent("""
    import sys
    from heartcv.callbacks import StopAfter
    from heartcv.config import load_config
    from heartcv.train import train
    cfg = load_config(None, sys.argv[2:])
    extra = [StopAfter(int(sys.argv[1]))] if int(sys.argv[1]) > 0 else []
    train(cfg, extra_callbacks=extra)
""")


def _run(args, env=None, timeout=600):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_killed_run_resumes(tmp_path):
    script = tmp_path / "resume.py"
    script.write_text(RESUME_SCRIPT)
    # 32 patients x 2 images x 0.7 train ≈ 44 images / batch 8 = 6 steps per epoch
    settings = TINY + [f"output_dir={tmp_path}", "name=r", "train.epochs=3",
                       "data.n_patients=32", "train.early_stopping_patience=null"]
    crashed = _run([str(script), "9", *settings])  # dies in the middle of epoch 2
    assert crashed.returncode == 17, crashed.stderr[-2000:]
    run = tmp_path / "r"
    assert (run / "backup").is_dir() and not (run / "metrics.json").exists()
    with open(run / "history.csv") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["0"]
    again = _run([str(script), "0", *settings])  # the same command, no crash this time
    assert again.returncode == 0, again.stderr[-2000:]
    with open(run / "history.csv") as f:
        epochs = [r["epoch"] for r in csv.DictReader(f)]
    assert epochs == ["0", "1", "2"], f"restarted from scratch instead of resuming: {epochs}"
    assert (run / "metrics.json").is_file() and not (run / "backup").exists()


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_multiworker_two_local_workers_identical_weights(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(RESUME_SCRIPT)
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    settings = TINY + [f"output_dir={tmp_path}", "name=mw", "train.epochs=2",
                       "train.strategy=multiworker", "train.tensorboard_images=false"]
    procs = []
    for i in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})}
        procs.append(subprocess.Popen([sys.executable, str(script), "0", *settings], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    chief = keras.models.load_model(tmp_path / "mw" / "model.keras")
    worker = keras.models.load_model(tmp_path / "mw" / "workers" / "worker1" / "model.keras")
    wa, wb = chief.get_weights(), worker.get_weights()
    assert len(wa) == len(wb) > 0
    for a, b in zip(wa, wb):
        np.testing.assert_array_equal(a, b)
    # and training did move the weights away from a fresh initialisation
    with open(tmp_path / "mw" / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 2


@pytest.mark.parametrize("argv, message", [
    (["train", "--set", "train.epoch=2"], r"Unknown config key `train.epoch`. Did you mean `train.epochs`\?"),
    (["train", "missing.yaml"], r"Config file not found: missing.yaml"),
    (["train", "--set", "model.name=small_cn"], r"Unknown model 'small_cn'. Did you mean 'small_cnn'\?"),
    (["train", "--set", "data.source=nowhere.h5"], r"Data bundle not found: nowhere.h5"),
    (["predict", "x.png", "--model", "nothing.h5"], r"Model file not found: nothing.h5"),
])
def test_cli_bad_input_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("heartcv: error: "), err
    import re

    assert re.search(message, err), err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("model.h5"))


def test_cli_help_and_list_models(capsys):
    assert main(["--help"]) == 0
    assert "list-models" in capsys.readouterr().out
    assert main(["list-models", "*_gap"]) == 0
    out = capsys.readouterr().out
    assert "densenet121_gap" in out and "small_cnn" not in out
    assert main(["explain", "x.png", "--model", "m.h5", "--method", "deep_taylor"]) == 2
    assert "Model file not found: m.h5" in capsys.readouterr().err

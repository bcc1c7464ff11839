"""Bad inputs and faults for `train`, `evaluate`, `report` and `leakage` (issue #13).

Every case in ``ILL_CASES`` goes through ``heartcv.cli.main(argv)`` and must end as exit 2,
exactly one stderr line naming the key or path, no traceback, and no file changed (a finished
run in the same output folder included). The fault tests below it cover reruns, ``--overwrite``,
a run stopped after its last epoch, a truncated backup and a full disk.
"""

import csv
import errno
import json
import re
from pathlib import Path

import numpy as np
import pytest

from heartcv.cli import main

FAST = ["data.source=synthetic", "data.n_patients=20", "data.images_per_patient=2",
        "data.image_size=32", "data.batch_size=8", "model.name=small_cnn",
        "model.params={filters: [4, 8]}", "eval.bootstrap=20", "train.verbose=0",
        "train.tensorboard_images=false", "train.epochs=1"]


def _train(root, *sets, name="bad", output_dir=None):
    argv = ["train"]
    for s in [*FAST, f"output_dir={output_dir or root / 'runs'}", f"name={name}", *sets]:
        argv += ["--set", s]
    return argv


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def _history_epochs(run: Path) -> list[str]:
    with open(run / "history.csv", newline="") as f:
        return [r["epoch"] for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A finished run, a binary bundle, a NaN-labelled binary bundle and a few odd files."""
    from heartcv.data.bundle import read_bundle, write_bundle

    root = tmp_path_factory.mktemp("world")
    assert main(_train(root, name="done")) == 0
    bundle = root / "phantom.h5"
    assert main(["prep", "synthetic", "--out", str(bundle), "--n-patients", "20",
                 "--size", "32"]) == 0
    b = read_bundle(bundle)
    labels = np.asarray(b.labels, np.float32).copy()
    labels[:3] = np.nan
    write_bundle(root / "nan_labels.h5", b.images, labels=labels, patient_id=b.patient_id,
                 split=b.split, class_names=b.class_names, task="binary", source="test")
    (root / "a_file").write_text("not a folder\n")
    (root / "broken.yaml").write_text("train: [epochs: 3\n")
    (root / "no_split.csv").write_text("patient_id,site\nP1,a\nP2,b\n")
    (root / "empty_run").mkdir()
    return root


def _readonly(monkeypatch, root):
    """A read-only output folder (the tests run as root, where chmod does not stop writes)."""
    import tempfile

    real = tempfile.TemporaryFile

    def refuse(*args, dir=None, **kwargs):
        if dir is not None and str(dir).startswith(str(root / "runs")):
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr("heartcv.rundir.tempfile.TemporaryFile", refuse)


# (id, argv from the world folder, regex the one stderr line must match, optional patch)
ILL_CASES = [
    ("epochs_negative", lambda w: _train(w, "train.epochs=-3"),
     r"Expected `train.epochs` >= 1. Received: train.epochs=-3$", None),
    ("epochs_zero_on_finished_run", lambda w: _train(w, "train.epochs=0", name="done"),
     r"`train.epochs` >= 1", None),
    ("learning_rate_negative", lambda w: _train(w, "train.learning_rate=-1"),
     r"Expected `train.learning_rate` > 0. Received: train.learning_rate=-1.0", None),
    ("learning_rate_zero", lambda w: _train(w, "train.learning_rate=0"),
     r"`train.learning_rate` > 0", None),
    ("batch_size_zero_on_finished_run", lambda w: _train(w, "data.batch_size=0", name="done"),
     r"Expected `data.batch_size` >= 1. Received: data.batch_size=0", None),
    ("momentum_one", lambda w: _train(w, "train.optimizer=sgd", "train.momentum=1.0"),
     r"`train.momentum` in \[0, 1\)", None),
    ("image_size_tiny", lambda w: _train(w, "data.image_size=4"), r"`data.image_size` >= 8", None),
    ("channels_zero", lambda w: _train(w, "data.channels=0"), r"`data.channels` >= 1", None),
    ("val_fraction_one", lambda w: _train(w, "data.val_fraction=1.0"),
     r"`data.val_fraction` in \[0, 1\)", None),
    ("test_fraction_negative", lambda w: _train(w, "data.test_fraction=-0.1"),
     r"`data.test_fraction` in \[0, 1\)", None),
    ("fractions_sum_one", lambda w: _train(w, "data.val_fraction=0.5", "data.test_fraction=0.5"),
     r"`data.val_fraction \+ data.test_fraction` < 1", None),
    ("n_patients_one", lambda w: _train(w, "data.n_patients=1"), r"`data.n_patients` >= 2", None),
    ("folds_negative", lambda w: _train(w, "train.folds=-2"), r"`train.folds` >= 0", None),
    ("early_stopping_negative", lambda w: _train(w, "train.early_stopping_patience=-1"),
     r"`train.early_stopping_patience` null or >= 0", None),
    ("reduce_lr_patience_negative", lambda w: _train(w, "train.reduce_lr_patience=-2"),
     r"`train.reduce_lr_patience` >= 0", None),
    ("reduce_lr_factor_above_one", lambda w: _train(w, "train.reduce_lr_factor=1.5"),
     r"`train.reduce_lr_factor` in \(0, 1\)", None),
    ("min_lr_negative", lambda w: _train(w, "train.min_lr=-1e-3"), r"`train.min_lr` >= 0", None),
    ("steps_per_epoch_zero", lambda w: _train(w, "train.steps_per_epoch=0"),
     r"`train.steps_per_epoch` null or >= 1", None),
    ("bn_momentum_above_one", lambda w: _train(w, "train.bn_momentum=1.5"),
     r"`train.bn_momentum` null, 'auto' or in \[0, 1\)", None),
    ("optimizer_unknown", lambda w: _train(w, "train.optimizer=adamw"),
     r"Expected `train.optimizer` in \('adam', 'sgd'\). Received: train.optimizer='adamw'", None),
    ("loss_unknown", lambda w: _train(w, "train.loss=mse"), r"`train.loss` in", None),
    ("strategy_unknown", lambda w: _train(w, "train.strategy=tpu"), r"`train.strategy` in", None),
    ("synthetic_kind_unknown", lambda w: _train(w, "data.synthetic=xray"),
     r"`data.synthetic` in", None),
    ("bootstrap_negative", lambda w: _train(w, "eval.bootstrap=-1"),
     r"`eval.bootstrap` >= 0", None),
    ("prevalence_above_one", lambda w: _train(w, "eval.prevalence=1.5"),
     r"`eval.prevalence` null or in \(0, 1\)", None),
    ("ci_one", lambda w: _train(w, "eval.ci=1.0"), r"`eval.ci` in \(0, 1\)", None),
    ("fixed_threshold_two", lambda w: _train(w, "eval.fixed_threshold=2"),
     r"`eval.fixed_threshold` in \[0, 1\]", None),
    ("rotation_negative", lambda w: _train(w, "data.augment.rotation_range=-10"),
     r"`data.augment.rotation_range` in \[0, 180\]", None),
    ("brightness_reversed", lambda w: _train(w, "data.augment.brightness_range=[1.2, 0.8]"),
     r"`data.augment.brightness_range` as \[lo, hi\]", None),
    ("zoom_above_one", lambda w: _train(w, "data.augment.zoom_range=1.5"),
     r"`data.augment.zoom_range` in \[0, 1\)", None),
    ("empty_name", lambda w: _train(w, name=""), r"`name` a non-empty run name", None),
    ("unknown_key", lambda w: _train(w, "train.epoch=2"),
     r"Unknown config key `train.epoch`. Did you mean `train.epochs`\?", None),
    ("config_missing", lambda w: ["train", str(w / "missing.yaml")],
     r"Config file not found: .*missing.yaml", None),
    ("config_not_yaml", lambda w: ["train", str(w / "broken.yaml")],
     r"broken.yaml: not valid YAML", None),
    ("output_dir_is_a_file", lambda w: _train(w, output_dir=w / "a_file"),
     r"not a folder: a part of .*a_file/bad is a file", None),
    ("run_dir_is_a_file", lambda w: _train(w, output_dir=w, name="a_file"),
     r".*a_file exists and is not a folder", None),
    ("output_dir_read_only", lambda w: _train(w, name="fresh"),
     r"read-only file system: cannot write .*runs/fresh", _readonly),
    ("bundle_missing", lambda w: _train(w, f"data.source={w / 'nowhere.h5'}"),
     r"Data bundle not found: .*nowhere.h5", None),
    ("classifier_on_segmentation", lambda w: _train(w, "data.synthetic=segmentation"),
     r"Expected a segmentation model for the segmentation data .*model.name='small_cnn'", None),
    ("unet_on_classification_bundle",
     lambda w: _train(w, f"data.source={w / 'phantom.h5'}", "model.name=unet", "model.params={}"),
     r"Expected a classification model for the binary data .*phantom.h5.*model.name='unet'", None),
    ("nan_labels_binary", lambda w: _train(w, f"data.source={w / 'nan_labels.h5'}"),
     r"nan_labels.h5: 3 image\(s\) with NaN \(unknown\) labels in binary data", None),
    ("evaluate_model_missing",
     lambda w: ["evaluate", str(w / "none.h5"), "--data", str(w / "phantom.h5")],
     r"Model file not found: .*none.h5", None),
    ("evaluate_bundle_missing",
     lambda w: ["evaluate", str(w / "runs/done/model.h5"), "--data", str(w / "none.h5")],
     r"Bundle not found: .*none.h5", None),
    ("evaluate_split_unknown",
     lambda w: ["evaluate", str(w / "runs/done/model.h5"), "--data", str(w / "phantom.h5"),
                "--split", "nosuch"],
     r"phantom.h5: no split 'nosuch'", None),
    ("evaluate_out_is_a_file",
     lambda w: ["evaluate", str(w / "runs/done/model.h5"), "--data", str(w / "phantom.h5"),
                "--out", str(w / "a_file")],
     r"a_file exists and is not a folder", None),
    ("report_run_dir_missing", lambda w: ["report", str(w / "runs/none")],
     r"Run directory not found: .*runs/none", None),
    ("leakage_source_missing", lambda w: ["leakage", str(w / "none.csv")], r"none.csv", None),
    ("leakage_csv_without_split", lambda w: ["leakage", str(w / "no_split.csv")],
     r"no_split.csv", None),
]


@pytest.mark.parametrize("argv, message, patch", [c[1:] for c in ILL_CASES],
                         ids=[c[0] for c in ILL_CASES])
def test_bad_input_one_line_exit_2_nothing_changed(world, argv, message, patch, capsys,
                                                   monkeypatch):
    if patch is not None:
        patch(monkeypatch, world)
    before = _snapshot(world)
    capsys.readouterr()
    code = main(argv(world))
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("heartcv: error: "), err
    assert "Traceback" not in err
    assert re.search(message, lines[0]), lines[0]
    assert _snapshot(world) == before, "files changed"
    assert not (world / "runs" / "bad").exists() and not (world / "runs" / "fresh").exists()


# ----------------------------------------------------------------------------- faults


def test_finished_run_is_not_trained_again(world, capsys):
    run = world / "runs" / "done"
    before = _snapshot(run)
    assert main(_train(world, name="done")) == 0
    err = capsys.readouterr().err
    assert f"heartcv train: run {run} is already complete ({run / 'metrics.json'}); " \
           "pass --overwrite to train it again" in err
    assert _snapshot(run) == before and _history_epochs(run) == ["0"]


def test_overwrite_trains_again(tmp_path, capsys):
    run = tmp_path / "runs" / "bad"
    assert main(_train(tmp_path, "train.epochs=2")) == 0
    first = (run / "model.h5").stat().st_mtime_ns
    assert main(_train(tmp_path, "train.epochs=2")) == 0
    assert "already complete" in capsys.readouterr().err
    assert main([*_train(tmp_path, "train.epochs=2"), "--overwrite"]) == 0
    assert "already complete" not in capsys.readouterr().err
    assert _history_epochs(run) == ["0", "1"]
    assert (run / "model.h5").stat().st_mtime_ns != first
    assert not (run / "backup").exists() and not list(tmp_path.rglob("*.tmp*"))
    assert not [p for p in (tmp_path / "runs").iterdir() if p.name.startswith(".")]


def test_disk_full_at_evaluation_then_rerun_resumes_at_evaluation(tmp_path, capsys, monkeypatch):
    real = np.savez_compressed

    def full_disk(path, **arrays):
        Path(path).write_bytes(b"PK\x03\x04 half")  # a partial write, then the error
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(np, "savez_compressed", full_disk)
    run = tmp_path / "runs" / "bad"
    assert main(_train(tmp_path, "train.epochs=2")) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    target = re.escape(str(run / "test_predictions.npz"))
    assert len(lines) == 1 and re.fullmatch(  # one wording, the CLI's and heartcv.files'
        rf"heartcv: error: no space left on device writing {target}", lines[0]), lines
    assert not list(tmp_path.rglob("*.tmp*")) and not (run / "test_predictions.npz").exists()
    assert (run / "backup" / "fit_done.json").is_file() and not (run / "metrics.json").exists()
    history = (run / "history.csv").read_bytes()

    monkeypatch.setattr(np, "savez_compressed", real)
    assert main(_train(tmp_path, "train.epochs=2")) == 0
    assert "evaluating model.h5 instead of training again" in capsys.readouterr().err
    assert (run / "history.csv").read_bytes() == history and _history_epochs(run) == ["0", "1"]
    assert (run / "metrics.json").is_file() and not (run / "backup").exists()
    assert not list(tmp_path.rglob("*.tmp*"))


def test_disk_full_while_writing_a_backup(tmp_path, capsys, monkeypatch):
    import keras

    def full_disk(self, filepath, *args, **kwargs):
        Path(filepath).write_bytes(b"\x89HDF half")
        raise OSError(errno.ENOSPC, "No space left on device", str(filepath))

    monkeypatch.setattr(keras.Model, "save_weights", full_disk)
    assert main(_train(tmp_path)) == 2
    line = capsys.readouterr().err.strip()
    target = r"\S+/backup/epoch1\.weights\.h5"  # the final name, not the temporary one
    assert re.fullmatch(rf"heartcv: error: no space left on device writing {target} "
                        r"\(needs about [\d.]+ [kM]B, [\d.]+ [kMG]B free\)", line), line
    assert not list(tmp_path.rglob("*.tmp*"))


def _interrupted_run(tmp_path, epochs=3, stop_after=1):
    """Train ``epochs`` epochs; stop with an error after ``stop_after`` (backups written)."""
    import keras

    from heartcv.config import load_config
    from heartcv.train import train

    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 >= stop_after:
                raise RuntimeError("stopped")

    cfg = load_config(None, [*FAST, f"output_dir={tmp_path / 'runs'}", "name=bad",
                             f"train.epochs={epochs}", "train.early_stopping_patience=null"])
    with pytest.raises(RuntimeError, match="stopped"):
        train(cfg, extra_callbacks=[Boom()])
    return tmp_path / "runs" / "bad"


def test_truncated_backup_warns_and_starts_clean(tmp_path, capsys):
    run = _interrupted_run(tmp_path)
    state = json.loads((run / "backup" / "training_metadata.json").read_text())
    weights = run / "backup" / state["weights"]
    weights.write_bytes(weights.read_bytes()[:100])  # the disk filled during the save
    assert _history_epochs(run) == ["0"]
    capsys.readouterr()
    assert main(_train(tmp_path, "train.epochs=3", "train.early_stopping_patience=null")) == 0
    err = capsys.readouterr().err
    assert f"heartcv train: warning: backup {weights} is corrupt (sha256 mismatch" in err
    assert "starting clean" in err
    assert _history_epochs(run) == ["0", "1", "2"]  # not 0, 0, 1, 2
    assert (run / "metrics.json").is_file() and not (run / "backup").exists()


def test_malformed_history_names_file_and_line(tmp_path, capsys):
    run = _interrupted_run(tmp_path)
    with open(run / "history.csv", "a") as f:
        f.write("x,1,2\n")
    before = _snapshot(tmp_path)
    assert main(_train(tmp_path, "train.epochs=3", "train.early_stopping_patience=null")) == 2
    line = capsys.readouterr().err.strip()
    assert re.fullmatch(rf"heartcv: error: {re.escape(str(run / 'history.csv'))}, line 3: "
                        r"expected .*", line), line
    assert _snapshot(tmp_path) == before


def test_truncated_backup_falls_back_to_the_previous_one(tmp_path, capsys):
    run = _interrupted_run(tmp_path, stop_after=2)
    state = json.loads((run / "backup" / "training_metadata.json").read_text())
    assert state["epoch"] == 2 and state["previous"]["epoch"] == 1
    weights = run / "backup" / state["weights"]
    weights.write_bytes(weights.read_bytes()[:-64])
    assert _history_epochs(run) == ["0", "1"]
    capsys.readouterr()
    assert main(_train(tmp_path, "train.epochs=3", "train.early_stopping_patience=null")) == 0
    err = capsys.readouterr().err
    assert f"heartcv train: warning: backup {weights} is corrupt (sha256 mismatch" in err
    assert "starting from epoch 2" in err
    assert _history_epochs(run) == ["0", "1", "2"]  # epoch 1 trained again from the epoch-1 backup
    assert (run / "metrics.json").is_file() and not (run / "backup").exists()


def test_debug_shows_the_os_error(tmp_path):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(NotADirectoryError):
        main(["--debug", *_train(tmp_path, output_dir=tmp_path / "a_file")])

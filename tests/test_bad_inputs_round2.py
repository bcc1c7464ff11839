"""Issue 24 (reliability, round 2): a full disk in HDF5 writes, huge images, the run-folder
lock, CV reruns per fold, and one-line errors for `--split` without `--data`, run names that
leave `output_dir`, a task mismatch in `evaluate` and a missing Keras backend.

Every bad input goes through ``heartcv.cli.main(argv)`` (or the library call it makes) and must
end as exit 2, exactly one stderr line naming the path or key, no traceback and no file
changed. A full disk is simulated here at every HDF5 write site (the bundle writer's data
writes, flush and close; the ``.h5`` / ``.keras`` model saves; the backup weights) by
patching the write to raise what HDF5 raises (a ``RuntimeError`` or ``OSError`` carrying
``errno = 28``); ``tests/test_disk_full_tmpfs.py`` fills a real tmpfs.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

import heartcv
from heartcv.cli import main

FAST = ["data.source=synthetic", "data.n_patients=20", "data.images_per_patient=2",
        "data.image_size=32", "data.batch_size=8", "model.name=small_cnn",
        "model.params={filters: [4, 8]}", "eval.bootstrap=20", "train.verbose=0",
        "train.tensorboard_images=false", "train.epochs=1"]
ROOT = Path(__file__).resolve().parents[1]
H5_FULL = ("Can't synchronously write data (file write failed: time = Mon Dec  7 18:56:20 2026, "
           "filename = 'x.h5.tmp-1', file descriptor = 3, errno = 28, error message = 'No space "
           "left on device', buf = 0x1, total write size = 14154)")


def _train(root, *sets, name="r"):
    argv = ["train"]
    for s in [*FAST, f"output_dir={root / 'runs'}", f"name={name}", *sets]:
        argv += ["--set", s]
    return argv


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                         p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line(capsys, code, expected_code=2):
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == expected_code, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("heartcv"), err
    assert "Traceback" not in err
    return lines[0]


def _temp_names(folder):
    return [str(p) for p in folder.rglob("*") if ".tmp" in p.name or ".partial" in p.name
            or p.name.endswith(".lock")]


# ----------------------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A classifier (no card), a classifier carded as segmentation, a binary and a
    segmentation bundle, and a grey PNG."""
    root = tmp_path_factory.mktemp("world")
    model = heartcv.build_model("small_cnn", input_shape=(32, 32, 1), filters=(4, 8))
    heartcv.save_model(model, root / "cls.h5")
    heartcv.save_model(model, root / "seg_card" / "m.h5")
    (root / "seg_card" / "m.card.json").write_text(json.dumps({"task": "segmentation"}))
    for kind, name in (("cardiomegaly", "binary.h5"), ("segmentation", "seg.h5")):
        assert main(["prep", "synthetic", "--out", str(root / name), "--kind", kind,
                     "--n-patients", "3", "--size", "32"]) == 0
    cv2.imwrite(str(root / "img.png"), (np.arange(48 * 48).reshape(48, 48) % 251).astype(np.uint8))
    return root


def _fake_png(path, width, height, colour=0):
    """A PNG whose header says ``width`` × ``height`` (and nothing decodable after it)."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + \
        struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk)
    return Path(path)


def _model_never_loaded(monkeypatch):
    import heartcv.io

    def boom(*_a, **_k):
        raise AssertionError("the model was loaded before the image was checked")

    monkeypatch.setattr(heartcv.io, "load_model", boom)


def _no_evaluation(monkeypatch):
    import heartcv.evaluate
    import heartcv.scoring

    def boom(*_a, **_k):
        raise AssertionError("the evaluation started before the task was checked")

    monkeypatch.setattr(heartcv.scoring, "evaluate_saved_model", boom)
    monkeypatch.setattr(heartcv.evaluate, "evaluate_bundle", boom)


# ----------------------------------------------------------------------------- one line, exit 2

ILL_CASES = [
    # (id, argv(world), words in the line, patch(monkeypatch))
    ("predict-split-without-data",
     lambda w: ["predict", str(w / "img.png"), "--model", str(w / "cls.h5"), "--split", "val"],
     ("--split val", "--data"), _model_never_loaded),
    ("explain-split-without-data",
     lambda w: ["explain", str(w / "img.png"), "--model", str(w / "cls.h5"), "--split", "all"],
     ("--split all", "--data"), _model_never_loaded),
    ("train-name-escapes-output-dir",
     lambda w: _train(w, name="../escaped"), ("`name`", "name='../escaped'", "'..'"), None),
    ("train-name-absolute",
     lambda w: _train(w, name=str(w / "abs")), ("`name`", "leading '/'"), None),
    ("train-name-dot-dot-inside",
     lambda w: _train(w, name="a/../../b"), ("`name`", "name='a/../../b'"), None),
    ("train-name-backslash",
     lambda w: _train(w, name="a\\b"), ("`name`", "backslash"), None),
    ("train-name-empty-part",
     lambda w: _train(w, name="a//b"), ("`name`", "empty part"), None),
    ("evaluate-classifier-on-segmentation-bundle-shifts",
     lambda w: ["evaluate", str(w / "cls.h5"), "--data", str(w / "seg.h5"), "--shifts",
                "--out", str(w / "ev")],
     ("Expected a segmentation model", "seg.h5", "cls.h5, a classification model"),
     _no_evaluation),
    ("evaluate-classifier-on-segmentation-bundle",
     lambda w: ["evaluate", str(w / "cls.h5"), "--data", str(w / "seg.h5"), "--out", str(w / "ev")],
     ("Expected a segmentation model", "seg.h5"), _no_evaluation),
    ("evaluate-segmentation-model-on-binary-bundle",
     lambda w: ["evaluate", str(w / "seg_card" / "m.h5"), "--data", str(w / "binary.h5"),
                "--shifts", "--out", str(w / "ev")],
     ("Expected a classification model", "binary.h5", "a segmentation model"), _no_evaluation),
    ("evaluate-shifts-on-classification",
     lambda w: ["evaluate", str(w / "cls.h5"), "--data", str(w / "binary.h5"), "--shifts",
                "--out", str(w / "ev")],
     ("--shifts is implemented for segmentation", "binary.h5"), _no_evaluation),
    ("predict-20000-squared-png",
     lambda w: ["predict", str(_fake_png(w / "huge.png", 20000, 20000)), "--model",
                str(w / "cls.h5"), "--out", str(w / "out")],
     ("huge.png", "20000×20000", "400 million", "limit of 20 million"), _model_never_loaded),
    ("explain-max-pixels-below-the-image",
     lambda w: ["explain", str(w / "img.png"), "--model", str(w / "cls.h5"), "--max-pixels",
                "1000", "--out", str(w / "out")],
     ("img.png", "48×48", "limit of 0.001 million"), _model_never_loaded),
]


@pytest.mark.parametrize("argv, words, patch", [c[1:] for c in ILL_CASES],
                         ids=[c[0] for c in ILL_CASES])
def test_ill_case_one_line_exit_2_nothing_changed(world, argv, words, patch, monkeypatch,
                                                  capsys):
    argv = argv(world)
    if patch is not None:
        patch(monkeypatch)
    before = _snapshot(world)
    capsys.readouterr()
    line = _one_line(capsys, main(argv))
    for word in words:
        assert word in line, (word, line)
    assert _snapshot(world) == before, "files changed"
    assert not (world / "runs").exists() and not (world / "ev").exists()
    assert not (world.parent / "escaped").exists() and not (world / "out").exists()


def test_the_max_pixels_option_is_for_one_command_only(world, capsys):
    from heartcv.data.images import MAX_PIXELS, max_pixels

    main(["explain", str(world / "img.png"), "--model", str(world / "cls.h5"),
          "--max-pixels", "1000", "--out", str(world / "out")])
    assert max_pixels() == MAX_PIXELS


def test_huge_image_in_a_batch_is_skipped_with_the_reason(world, tmp_path, capsys):
    huge = _fake_png(tmp_path / "in" / "huge.png", 20000, 20000)
    cv2.imwrite(str(tmp_path / "in" / "ok.png"), cv2.imread(str(world / "img.png")))
    assert main(["predict", str(tmp_path / "in"), "--model", str(world / "cls.h5"),
                 "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    with open(tmp_path / "out" / "skipped.csv", newline="") as f:
        skipped = {Path(r["path"]).name: r["reason"] for r in csv.DictReader(f)}
    assert list(skipped) == ["huge.png"] and "20000×20000" in skipped["huge.png"]
    assert huge.stat().st_size < 100


def test_the_pixel_limit_from_the_environment(world, monkeypatch):
    from heartcv.data.images import ImageReadError, max_pixels, read_image

    monkeypatch.setenv("HEARTCV_MAX_PIXELS", "1e3")
    assert max_pixels() == 1000
    with pytest.raises(ImageReadError, match=r"img\.png: too large to decode: 48×48"):
        read_image(world / "img.png")
    monkeypatch.setenv("HEARTCV_MAX_PIXELS", "0")  # no limit
    assert read_image(world / "img.png").shape == (48, 48)


@pytest.mark.parametrize("ext, shape, dtype, want", [
    (".png", (30, 50), np.uint8, (50, 30, 1, 1)),
    (".png", (30, 50, 3), np.uint16, (50, 30, 3, 2)),
    (".png", (30, 50, 4), np.uint8, (50, 30, 4, 1)),
    (".jpg", (30, 50, 3), np.uint8, (50, 30, 3, 1)),
    (".jpg", (30, 50), np.uint8, (50, 30, 1, 1)),
    (".bmp", (30, 50, 3), np.uint8, (50, 30, 3, 1)),
    (".tif", (30, 50), np.uint16, (50, 30, 1, 2)),
    (".tif", (30, 50, 3), np.uint8, (50, 30, 3, 1)),
    (".tif", (30, 50), np.float32, (50, 30, 1, 4)),
])
def test_image_header_reads_the_size_without_decoding(ext, shape, dtype, want):
    from heartcv.data.images import image_header

    ok, buf = cv2.imencode(ext, np.zeros(shape, dtype))
    assert ok and image_header(buf) == want


def test_missing_keras_backend_is_one_line_with_the_install_command(tmp_path):
    import importlib.util

    if importlib.util.find_spec("jax") is not None:
        pytest.skip("jax is installed here: the missing-backend line cannot be shown")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    before = _snapshot(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "heartcv", "report", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0] == ('heartcv: error: KERAS_BACKEND=jax needs jax, which is not installed: '
                        'pip install "heartcv[jax]"  (or pip install jax)'), lines[0]
    assert _snapshot(tmp_path) == before


# ----------------------------------------------------------------------------- a full disk


def _h5_write_full(monkeypatch, what="setitem"):
    """HDF5's own failure on a full disk at one write site of the bundle writer."""
    import h5py

    if what == "setitem":
        real = h5py.Dataset.__setitem__

        def full(self, key, value):
            if self.name == "/images" and self.shape[0] > 2:
                raise RuntimeError(H5_FULL)
            return real(self, key, value)

        monkeypatch.setattr(h5py.Dataset, "__setitem__", full)
    else:  # the flush of the writer's flush() and close()
        def full(self):
            raise OSError(f"[Errno 28] Unable to synchronously flush file ({H5_FULL})")

        monkeypatch.setattr(h5py.File, "flush", full)


@pytest.mark.parametrize("site", ["setitem", "flush"])
def test_bundle_disk_full_in_hdf5_names_the_path_and_space_and_leaves_nothing(tmp_path,
                                                                               monkeypatch, site):
    from heartcv.data.bundle import write_bundle
    from heartcv.files import OutputPathError

    old = tmp_path / "b.h5"
    old.write_bytes(b"the previous bundle")
    _h5_write_full(monkeypatch, site)
    with pytest.raises(OutputPathError) as info:
        write_bundle(old, np.zeros((6, 8, 8, 1), np.uint8), patient_id=list("abcdef"),
                     labels=np.zeros((6, 1), np.float32), class_names=["x"], task="binary",
                     source="t", batch_size=2)
    assert info.value.errno == errno.ENOSPC
    assert re.fullmatch(rf"no space left on device writing {re.escape(str(old))} \(needs "
                        r"(about|up to) [\d.]+ (bytes|kB|MB), [\d.]+ (kB|MB|GB) free\)",
                        str(info.value)), str(info.value)
    assert old.read_bytes() == b"the previous bundle"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.h5"]


def test_bundle_refused_before_writing_when_the_disk_is_nearly_full(tmp_path, monkeypatch):
    import heartcv.data.bundle.writer as h5
    from heartcv.files import OutputPathError

    monkeypatch.setattr(h5, "free_bytes", lambda _p: 1 << 20)  # 1 MB: less than the margin
    with pytest.raises(OutputPathError, match=r"b\.h5 \(needs up to 1\.1 MB, 1\.0 MB free\)"):
        h5.write_bundle(tmp_path / "b.h5", np.zeros((4, 64, 64, 1), np.uint8),
                        patient_id=list("abcd"), labels=np.zeros((4, 1), np.float32),
                        class_names=["x"], task="binary", source="t")
    assert list(tmp_path.iterdir()) == []


def test_uncompressed_bundle_refused_from_its_known_size(tmp_path, monkeypatch):
    import heartcv.data.bundle.writer as h5
    from heartcv.files import OutputPathError

    monkeypatch.setattr(h5, "free_bytes", lambda _p: 3 << 20)
    with pytest.raises(OutputPathError, match=r"b\.h5 \(needs about 5\.2 MB, 3\.1 MB free\)"):
        h5.write_bundle(tmp_path / "b.h5", np.zeros((16, 512, 512, 1), np.uint8),
                        patient_id=[f"p{i}" for i in range(16)],
                        labels=np.zeros((16, 1), np.float32), class_names=["x"], task="binary",
                        source="t", compression=None, batch_size=4)
    assert list(tmp_path.iterdir()) == []


def test_prep_synthetic_disk_full_in_hdf5_one_line(tmp_path, monkeypatch, capsys):
    _h5_write_full(monkeypatch)
    out = tmp_path / "b.h5"
    line = _one_line(capsys, main(["prep", "synthetic", "--out", str(out), "--n-patients", "4",
                                   "--size", "32"]))
    assert re.fullmatch(rf"heartcv prep synthetic: error: no space left on device writing "
                        rf"{re.escape(str(out))} \(needs up to [\d.]+ MB, [\d.]+ [kMG]B free\)",
                        line), line
    assert list(tmp_path.iterdir()) == []


def _model():
    import keras

    model = heartcv.build_model("small_cnn", input_shape=(32, 32, 1), filters=(4, 8))
    model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
    return model


@pytest.mark.parametrize("suffix", [".h5", ".keras", ".weights.h5"])
def test_model_save_disk_full_keeps_the_previous_file(tmp_path, monkeypatch, suffix):
    import keras

    import heartcv.io as hio
    from heartcv.files import OutputPathError

    model = _model()
    path = tmp_path / f"m{suffix}"
    path.write_bytes(b"the previous model")
    if suffix == ".h5":
        from keras.src.legacy.saving import legacy_h5_format

        def full(model, f, **_k):
            f.create_group("model_weights").create_dataset("w", data=np.zeros(1000))
            raise RuntimeError(H5_FULL)

        monkeypatch.setattr(legacy_h5_format, "save_model_to_hdf5", full)
        save = hio.save_model
    elif suffix == ".keras":
        def full(model, filepath, **_k):
            Path(filepath).write_bytes(b"PK half")
            raise OSError(errno.ENOSPC, "No space left on device", str(filepath))

        monkeypatch.setattr(keras.saving, "save_model", full)
        save = hio.save_model
    else:
        def full(self, filepath, **_k):
            Path(filepath).write_bytes(b"\x89HDF half")
            raise OSError(f"[Errno 28] Can't synchronously write data ({H5_FULL})")

        monkeypatch.setattr(keras.Model, "save_weights", full)
        save = hio.save_weights
    with pytest.raises(OutputPathError, match=rf"^no space left on device writing "
                                              rf"{re.escape(str(path))} \(needs about "):
        save(model, path)
    assert path.read_bytes() == b"the previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_model_save_refused_before_writing_when_the_weights_do_not_fit(tmp_path, monkeypatch):
    import heartcv.files as hf
    import heartcv.io as hio
    from heartcv.files import OutputPathError

    model = _model()
    need = hio.saved_size(model)
    monkeypatch.setattr(hf, "free_bytes", lambda _p: need)  # the weights, not the margin
    for name in ("m.h5", "m.keras"):
        with pytest.raises(OutputPathError, match=rf"{name} \(needs about [\d.]+ kB, "):
            hio.save_model(model, tmp_path / name)
    with pytest.raises(OutputPathError, match=r"m\.weights\.h5 \(needs about"):
        hio.save_weights(model, tmp_path / "m.weights.h5")
    assert list(tmp_path.iterdir()) == []


def test_saved_models_still_load_and_predict_the_same(tmp_path):
    model = _model()
    x = np.random.default_rng(0).random((2, 32, 32, 1)).astype(np.float32) * 255
    for name in ("m.h5", "m.keras"):
        back = heartcv.io.load_model(heartcv.io.save_model(model, tmp_path / name))
        np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0),
                                   rtol=1e-5)
    twin = _model()
    twin.load_weights(heartcv.io.save_weights(model, tmp_path / "m.weights.h5"))
    np.testing.assert_allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)


def test_train_disk_full_at_the_best_checkpoint_one_line_then_resumes(tmp_path, monkeypatch,
                                                                      capsys):
    from keras.src.legacy.saving import legacy_h5_format

    real = legacy_h5_format.save_model_to_hdf5

    def full(model, f, **_k):
        raise RuntimeError(H5_FULL)

    monkeypatch.setattr(legacy_h5_format, "save_model_to_hdf5", full)
    run = tmp_path / "runs" / "r"
    line = _one_line(capsys, main(_train(tmp_path, "train.epochs=2")))
    assert re.fullmatch(rf"heartcv: error: no space left on device writing "
                        rf"{re.escape(str(run / 'model.h5'))} \(needs about .* free\)", line), line
    assert not _temp_names(tmp_path) and not (run / "model.h5").exists()
    assert (run / "backup" / "training_metadata.json").is_file()
    monkeypatch.setattr(legacy_h5_format, "save_model_to_hdf5", real)
    assert main(_train(tmp_path, "train.epochs=2")) == 0
    assert (run / "metrics.json").is_file() and not _temp_names(tmp_path)


# ----------------------------------------------------------------------------- the run lock


def _holder(folder: Path) -> subprocess.Popen:
    """Another process that takes the run folder's lock and waits (no TensorFlow)."""
    code = textwrap.dedent(f"""
        __heartcv_register_later__ = True
        import sys, time
        from heartcv.runlock import RunLock
        RunLock({str(folder)!r}).acquire()
        print("held", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_train_on_a_folder_in_use_is_one_line_naming_the_other_process(tmp_path, capsys):
    import socket

    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    (run / "history.csv").write_text("epoch,loss\n0,0.5\n")
    holder = _holder(run)
    try:
        before = _snapshot(tmp_path)
        line = _one_line(capsys, main(_train(tmp_path)))
        assert line == (f"heartcv: error: {run} is in use by another heartcv train (pid "
                        f"{holder.pid} on host {socket.gethostname()}, since "
                        f"{json.loads((tmp_path / 'runs' / '.r.lock').read_text())['started']}); "
                        f"wait for it to end, or remove {tmp_path / 'runs' / '.r.lock'} if "
                        f"that process is gone"), line
        assert _snapshot(tmp_path) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder was killed: its lock is stale and the next train takes it over
    (run / "history.csv").unlink()
    assert main(_train(tmp_path)) == 0
    assert (run / "metrics.json").is_file() and not (tmp_path / "runs" / ".r.lock").exists()


def test_lock_of_another_host_is_never_taken_over(tmp_path):
    from heartcv.runlock import RunFolderInUseError, RunLock, lock_path

    folder = tmp_path / "r"
    lock_path(folder).write_text(json.dumps({"pid": 1, "host": "elsewhere",
                                             "started": "2026-01-01T00:00:00+00:00"}))
    with pytest.raises(RunFolderInUseError, match=r"pid 1 on host elsewhere, not this one"):
        RunLock(folder).acquire()


def test_lock_of_a_reused_pid_is_stale_and_released_locks_are_removed(tmp_path):
    import socket

    from heartcv.runlock import RunLock, lock_path

    folder = tmp_path / "r"
    # this process's PID, but a start time that is not this process's: the PID was reused
    lock_path(folder).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                             "process_start": -5}))
    with RunLock(folder) as lock:
        assert lock.held and json.loads(lock_path(folder).read_text())["pid"] == os.getpid()
        with pytest.raises(ValueError, match="is in use by another heartcv train"):
            RunLock(folder).acquire()  # held by a live process: this one
    assert not lock_path(folder).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- CV per fold


def test_cv_rerun_keeps_finished_folds_and_resumes_the_interrupted_one(tmp_path, monkeypatch,
                                                                      capsys):
    import keras

    import heartcv.train as engine

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("killed in fold 2")

    real = engine.fit_model

    def fit(cfg, data, run_dir, **kw):
        if run_dir.name == "fold2":
            kw["extra_callbacks"] = [Stop()]  # after the epoch-1 backup (the callbacks' order)
        return real(cfg, data, run_dir, **kw)

    monkeypatch.setattr(engine, "fit_model", fit)
    sets = ("train.folds=3", "train.epochs=2", "train.early_stopping_patience=null")
    with pytest.raises(RuntimeError, match="killed in fold 2"):
        main(["--debug", *_train(tmp_path, *sets)])
    run = tmp_path / "runs" / "r"
    fold1 = _digest(run / "fold1")
    assert "fold_results.json" in fold1 and "model.h5" in fold1
    assert (run / "fold2" / "backup" / "training_metadata.json").is_file()
    assert not (run / "fold3").exists() and not (run / "metrics.json").exists()

    monkeypatch.setattr(engine, "fit_model", real)
    capsys.readouterr()
    assert main(_train(tmp_path, *sets)) == 0
    out = capsys.readouterr().out
    assert "--- fold 1/3: finished before, kept" in out and "--- fold 2/3: " in out
    assert _digest(run / "fold1") == fold1  # untouched: same bytes, same mtimes
    with open(run / "fold2" / "history.csv", newline="") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["0", "1"]  # resumed, not restarted
    assert (run / "fold3" / "fold_results.json").is_file() and (run / "metrics.json").is_file()
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["folds"] == 3 and not any(run.glob("fold*/backup"))


def test_cv_fold_finished_with_another_split_is_one_line(tmp_path, capsys):
    run = tmp_path / "runs" / "r"
    (run / "fold1").mkdir(parents=True)
    (run / "fold1" / "fold_results.json").write_text(json.dumps(
        {"fold_key": "small_cnn:0000", "results": {}}))
    before = _snapshot(run / "fold1")
    line = _one_line(capsys, main(_train(tmp_path, "train.folds=2")))
    assert f"{run / 'fold1' / 'fold_results.json'}: this fold was finished with another" in line
    assert _snapshot(run / "fold1") == before and not (run / "fold2").exists()


@pytest.mark.slow  # ~20 s: a process killed in fold 2 (os._exit), then the rerun
def test_cv_killed_in_fold_2_resumes_there_and_takes_over_its_stale_lock(tmp_path, capsys):
    sets = ("train.folds=3", "train.epochs=2", "train.early_stopping_patience=null")
    settings = [*FAST, f"output_dir={tmp_path / 'runs'}", "name=r", *sets]
    code = textwrap.dedent(f"""
        __heartcv_register_later__ = True
        import heartcv
        heartcv.register_all()
        import heartcv.train as engine
        from heartcv.callbacks import StopAfter
        from heartcv.config import load_config
        real = engine.fit_model
        def fit(cfg, data, run_dir, **kw):
            if run_dir.name == "fold2":  # killed in its second epoch, after the first backup
                kw["extra_callbacks"] = [StopAfter(4)]
            return real(cfg, data, run_dir, **kw)
        engine.fit_model = fit
        engine.train(load_config(None, {settings!r}))
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 17, err[-3000:]  # StopAfter's os._exit: no cleanup ran
    run = tmp_path / "runs" / "r"
    lock = tmp_path / "runs" / ".r.lock"
    assert json.loads(lock.read_text())["pid"] == proc.pid  # left behind by the killed run
    state = json.loads((run / "fold2" / "backup" / "training_metadata.json").read_text())
    assert state["epoch"] == 1
    fold1 = _digest(run / "fold1")

    capsys.readouterr()
    assert main(_train(tmp_path, *sets)) == 0
    out = capsys.readouterr().out
    assert "--- fold 1/3: finished before, kept" in out
    assert _digest(run / "fold1") == fold1
    with open(run / "fold2" / "history.csv", newline="") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["0", "1"]
    assert (run / "metrics.json").is_file() and not lock.exists()
    assert not any(run.glob("fold*/backup"))

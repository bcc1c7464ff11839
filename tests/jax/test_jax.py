"""heartcv under KERAS_BACKEND=jax without TensorFlow: import, build, fit, save/load, explain,
predict, the CLI, and the bundle PyDataset with worker processes."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import heartcv
from heartcv import explain
from heartcv.data.bundle import write_bundle
from heartcv.data.batches import ArraySequence, BundleSequence, dataset_from_bundle, make_dataset
from tests.jax import reference

pytestmark = pytest.mark.jax


def test_backend_is_jax_and_tensorflow_is_never_imported():
    import importlib

    import heartcv.cli
    import heartcv.predict  # noqa: F401
    import heartcv.train  # noqa: F401

    for command in heartcv.cli.COMMANDS.values():  # every command's module, as the CLI runs it
        for name in filter(None, (command.check, command.module)):
            importlib.import_module(f"heartcv.commands.{name}")
    assert keras.backend.backend() == "jax"
    assert "tensorflow" not in sys.modules


def test_explanations_match_tensorflow_reference():
    """Every gradient map equals the TensorFlow one stored in the fixture (r >= 0.99)."""
    ref = np.load(reference.FIXTURE)
    got = reference.maps()
    assert sorted(got) == sorted(ref.files)
    for key in ref.files:
        if key.endswith("/probs"):
            np.testing.assert_allclose(got[key], ref[key], atol=1e-5, err_msg=key)
            continue
        assert got[key].shape == ref[key].shape, key
        for i, (g, r) in enumerate(zip(got[key], ref[key])):
            assert reference.correlation(g, r) >= 0.99, (key, i)
        assert np.abs(got[key] - ref[key]).max() < 1e-3, key


def test_tf_keras_vis_paths_name_the_backend():
    model = reference.skip_model()
    x = reference.images(1)
    with pytest.raises(ValueError, match="TensorFlow backend.*KERAS_BACKEND='jax'"):
        explain.saliency_tfkv(model, x)
    with pytest.raises(ValueError, match="KERAS_BACKEND='jax'"):
        explain.top_k_gradcam(model, x, k=2, engine="tf-keras-vis")
    maps = explain.top_k_gradcam(model, x, k=2)["maps"]  # the heartcv engine runs
    assert maps.shape == (1, 2, reference.SIZE, reference.SIZE)


def test_build_fit_two_steps_save_load_predict(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (8, 40, 40), dtype=np.uint8)
    labels = (np.arange(8) % 2).astype(np.float32)[:, None]
    ds = make_dataset(images, labels, batch_size=4, image_size=32, training=True,
                      augment={"enabled": True}, seed=0)
    assert isinstance(ds, ArraySequence) and len(ds) == 2
    model = heartcv.build_model("small_cnn", input_shape=(32, 32, 3))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    x = make_dataset(images, None, batch_size=4, image_size=32)
    probs = model.predict(x, verbose=0)
    for suffix in (".h5", ".keras"):
        path = tmp_path / f"m{suffix}"
        heartcv.save_model(model, path)
        again = heartcv.load_model(path)
        np.testing.assert_allclose(again.predict(x, verbose=0), probs, atol=1e-5)


def test_bundle_sequence_with_worker_processes_trains(tmp_path):
    rng = np.random.default_rng(1)
    n = 16
    path = write_bundle(tmp_path / "b.h5", rng.integers(0, 255, (n, 40, 40), dtype=np.uint8),
                        labels=(np.arange(n) % 2).astype(np.float32)[:, None],
                        patient_id=[f"p{i // 2}" for i in range(n)],
                        split=["train"] * 12 + ["test"] * 4, class_names=["Cardiomegaly"],
                        task="binary", source="test")
    assert isinstance(dataset_from_bundle(path, "test", batch_size=2, image_size=32),
                      BundleSequence)
    seq = BundleSequence(path, "train", batch_size=4, image_size=32, training=True, seed=0,
                         workers=2, use_multiprocessing=True)
    model = heartcv.build_model("small_cnn", input_shape=(32, 32, 3))
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    history = model.fit(seq, epochs=1, steps_per_epoch=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def _cli(*args, cwd):
    env = dict(os.environ, KERAS_BACKEND="jax")
    proc = subprocess.run([sys.executable, "-m", "heartcv", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def test_cli_prep_train_predict_explain(tmp_path):
    """The whole CLI path from a bundle, in a process that must not import TensorFlow."""
    assert "usage: heartcv" in _cli("--help", cwd=tmp_path)
    _cli("prep", "synthetic", "--out", "b.h5", "--n-patients", "12", "--size", "48",
         cwd=tmp_path)
    _cli("train", "--set", "data.source=b.h5", "--set", "output_dir=runs", "--set", "name=r",
         "--set", "data.image_size=32", "--set", "data.batch_size=8", "--set", "train.epochs=1",
         "--set", "train.steps_per_epoch=2", "--set", "eval.bootstrap=10",
         "--set", "train.verbose=0", cwd=tmp_path)
    model = tmp_path / "runs" / "r" / "model.h5"
    assert model.is_file()
    metrics = json.loads((model.parent / "metrics.json").read_text())
    assert metrics
    _cli("predict", "--model", str(model), "--data", "b.h5", "--split", "test", "--out", "pred",
         "--no-progress", cwd=tmp_path)
    rows = (tmp_path / "pred" / "predictions.csv").read_text().strip().splitlines()
    assert len(rows) > 1
    _cli("explain", "--model", str(model), "--data", "b.h5", "--split", "test", "--out", "ex",
         "--method", "gradcam", "--no-progress", cwd=tmp_path)
    assert list((tmp_path / "ex").rglob("*.png"))

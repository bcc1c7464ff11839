"""run.py --test-data: every trained model tested on a full-resolution bundle at its own size."""

import types
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import load_module

RUN = Path(__file__).resolve().parents[3] / "experiments" / "cardio_xattentionnet" / "run.py"


def _run_module():
    return load_module(RUN, "cardio_run")


def _bundle(path, side, splits):
    from heartcv.data.bundle import write_bundle

    rng = np.random.default_rng(0)
    n = len(splits)
    y = np.tile([0.0, 1.0], n // 2)
    images = (rng.random((n, side, side, 3)) * 80 + 120 * y[:, None, None, None]).astype(np.uint8)
    write_bundle(path, images, labels=y[:, None], patient_id=[f"p{i}" for i in range(n)],
                 split=np.array(splits), class_names=["Cardiomegaly"], task="binary",
                 source="test")
    return path


def test_full_size_test_uses_the_bundle_side_and_the_validation_threshold(tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 255)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    model.save(tmp_path / "m.h5")
    bundle = _bundle(tmp_path / "full.h5", 40, ["test"] * 8)
    run = types.SimpleNamespace(metrics={"threshold": {"value": 0.37, "source": "validation:youden"}},
                                paths={"model_h5": tmp_path / "m.h5"})
    reports, table = _run_module().full_size_test({"tiny": run}, bundle, tmp_path)
    r = reports["tiny"]
    assert r["image_size_mode"] == "full" and r["n_samples"] == 8
    assert r["threshold"] == {"value": 0.37, "source": "validation:youden"}
    text = table.read_text()
    assert "| tiny | full size, 40 px | 8 |" in text


def test_test_data_without_a_test_split_is_refused_before_training(tmp_path, capsys):
    bundle = _bundle(tmp_path / "nosplit.h5", 16, ["train", "val"] * 2)
    rc = _run_module().main(["--test-data", str(bundle), "--output-dir", str(tmp_path / "runs")])
    assert rc == 2
    assert "nosplit.h5: the bundle has no test split" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()

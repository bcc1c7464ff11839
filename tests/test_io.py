import os

import numpy as np
import pytest

import heartcv
from heartcv.io import load_model, save_model


def test_save_load_both_formats(tmp_path):
    model = heartcv.build_model("small_cnn", input_shape=(32, 32, 3), num_classes=3)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    for ext in (".h5", ".keras"):
        path = save_model(model, tmp_path / "sub" / f"m{ext}")
        assert path.is_file()
        np.testing.assert_allclose(load_model(path).predict(x, verbose=0),
                                   model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert sorted(os.listdir(tmp_path / "sub")) == ["m.h5", "m.keras"]  # no temp files left


def test_bad_paths(tmp_path):
    model = heartcv.build_model("small_cnn", input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match=r"Expected a model file ending in .h5 or .keras"):
        save_model(model, tmp_path / "m.pt")
    with pytest.raises(FileNotFoundError, match="Model file not found"):
        load_model(tmp_path / "missing.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match=r"junk.h5 is not a readable Keras model \("):
        load_model(junk)
    good = save_model(model, tmp_path / "good.keras")
    cut = tmp_path / "cut.keras"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # truncated download
    with pytest.raises(ValueError, match=r"cut.keras is not a readable Keras model \("):
        load_model(cut)
    (tmp_path / "dir.h5").mkdir()
    with pytest.raises(ValueError, match=r"dir.h5 is not a readable Keras model"):
        load_model(tmp_path / "dir.h5")


@pytest.mark.parametrize("name", ["m.h5", "m.keras"])
def test_failed_save_leaves_nothing(tmp_path, monkeypatch, name):
    import keras
    from keras.src.legacy.saving import legacy_h5_format  # the .h5 writer save_model calls

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(keras.saving, "save_model", boom)
    monkeypatch.setattr(legacy_h5_format, "save_model_to_hdf5", boom)
    model = heartcv.build_model("small_cnn", input_shape=(32, 32, 3))
    with pytest.raises(RuntimeError):
        save_model(model, tmp_path / name)
    assert list(tmp_path.iterdir()) == []

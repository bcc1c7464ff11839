"""Shared fixtures: real data beside the checkout (skipped when absent), small defaults."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HEARTCV_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def _shared(sub):
    path = SHARED_DATA / sub
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (it lives in ../shared/data)")
    return path


@pytest.fixture
def shared_data():
    """Root of ``../shared/data``; skips the test when it is absent."""
    return _shared("")


@pytest.fixture
def nih_dir():
    return _shared("nih_cxr14")


@pytest.fixture
def jsrt_dir():
    return _shared("jsrt_heart")


@pytest.fixture
def ecg_khan_dir():
    return _shared("ecg_khan")


@pytest.fixture
def mitdb_dir():
    return _shared("mitdb")


def load_module(path, name):
    """The Python file ``path`` (a script: ``experiments/*/run.py``, ``scripts/``,
    ``data_prep/``, a fixture maker) as a module named ``name``; scripts are not importable
    as a package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_data_prep(name):
    """The ``data_prep/<name>.py`` script as a module."""
    return load_module(REPO_ROOT / "data_prep" / f"{name}.py", f"data_prep_{name}")


@pytest.fixture
def offline_keras_home(tmp_path, monkeypatch):
    """An empty Keras home (no cached weights) and no network: downloads fail. Returns it."""
    import keras

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(keras.src.backend.config, "_KERAS_DIR", str(tmp_path))  # read at import

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.src.utils.file_utils.urllib.request, "urlretrieve", no_network)
    return tmp_path

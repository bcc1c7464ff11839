"""The CLI answers help and input errors without TensorFlow, and prints no TF/absl log lines;
``--help`` imports neither pandas nor OpenCV, and ``list-models`` reads the static registry
index (heartcv/_registry_index.py) instead of importing the model code (issue 25).

Timing targets live in ``benchmarks/cli_startup.py`` (results in benchmarks/RESULTS.md); these
tests check what can be checked exactly: which modules are imported and what reaches stderr.
"""

import os
import subprocess
import sys

import pytest

ENV = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "HEARTCV_DEBUG")}
COMMANDS = ("list-models", "prep", "train", "evaluate", "predict", "explain", "report",
            "leakage", "demo")


def _run(*args, extra=()):
    return subprocess.run([sys.executable, *extra, "-m", "heartcv", *args], capture_output=True,
                          text=True, env=ENV, timeout=300)


def _imported(*args):
    """The modules ``heartcv ARGS`` imports (``-X importtime``), and its completed process."""
    out = _run(*args, extra=("-X", "importtime"))
    return {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}, out


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["predict", "--help"],
                                  ["prep", "--help"], ["train", "missing.yaml"],
                                  ["predict", "missing.png", "--model", "missing.h5"], ["evaluate", "missing.h5", "--data", "x.h5"]])
def test_help_and_input_errors_do_not_import_tensorflow(args):
    out = _run(*args, extra=("-X", "importtime"))
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "tensorflow" not in imported and "keras" not in imported, sorted(imported)[:20]


def test_help_prints_nothing_on_stderr():
    out = _run("--help")
    assert out.returncode == 0 and "list-models" in out.stdout
    assert out.stderr == ""


def test_missing_config_is_one_error_line():
    out = _run("train", "missing.yaml")
    assert out.returncode == 2
    assert out.stderr.splitlines() == ["heartcv: error: Config file not found: missing.yaml"]


def test_list_models_by_paper_prints_nothing_on_stderr():
    out = _run("list-models", "--paper", "chd_xray_vgg_unet")
    assert out.returncode == 0, out.stderr
    assert out.stderr == "", out.stderr
    assert [line.split()[0] for line in out.stdout.splitlines()] == \
        ["unet", "vgg16_finetune", "vgg16_unet", "vgg16_view"]


def test_debug_shows_what_tensorflow_writes():
    out = _run("--debug", "list-models", "small_cnn")
    assert out.returncode == 0 and out.stdout.startswith("small_cnn")


@pytest.mark.parametrize("args", [["--help"]] + [[c, "--help"] for c in COMMANDS],
                         ids=lambda a: " ".join(a))
def test_help_imports_no_pandas_opencv_or_tensorflow(args):
    imported, out = _imported(*args)
    assert out.returncode == 0 and "usage: heartcv" in out.stdout
    heavy = {"pandas", "cv2", "tensorflow", "keras", "h5py"} & imported
    assert not heavy, sorted(heavy)


def test_list_models_reads_the_index_without_tensorflow():
    from heartcv._registry_index import MODELS

    imported, out = _imported("list-models")
    assert out.returncode == 0
    assert "tensorflow" not in imported and "keras" not in imported
    assert [line.split()[0] for line in out.stdout.splitlines()] == [m[0] for m in MODELS]


def test_prep_help_lists_the_indexed_datasets():
    from heartcv._registry_index import DATASETS

    out = _run("prep", "--help")
    assert out.returncode == 0
    for name, description in DATASETS:
        assert name in out.stdout and description in out.stdout


def test_import_heartcv_still_registers_everything():
    code = ("import heartcv, keras; from keras.saving import get_registered_object as g; "
            "assert g('heartcv>MaskBackground') and g('heartcv>GlobalWeightedAveragePooling'); "
            "assert 'cxa_densenet121' in heartcv.list_models(); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]

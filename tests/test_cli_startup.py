"""The CLI answers help and input errors without TensorFlow, and prints no TF/absl log lines.

Timing targets live in ``benchmarks/cli_startup.py`` (results in benchmarks/RESULTS.md); these
tests check what can be checked exactly: which modules are imported and what reaches stderr.
"""

import os
import subprocess
import sys

import pytest

ENV = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}


def _run(*args, extra=()):
    return subprocess.run([sys.executable, *extra, "-m", "heartcv", *args], capture_output=True,
                          text=True, env=ENV, timeout=300)


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


def test_list_models_loads_tensorflow_quietly():
    out = _run("list-models", "--paper", "chd_xray_vgg_unet")
    assert out.returncode == 0, out.stderr
    assert out.stderr == "", out.stderr
    assert [line.split()[0] for line in out.stdout.splitlines()] == \
        ["unet", "vgg16_finetune", "vgg16_unet", "vgg16_view"]


def test_debug_shows_what_tensorflow_writes():
    out = _run("--debug", "list-models", "small_cnn")
    assert out.returncode == 0 and out.stdout.startswith("small_cnn")


def test_import_heartcv_still_registers_everything():
    code = ("import heartcv, keras; from keras.saving import get_registered_object as g; "
            "assert g('heartcv>MaskBackground') and g('heartcv>GlobalWeightedAveragePooling'); "
            "assert 'cxa_densenet121' in heartcv.list_models(); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]

"""``import heartcv`` and ``experiments/*/run.py`` print none of TensorFlow's start-up lines
(issue 25): the C++ notices written to descriptor 2 while TensorFlow loads are hidden, what
Python raises later is not, and ``HEARTCV_DEBUG=1`` shows them again."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN_SCRIPTS = sorted(ROOT.glob("experiments/*/run.py"))
ENV = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "HEARTCV_DEBUG")}


def _python(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env=env or ENV, cwd=cwd, timeout=300)


def test_import_heartcv_writes_nothing_to_stderr():
    out = _python("-c", "import heartcv")
    assert out.returncode == 0 and out.stderr == "", out.stderr


def test_what_python_writes_after_the_import_still_shows():
    code = textwrap.dedent("""\
        import heartcv, sys, warnings
        import tensorflow as tf
        warnings.warn("later python warning")
        tf.get_logger().warning("later tensorflow warning")
        print("later print", file=sys.stderr)
        raise SystemExit("later error")
    """)
    out = _python("-c", code)
    assert out.returncode == 1
    for text in ("later python warning", "later tensorflow warning", "later print", "later error"):
        assert text in out.stderr, out.stderr
    assert all("later" in line for line in out.stderr.splitlines()), out.stderr


def test_heartcv_debug_shows_the_start_up_lines():
    raw = _python("-c", "import tensorflow")
    if not raw.stderr:
        pytest.skip("TensorFlow prints no start-up lines on this machine")
    out = _python("-c", "import heartcv", env={**ENV, "HEARTCV_DEBUG": "1"})
    assert out.returncode == 0 and out.stderr, "HEARTCV_DEBUG=1 hid TensorFlow's lines"


# A stand-in for Keras (KERAS_BACKEND=jax, so TensorFlow is not imported): it writes to
# descriptor 2 from "native code" and raises a Python warning while it is imported.
FAKE_KERAS = """
import os, warnings
os.write(2, b"native start-up noise\\n")
warnings.warn("a warning raised during the import")
if os.environ.get("FAKE_KERAS_FAILS"):
    raise ImportError("fake keras is broken")
"""
QUIET = ("__heartcv_register_later__ = True\n"
         "from heartcv._quiet import import_tensorflow_quietly\n"
         "import_tensorflow_quietly(library=True)\n")


@pytest.fixture
def fake_keras(tmp_path):
    (tmp_path / "keras.py").write_text(FAKE_KERAS)
    return {**ENV, "KERAS_BACKEND": "jax",
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}


def test_the_import_hides_native_lines_but_shows_python_warnings(fake_keras):
    out = _python("-c", QUIET, env=fake_keras)
    assert out.returncode == 0, out.stderr
    assert "native start-up noise" not in out.stderr
    assert "UserWarning: a warning raised during the import" in out.stderr


def test_a_failed_import_shows_what_was_hidden(fake_keras):
    out = _python("-c", QUIET, env={**fake_keras, "FAKE_KERAS_FAILS": "1"})
    assert out.returncode == 1
    assert "native start-up noise" in out.stderr and "fake keras is broken" in out.stderr


def test_heartcv_debug_skips_the_sink(fake_keras):
    out = _python("-c", QUIET + "import keras\n", env={**fake_keras, "HEARTCV_DEBUG": "1"})
    assert out.returncode == 0 and "native start-up noise" in out.stderr


@pytest.mark.parametrize("script", RUN_SCRIPTS, ids=lambda p: p.parent.name)
def test_run_py_help_answers_without_tensorflow(script):
    out = _python("-X", "importtime", str(script), "--help", cwd=ROOT)
    assert out.returncode == 0 and "usage:" in out.stdout
    lines = out.stderr.splitlines()
    assert [line for line in lines if not line.startswith("import time:")] == []
    imported = {line.split("|")[-1].strip() for line in lines}
    assert "tensorflow" not in imported and "keras" not in imported


def test_cardio_run_py_help_writes_nothing_to_stderr():
    out = _python(str(ROOT / "experiments" / "cardio_xattentionnet" / "run.py"), "--help")
    assert out.returncode == 0 and out.stderr == "", out.stderr

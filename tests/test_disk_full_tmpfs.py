"""A real full disk (issue 24): `heartcv prep` and `heartcv train` on a 3–6 MB tmpfs.

Each command runs in its own process (a crash in HDF5's C library is a signal there, not a
Python error) and must end as exit 2 with one `error:` line naming the file and the space it
needs, no traceback and no segmentation fault, leaving no temporary file; with the tmpfs grown
to 64 MB the same command then completes (training resumes from its last backup). Mounting a
tmpfs needs root (or CAP_SYS_ADMIN): elsewhere these tests are skipped with the reason.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["data.source=synthetic", "data.n_patients=20", "data.images_per_patient=2",
         "data.image_size=32", "data.batch_size=8", "model.name=small_cnn", "eval.bootstrap=20",
         "train.verbose=0", "train.tensorboard_images=false", "train.epochs=2"]


def _mount(mnt: Path, size: str, remount=False) -> subprocess.CompletedProcess:
    opts = f"remount,size={size}" if remount else f"size={size}"
    args = ["mount", "-o", opts, str(mnt)] if remount else \
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mnt)]
    return subprocess.run(args, capture_output=True, text=True)


@pytest.fixture
def small_disk(tmp_path, request):
    """A tmpfs of ``request.param`` (default 3m) under tmp_path; unmounted afterwards."""
    size = getattr(request, "param", "3m")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no `mount` command here: the real disk-full test needs a tmpfs")
    got = _mount(mnt, size)
    if got.returncode != 0:
        pytest.skip(f"cannot mount a {size} tmpfs here (needs root): {got.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _heartcv(*argv, timeout=600):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "heartcv", *argv], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=env)


def _assert_one_line_exit_2(proc, prog, path):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])  # not 139 / -11
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert re.fullmatch(rf"{prog}: error: no space left on device writing {re.escape(str(path))} "
                        r"\(needs (about|up to) [\d.]+ [kM]B, [\d.]+ (bytes|kB|MB) free\)",
                        lines[0]), lines[0]


def _temps(folder: Path):
    return [p.name for p in folder.rglob("*") if ".tmp" in p.name or ".partial" in p.name
            or p.name.endswith(".lock")]


@pytest.mark.slow  # ~25 s: two processes that import the CLI and generate 400 phantoms
def test_prep_synthetic_on_a_full_tmpfs_then_with_space(small_disk):
    out = small_disk / "b.h5"
    argv = ["prep", "synthetic", "--out", str(out), "--n-patients", "200", "--size", "128"]
    _assert_one_line_exit_2(_heartcv(*argv), "heartcv prep synthetic", out)
    assert list(small_disk.iterdir()) == []
    assert _mount(small_disk, "64m", remount=True).returncode == 0
    done = _heartcv(*argv)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.name for p in small_disk.iterdir()] == ["b.h5"]


@pytest.mark.slow  # ~10 s
def test_prep_chd_on_a_full_tmpfs_then_with_space(small_disk, tmp_path):
    from tests.test_bad_inputs_io import _chd_raw

    raw = _chd_raw(tmp_path / "raw", n_patients=60, size=256)  # ~5 MB of bundle
    out = small_disk / "c.h5"
    argv = ["prep", "chd", "--raw", str(raw), "--out", str(out), "--size", "256",
            "--workers", "1", "--no-progress"]
    _assert_one_line_exit_2(_heartcv(*argv), "heartcv prep chd", out)
    assert _temps(small_disk) == [] and not out.exists()
    assert _mount(small_disk, "64m", remount=True).returncode == 0
    done = _heartcv(*argv)
    assert done.returncode == 0, done.stderr[-3000:]
    assert out.is_file() and _temps(small_disk) == []


@pytest.mark.slow  # ~25 s each: two short trainings in their own processes
@pytest.mark.parametrize("small_disk, fails_at", [("3m", "backup/epoch1.weights.h5"),
                                                  ("6m", "model.h5")],
                         indirect=["small_disk"], ids=["at-the-backup", "at-the-checkpoint"])
def test_train_on_a_full_tmpfs_then_resumes_with_space(small_disk, fails_at):
    argv = ["train"]
    for s in [*TRAIN, f"output_dir={small_disk}", "name=r"]:
        argv += ["--set", s]
    run = small_disk / "r"
    _assert_one_line_exit_2(_heartcv(*argv), "heartcv", run / fails_at)
    assert _temps(small_disk) == []
    assert _mount(small_disk, "64m", remount=True).returncode == 0
    done = _heartcv(*argv)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (run / "metrics.json").is_file() and (run / "model.keras").is_file()
    assert not (run / "backup").exists() and _temps(small_disk) == []

"""Atomic writes (heartcv.files)."""

import os
import stat

import pytest

from heartcv.files import atomic_path, atomic_write_text


def test_atomic_write_gives_the_usual_file_mode(tmp_path):
    path = atomic_write_text(tmp_path / "a.txt", "hello")
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert path.read_text() == "hello"


def test_atomic_path_leaves_nothing_behind_on_error(tmp_path):
    target = tmp_path / "b.bin"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.bin"]


def test_sweep_folder_removes_only_heartcv_temporaries_of_earlier_runs(tmp_path):
    import os
    import tempfile
    import time
    from pathlib import Path

    from heartcv.files import sweep_folder

    def made(prefix, suffix, age):
        fd, name = tempfile.mkstemp(dir=tmp_path, prefix=prefix, suffix=suffix)
        os.close(fd)
        os.utime(name, (time.time() - age, time.time() - age))
        return Path(name)

    old_weights = made(".epoch3.", ".tmp.weights.h5", 60)
    old_csv = made(".history.", ".tmp.csv", 60)
    recent = made(".metrics.", ".tmp.json", -60)  # newer than the sweep: another writer's
    user = tmp_path / ".notes.tmp"
    user.write_text("mine")
    removed = sweep_folder(tmp_path)
    assert sorted(removed) == sorted([old_weights, old_csv])
    assert recent.exists() and user.exists()
    assert sweep_folder(tmp_path / "absent") == []


def test_atomic_path_keeps_a_multi_part_suffix_keras_demands(tmp_path):
    import pytest

    from heartcv.files import atomic_path, sweep_folder

    target = tmp_path / "epoch3.weights.h5"
    with atomic_path(target, suffix=".weights.h5") as tmp:
        assert tmp.name.startswith(".epoch3.") and tmp.name.endswith(".tmp.weights.h5")
        tmp.write_bytes(b"w")
    assert target.read_bytes() == b"w" and sweep_folder(tmp_path) == []
    with pytest.raises(ValueError, match="suffix"):
        with atomic_path(target, suffix=".keras"):
            pass

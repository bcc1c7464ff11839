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

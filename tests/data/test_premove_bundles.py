"""Bundles written before the issue-22 move read identically, and the writer writes the same layout.

``tests/fixtures/premove/bundle_*.h5`` were written by ``make_bundles.py`` at the commit named in
``bundles.json`` (the old ``heartcv/data/h5.py``); ``bundles.json`` and ``bundle_<name>.npz``
hold what the old reader returned for them.
"""

import json
import pathlib

import numpy as np
import pytest
from tests.conftest import load_module

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "premove"
MANIFEST = json.loads((FIXTURES / "bundles.json").read_text())["bundles"]


def _maker():
    return load_module(FIXTURES / "make_bundles.py", "make_bundles")


def _same(got, want):
    arrays, info = got
    expected = np.load(FIXTURES / f"bundle_{want}.npz")
    assert sorted(arrays) == sorted(expected.files)
    for key in expected.files:
        value = arrays[key].astype(str) if arrays[key].dtype == object else arrays[key]
        np.testing.assert_array_equal(value, expected[key], err_msg=key)
        assert value.dtype == expected[key].dtype, key
    return json.loads(json.dumps(info))


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_premove_bundle_reads_identically(name):
    entry = MANIFEST[name]
    info = _same(_maker().contents(FIXTURES / entry["file"]), name)
    for key, value in info.items():
        assert value == entry[key], key


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_writer_writes_the_premove_layout(tmp_path, name):
    maker = _maker()
    path = tmp_path / f"bundle_{name}.h5"
    getattr(maker, f"_{name}")(path)
    entry = MANIFEST[name]
    assert maker.describe(path) == entry["layout"]
    info = _same(maker.contents(path), name)
    for key in ("created", "heartcv_version"):
        info["attrs"].pop(key)
    want = {k: v for k, v in entry.items() if k not in ("file", "layout", "made_at_commit")}
    want["attrs"] = {k: v for k, v in want["attrs"].items()
                     if k not in ("created", "heartcv_version")}
    assert info == want

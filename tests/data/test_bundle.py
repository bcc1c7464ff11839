"""HDF5 bundle (heartcv.data.bundle): round trip, validation on read, atomic writes."""

import json

import h5py
import numpy as np
import pandas as pd
import pytest

from heartcv.data import bundle
from heartcv.data.bundle import (
    SCHEMA_VERSION,
    Box,
    BundleError,
    BundleWriter,
    open_bundle,
    read_bundle,
    write_bundle,
)


def _toy(n=12, size=16, k=2, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size, 1), dtype=np.uint8)
    labels = rng.integers(0, 2, (n, k)).astype(np.float32)
    labels[1, 0] = np.nan
    return {
        "images": images,
        "labels": labels,
        "patient_id": [f"P{i // 2:03d}" for i in range(n)],
        "image_id": [f"img{i:03d}.png" for i in range(n)],
        "split": ["train"] * (n - 4) + ["val"] * 2 + ["test"] * 2,
        "class_names": [f"c{j}" for j in range(k)],
        "task": "multilabel",
        "source": "toy",
    }


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_round_trip_every_field(tmp_path):
    d = _toy()
    n = len(d["images"])
    masks = (np.random.default_rng(1).random((n, 16, 16, 2)) > 0.5).astype(np.uint8)
    boxes = pd.DataFrame({"image_id": ["img003.png", "img003.png", "img007.png"],
                          "label": ["c0", "c1", "c0"], "x": [1.5, 2, 3], "y": [4, 5, 6],
                          "w": [7, 8, 9], "h": [10, 11, 12.25]})
    meta = {"ctr": np.linspace(0.3, 0.6, n), "view": ["PA", "AP"] * (n // 2),
            "age": np.arange(n, dtype=np.int16)}
    fold = np.arange(n) % 3
    path = write_bundle(tmp_path / "b.h5", **d, masks=masks, mask_names=["heart", "lungs"],
                        boxes=boxes, meta=meta, fold=fold, attrs={"note": "hello", "k": 3},
                        batch_size=5)
    assert _files(tmp_path) == ["b.h5"]
    b = read_bundle(path)
    assert len(b) == n
    np.testing.assert_array_equal(b.images, d["images"])
    np.testing.assert_array_equal(b.labels, d["labels"])
    assert b.labels.dtype == np.float32 and np.isnan(b.labels[1, 0])
    np.testing.assert_array_equal(b.masks, masks)
    assert b.mask_names == ["heart", "lungs"]
    assert b.patient_id.tolist() == d["patient_id"]
    assert b.image_id.tolist() == d["image_id"]
    assert b.split.tolist() == d["split"]
    np.testing.assert_array_equal(b.fold, fold)
    assert b.class_names == ["c0", "c1"] and b.task == "multilabel"
    assert b.attrs["schema_version"] == SCHEMA_VERSION
    assert b.attrs["source"] == "toy" and b.attrs["note"] == "hello" and b.attrs["k"] == 3
    assert b.attrs["image_size"] == (16, 16)
    assert isinstance(b.attrs["heartcv_version"], str) and b.attrs["created"].endswith("+00:00")
    np.testing.assert_allclose(b.meta("ctr"), meta["ctr"])
    assert b.meta("view").tolist() == meta["view"]
    assert b.meta("age").dtype == np.int16
    assert b.boxes_for(3) == [Box("c0", 1.5, 4, 7, 10), Box("c1", 2, 5, 8, 11)]
    assert b.boxes_for(7) == [Box("c0", 3, 6, 9, 12.25)] and b.boxes_for(0) == []
    np.testing.assert_array_equal(b.indices("val"), [8, 9])
    assert b.patient_ids("test").tolist() == ["P005"]
    assert len(b.indices()) == n

    with open_bundle(path) as lazy:  # same answers with data left on disk
        assert isinstance(lazy.images, h5py.Dataset)
        assert lazy.images.chunks == (1, 16, 16, 1) and lazy.images.compression == "gzip"
        assert lazy.masks.chunks == (1, 16, 16, 2)
        np.testing.assert_array_equal(lazy.images[lazy.indices("test")], d["images"][10:])
        assert lazy.boxes_for(-5) == [Box("c0", 3, 6, 9, 12.25)]
        assert lazy.meta("view").tolist() == meta["view"]


def test_segmentation_bundle_single_mask_lzf(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 8, 8), dtype=np.uint8)  # (N, H, W) -> C = 1
    masks = rng.random((4, 8, 8)) > 0.5  # bool accepted
    write_bundle(tmp_path / "s.h5", images, masks=masks, patient_id=list("abcd"),
                 task="segmentation", source="toy", compression="lzf")
    b = read_bundle(tmp_path / "s.h5")
    assert b.images.shape == (4, 8, 8, 1) and b.labels is None and b.fold is None
    np.testing.assert_array_equal(b.masks, masks.astype(np.uint8))
    assert b.split.tolist() == [""] * 4 and b.image_id.tolist() == ["0", "1", "2", "3"]
    with open_bundle(tmp_path / "s.h5") as lazy:
        assert lazy.images.compression == "lzf"


def test_lookup_errors_name_the_problem(tmp_path):
    write_bundle(tmp_path / "b.h5", **_toy(), meta={"view": ["PA"] * 12})
    b = read_bundle(tmp_path / "b.h5")
    with pytest.raises(ValueError, match="Did you mean 'train'"):
        b.indices("trian")
    with pytest.raises(KeyError, match="Did you mean 'view'"):
        b.meta("veiw")
    with pytest.raises(IndexError, match="index=12"):
        b.boxes_for(12)


# -- invalid files ----------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0.5, 0.9, -64])
def test_truncated_file(tmp_path, keep):
    path = write_bundle(tmp_path / "b.h5", **_toy())
    data = path.read_bytes()
    cut = int(len(data) * keep) if keep > 0 else len(data) + keep
    path.write_bytes(data[:cut])
    with pytest.raises(BundleError, match="truncated or corrupt") as info:
        open_bundle(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_not_hdf5_empty_missing(tmp_path):
    txt = tmp_path / "notes.h5"
    txt.write_text("just some text\n" * 20)
    with pytest.raises(BundleError, match=r"notes\.h5: not an HDF5 file"):
        open_bundle(txt)
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    with pytest.raises(BundleError, match=r"empty\.h5: empty file"):
        read_bundle(empty)
    with pytest.raises(FileNotFoundError, match="absent.h5"):
        open_bundle(tmp_path / "absent.h5")


def _edit(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f)


WRONG_SCHEMA = [
    ("missing images", lambda f: f.__delitem__("images"), "required dataset `images` is missing"),
    ("missing labels", lambda f: f.__delitem__("labels"), "needs a `labels` dataset"),
    ("short patient_id", lambda f: f["patient_id"].resize(11, axis=0),
     "`patient_id` has 11 entries but `images` has 12"),
    ("short labels", lambda f: f["labels"].resize(10, axis=0), "`labels` has 10 entries"),
    ("schema 99", lambda f: f.attrs.__setitem__("schema_version", 99),
     "schema_version 99 is not supported"),
    ("no schema", lambda f: f.attrs.__delitem__("schema_version"), "no `schema_version`"),
    ("class names", lambda f: f.attrs.__setitem__("class_names", json.dumps(["a"])),
     "`labels` has 2 columns but class_names lists 1"),
    ("bad task", lambda f: f.attrs.__setitem__("task", "regression"), "attribute `task`"),
    ("float images", lambda f: (f.__delitem__("images"), f.create_dataset(
        "images", data=np.zeros((12, 4, 4, 1), np.float32))),
     "`images` must be (N, H, W, C) uint8"),
    ("short meta", lambda f: f.create_dataset("meta/x", data=np.zeros(3)),
     "`meta/x` has 3 entries"),
    ("split names", lambda f: f["split"].__setitem__(0, "valid"), "unknown names ['valid']"),
    ("duplicate ids", lambda f: f["image_id"].__setitem__(1, "img000.png"),
     "`image_id` has duplicates, e.g. 'img000.png'"),
    ("empty patient", lambda f: f["patient_id"].__setitem__(2, ""),
     "`patient_id` is empty at index 2"),
]


@pytest.mark.parametrize("name,edit,message", WRONG_SCHEMA, ids=[c[0] for c in WRONG_SCHEMA])
def test_wrong_schema(tmp_path, name, edit, message):
    path = write_bundle(tmp_path / "b.h5", **_toy())
    _edit(path, edit)
    with pytest.raises(BundleError) as info:
        open_bundle(path)
    msg = str(info.value)
    assert message in msg and str(path) in msg and "\n" not in msg


def test_h5_file_that_is_not_a_bundle(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(BundleError, match="not a heartcv bundle"):
        open_bundle(path)


# -- atomic writes ----------------------------------------------------------------------------


class _FailingImages:
    """Array-like whose second batch cannot be read (a disk error mid-write)."""

    def __init__(self, images):
        self.images, self.shape, self.dtype = images, images.shape, images.dtype

    def __getitem__(self, item):
        if item.start and item.start >= 4:
            raise OSError("simulated read error")
        return self.images[item]


def test_exception_mid_write_leaves_nothing(tmp_path):
    d = _toy()
    d["images"] = _FailingImages(d["images"])
    with pytest.raises(OSError, match="simulated"):
        write_bundle(tmp_path / "b.h5", **d, batch_size=4)
    assert _files(tmp_path) == []


def test_writer_exception_and_count_mismatch_leave_nothing(tmp_path):
    d = _toy()
    with pytest.raises(RuntimeError, match="boom"):
        with BundleWriter(tmp_path / "w.h5", task="binary", class_names=["c0"], source="t") as w:
            w.append(d["images"][:3], labels=d["labels"][:3, :1], patient_id=d["patient_id"][:3])
            assert (tmp_path / "w.h5").exists() is False
            raise RuntimeError("boom")
    assert _files(tmp_path) == []
    with pytest.raises(ValueError, match="Expected 5 samples"):
        with BundleWriter(tmp_path / "w.h5", task="binary", class_names=["c0"], source="t",
                          n=5) as w:
            w.append(d["images"][:3], labels=d["labels"][:3, :1], patient_id=d["patient_id"][:3])
    assert _files(tmp_path) == []


def test_writer_streams_and_resumes(tmp_path):
    d = _toy()
    kw = dict(task="multilabel", class_names=d["class_names"], source="toy")
    part = tmp_path / "w.h5.partial"
    w = BundleWriter(tmp_path / "w.h5", temp_path=part, keep_partial=True, **kw)
    w.append(d["images"][:5], labels=d["labels"][:5], patient_id=d["patient_id"][:5],
             image_id=d["image_id"][:5], split=d["split"][:5], meta={"m": np.arange(5)})
    w.append(d["images"][5:8], labels=d["labels"][5:8], patient_id=d["patient_id"][5:8],
             image_id=d["image_id"][5:8], split=d["split"][5:8], meta={"m": np.arange(5, 8)})
    w.abort()  # interrupted: the partial file stays, nothing under the final name
    assert _files(tmp_path) == ["w.h5.partial"]
    w = BundleWriter(tmp_path / "w.h5", temp_path=part, resume=True, **kw)
    assert w.n_written == 8
    w.truncate(5)  # drop the batch that was not recorded as done
    w.append(d["images"][5:], labels=d["labels"][5:], patient_id=d["patient_id"][5:],
             image_id=d["image_id"][5:], split=d["split"][5:], meta={"m": np.arange(5, 12)})
    w.close()
    assert _files(tmp_path) == ["w.h5"]
    b = read_bundle(tmp_path / "w.h5")
    np.testing.assert_array_equal(b.images, d["images"])
    np.testing.assert_array_equal(b.meta("m"), np.arange(12))
    assert b.image_id.tolist() == d["image_id"]


# -- bad arguments ----------------------------------------------------------------------------


def _with(**changes):
    d = _toy()
    d.update(changes)
    return d


ILL_CASES = [
    ("float images", _with(images=np.zeros((12, 4, 4, 1), np.float32)), TypeError,
     r"dtype uint8. Received: images.dtype=float32"),
    ("2 channels", _with(images=np.zeros((12, 4, 4, 2), np.uint8)), ValueError,
     r"C in \(1, 3, 13\)"),
    ("labels rows", _with(labels=np.zeros((11, 2))), ValueError, r"labels.shape=\(11, 2\)"),
    ("labels cols", _with(labels=np.zeros((12, 3))), ValueError, "one column per class name"),
    ("labels value", _with(labels=np.full((12, 2), 2.0)), ValueError, "values 0, 1 or NaN"),
    ("split name", _with(split=["valid"] * 12), ValueError, "Did you mean 'val'"),
    ("empty patient", _with(patient_id=[""] + ["p"] * 11), ValueError, "non-empty string"),
    ("patient count", _with(patient_id=["p"] * 3), ValueError, r"len\(patient_id\)=3"),
    ("task", _with(task="multilable"), ValueError, "Did you mean 'multilabel'"),
    ("dup image ids", _with(image_id=["a"] * 12), ValueError, "duplicate image_id='a'"),
    ("class names str", _with(class_names="c0"), TypeError, "list of strings"),
    ("multiclass one-hot", _with(task="multiclass", labels=np.ones((12, 2))), ValueError,
     "one-hot"),
]


@pytest.mark.parametrize("name,kwargs,exc,match", ILL_CASES, ids=[c[0] for c in ILL_CASES])
def test_write_bundle_rejects(tmp_path, name, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        write_bundle(tmp_path / "b.h5", **kwargs)
    assert _files(tmp_path) == []


def test_masks_must_be_binary_and_named(tmp_path):
    d = _toy()
    d.pop("labels")
    d["task"] = "segmentation"
    with pytest.raises(ValueError, match="values 0/1"):
        write_bundle(tmp_path / "b.h5", **d, masks=np.full((12, 16, 16), 255, np.uint8))
    with pytest.raises(ValueError, match="mask_names"):
        write_bundle(tmp_path / "b.h5", **d, masks=np.zeros((12, 16, 16, 2), np.uint8))
    with pytest.raises(ValueError, match="Expected `masks` for task='segmentation'"):
        write_bundle(tmp_path / "b.h5", **d)
    assert _files(tmp_path) == []


def test_reserved_and_bad_attrs(tmp_path):
    with pytest.raises(ValueError, match="set by the writer"):
        write_bundle(tmp_path / "b.h5", **_toy(), attrs={"task": "x"})
    with pytest.raises(TypeError, match="JSON-encode"):
        write_bundle(tmp_path / "b.h5", **_toy(), attrs={"d": {"a": 1}})
    assert bundle.SCHEMA_VERSION == 1

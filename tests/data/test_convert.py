"""Index -> bundle conversion: bad files counted, resumable, real NIH images."""

import sys

import cv2
import h5py
import numpy as np
import pandas as pd
import pytest

from heartcv.data import convert as conv
from heartcv.data.convert import convert_index
from heartcv.data.bundle import open_bundle, read_bundle
from heartcv.data.images import read_image, resize_image
from heartcv.data.splits import LeakageError


def _img(seed, h=40, w=40):
    return np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)


def _index(rows, class_names=("Cardiomegaly",), task="binary", boxes=None):
    df = pd.DataFrame(rows)
    df.attrs = {"class_names": list(class_names), "task": task, "source": "synthetic test"}
    if boxes is not None:
        df.attrs["boxes"] = pd.DataFrame(boxes)
    return df


def _mixed_folder(folder):
    """Good, converted-with-a-note and unreadable files, with their index."""
    files = {}

    def put(name, array):
        path = folder / name
        assert cv2.imwrite(str(path), array)
        files[name] = path

    for i in range(4):
        put(f"good{i}.png", _img(i))
    put("rgba.png", np.dstack([np.dstack([_img(10)] * 3), np.full((40, 40), 255, np.uint8)]))
    put("deep.png", (_img(11).astype(np.uint16) * 257))
    put("wide.png", _img(12, 30, 50))
    put("small.png", _img(13, 20, 20))
    put("colour.jpg", np.dstack([_img(14), _img(15), _img(16)]))
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image")
    names = [*[f"good{i}.png" for i in range(4)], "rgba.png", "deep.png", "wide.png", "small.png",
             "colour.jpg", "corrupt.png", "empty.png", "missing.png", "notes.txt"]
    orig = {"wide.png": (50, 30), "good1.png": (np.nan, np.nan)}
    rows = []
    for i, name in enumerate(names):
        ow, oh = orig.get(name, (40, 40))
        rows.append({
            "image_id": name, "path": str(folder / name), "patient_id": f"P{i // 2}",
            "split": ["train", "train", "val", "test"][(i // 2) % 4],
            "Cardiomegaly": [0.0, 1.0, np.nan][i % 3], "orig_w": ow, "orig_h": oh,
            "view": "PA" if i % 2 else "AP",
        })
    boxes = {"image_id": ["small.png", "corrupt.png", "good1.png"], "label": ["Cardiomegaly"] * 3,
             "x": [4.0, 1.0, 10.0], "y": [8.0, 1.0, 20.0], "w": [20.0, 1.0, 5.0],
             "h": [10.0, 1.0, 5.0]}
    return _index(rows, boxes=boxes)


def test_mixed_folder_counts_and_reasons(tmp_path):
    index = _mixed_folder(tmp_path)
    out = tmp_path / "out" / "mixed.h5"
    result = convert_index(index, out, size=16, workers=2, chunk=4, progress=False)

    assert result.n_total == 13 and result.n_written == 9 and result.n_skipped == 4
    reasons = {image_id: reason for image_id, _, reason in result.skipped}
    assert reasons["corrupt.png"].startswith("corrupt or truncated image data")
    assert reasons["empty.png"] == "empty file (0 bytes)"
    assert reasons["missing.png"] == "file not found"
    assert reasons["notes.txt"].startswith("unsupported file type '.txt'")
    assert result.converted_notes == {
        "16-bit→8-bit": 1, "RGB→grey": 1, "RGBA→grey": 1,
        "non-square (stretched)": 1, "size differs from index": 1,
    }
    detail = {(i, k): d for i, _, k, d in result.notes}
    assert detail[("small.png", "size differs from index")] == (
        "stored 20×20 (w×h), index orig_w×orig_h 40×40")

    log = pd.read_csv(result.log_path)
    assert result.log_path == tmp_path / "out" / "mixed.log.csv"
    assert sorted(log.loc[log.status == "skipped", "image_id"]) == sorted(reasons)
    assert (log.status == "converted").sum() == 5

    b = read_bundle(out)
    kept = [n for n in index.image_id if n not in reasons]
    assert b.image_id.tolist() == kept and b.images.shape == (9, 16, 16, 1)
    np.testing.assert_array_equal(
        b.images[0, ..., 0], resize_image(read_image(tmp_path / "good0.png"), 16))
    expected_labels = index.set_index("image_id").loc[kept, "Cardiomegaly"].to_numpy(np.float32)
    np.testing.assert_array_equal(b.labels[:, 0], expected_labels)
    assert b.split.tolist() == index.set_index("image_id").loc[kept, "split"].tolist()
    assert b.meta("view").tolist() == index.set_index("image_id").loc[kept, "view"].tolist()
    assert b.meta("src_width")[kept.index("wide.png")] == 50
    assert b.attrs["n_skipped"] == 4 and b.attrs["image_size"] == (16, 16)
    # boxes: small.png was 40x40 in the index frame -> x 0.4; good1.png has no orig -> stored 40
    assert result.boxes_written == 2 and result.boxes_dropped == 1
    (small_box,) = b.boxes_for(kept.index("small.png"))
    np.testing.assert_allclose(small_box[1:], [1.6, 3.2, 8.0, 4.0], rtol=1e-6)
    (g1_box,) = b.boxes_for(kept.index("good1.png"))
    np.testing.assert_allclose(g1_box[1:], [4.0, 8.0, 2.0, 2.0], rtol=1e-6)

    text = result.summary()
    assert "9 of 13 images written" in text and "Cardiomegaly" in text
    assert "skipped: 4" in text and "RGBA→grey: 1" in text
    counts = result.counts
    assert counts.loc["all", "images"] == 9 and counts.loc["all", "Cardiomegaly"] == 3
    assert sorted(p.name for p in out.parent.iterdir()) == ["mixed.h5", "mixed.log.csv"]


def _resume_folder(folder, n=30):
    rows = []
    for i in range(n):
        path = folder / f"im{i:02d}.png"
        if i in (2, 21):
            path.write_bytes(b"not a png")
        else:
            cv2.imwrite(str(path), _img(100 + i, 24, 24))
        rows.append({"image_id": path.name, "path": str(path), "patient_id": f"P{i // 3}",
                     "Cardiomegaly": float(i % 2)})
    return _index(rows)


def _assert_same_bundle(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        assert names_a == names_b
        for name in names_a:
            if isinstance(fa[name], h5py.Dataset):
                x, y = fa[name], fb[name]
                if h5py.check_string_dtype(x.dtype):
                    assert x.asstr()[()].tolist() == y.asstr()[()].tolist(), name
                else:
                    np.testing.assert_array_equal(x[()], y[()], err_msg=name)
                assert dict(x.attrs) == dict(y.attrs)
        attrs_a = {k: v for k, v in fa.attrs.items() if k != "created"}
        attrs_b = {k: v for k, v in fb.attrs.items() if k != "created"}
        assert attrs_a.keys() == attrs_b.keys()
        for k in attrs_a:
            np.testing.assert_array_equal(attrs_a[k], attrs_b[k], err_msg=k)


@pytest.mark.parametrize(
    "where,exc", [("_save_progress", RuntimeError), ("_write_rows", KeyboardInterrupt)]
)
def test_interrupted_conversion_resumes_to_same_bundle(tmp_path, monkeypatch, where, exc):
    index = _resume_folder(tmp_path)
    clean = convert_index(index, tmp_path / "clean.h5", size=16, workers=1, chunk=4, progress=False)
    assert clean.n_written == 28

    real = getattr(conv, where)
    flaky = _fail_on(4, real, exc)  # chunks 0-2 are done; chunk 3 dies mid-way

    out = tmp_path / "resumed.h5"
    monkeypatch.setattr(conv, where, flaky)
    with pytest.raises(exc, match="simulated"):
        convert_index(index, out, size=16, workers=2, chunk=4, progress=False)
    assert not out.exists()
    assert (tmp_path / "resumed.h5.partial").exists()
    assert (tmp_path / "resumed.h5.partial.json").exists()
    monkeypatch.setattr(conv, where, real)

    result = convert_index(index, out, size=16, workers=2, chunk=4, progress=False)
    assert result.resumed_rows == 12
    assert result.n_written == 28 and [s[0] for s in result.skipped] == ["im02.png", "im21.png"]
    _assert_same_bundle(tmp_path / "clean.h5", out)
    assert result.log_path.read_text() == clean.log_path.read_text()
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("resumed"))
    assert left == ["resumed.h5", "resumed.log.csv"]


def _fail_on(call, real, exc=RuntimeError):
    count = {"n": 0}

    def flaky(*args, **kwargs):
        count["n"] += 1
        if count["n"] == call:
            raise exc("simulated interruption")
        return real(*args, **kwargs)

    return flaky


def test_changed_settings_or_no_resume_start_over(tmp_path, monkeypatch):
    index = _resume_folder(tmp_path, n=12)
    real = conv._save_progress
    monkeypatch.setattr(conv, "_save_progress", _fail_on(3, real))
    with pytest.raises(RuntimeError):
        convert_index(index, tmp_path / "a.h5", size=16, workers=1, chunk=4, progress=False)
    monkeypatch.setattr(conv, "_save_progress", real)
    other_size = convert_index(index, tmp_path / "a.h5", size=8, workers=1, chunk=4, progress=False)
    assert other_size.resumed_rows == 0 and read_bundle(tmp_path / "a.h5").images.shape[1] == 8

    monkeypatch.setattr(conv, "_save_progress", _fail_on(3, real))
    with pytest.raises(RuntimeError):
        convert_index(index, tmp_path / "b.h5", size=16, workers=1, chunk=4, progress=False)
    monkeypatch.setattr(conv, "_save_progress", real)
    fresh = convert_index(index, tmp_path / "b.h5", size=16, workers=1, chunk=4, progress=False,
                          resume=False)
    assert fresh.resumed_rows == 0 and fresh.n_written == 11
    same = read_bundle(tmp_path / "b.h5")
    assert same.image_id.tolist() == [f"im{i:02d}.png" for i in range(12) if i != 2]


def test_existing_bundle_needs_overwrite(tmp_path):
    index = _resume_folder(tmp_path, n=6)
    convert_index(index, tmp_path / "x.h5", size=8, workers=1, progress=False)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        convert_index(index, tmp_path / "x.h5", size=8, workers=1, progress=False)
    result = convert_index(index, tmp_path / "x.h5", size=12, workers=1, progress=False,
                           overwrite=True)
    assert result.n_written == 5 and read_bundle(tmp_path / "x.h5").images.shape[1] == 12


def test_all_files_bad_is_an_error_not_an_empty_bundle(tmp_path):
    (tmp_path / "a.png").write_bytes(b"junk")
    index = _index([{"image_id": "a", "path": str(tmp_path / "a.png"), "patient_id": "p",
                     "Cardiomegaly": 1.0}])
    with pytest.raises(ValueError, match="No image of the index could be converted"):
        convert_index(index, tmp_path / "x.h5", workers=1, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "x.log.csv"]


def test_segmentation_masks(tmp_path):
    yy, xx = np.mgrid[:40, :40]
    heart = (((yy - 20) ** 2 + (xx - 20) ** 2) < 100).astype(np.uint8) * 255
    rows = []
    for i in range(5):
        img = tmp_path / f"i{i}.png"
        cv2.imwrite(str(img), _img(i))
        hp, lp = tmp_path / f"h{i}.png", tmp_path / f"l{i}.png"
        cv2.imwrite(str(hp), heart if i != 3 else cv2.resize(heart, (20, 20)))  # half resolution
        # i4: lung mask of the wrong aspect ratio
        cv2.imwrite(str(lp), 255 - heart if i != 4 else np.zeros((10, 40), np.uint8))
        rows.append({"image_id": f"i{i}", "path": str(img), "patient_id": f"p{i}",
                     "mask_path:heart": str(hp),
                     "mask_path:lung": str(lp) if i != 1 else str(tmp_path / "no.png")})
    index = _index(rows, class_names=(), task="segmentation")
    result = convert_index(index, tmp_path / "seg.h5", size=16, workers=1, progress=False)
    reasons = dict((i, r) for i, _, r in result.skipped)
    assert reasons["i1"].startswith("mask 'lung' not found")
    assert reasons["i4"].startswith(
        "mask 'lung' size 40×10 (w×h) does not match the image 40×40")
    assert result.converted_notes == {"mask resolution differs from image": 1}
    b = read_bundle(tmp_path / "seg.h5")
    assert b.masks.shape == (3, 16, 16, 2) and b.mask_names == ["heart", "lung"]
    assert b.labels is None
    assert set(np.unique(b.masks)) == {0, 1}
    total = b.masks[..., 0] + b.masks[..., 1]  # heart and its complement
    np.testing.assert_array_equal(total[:2], np.ones((2, 16, 16)))
    assert (total[2] == 1).mean() > 0.95  # i3: heart mask at half resolution, edges may differ


def _good_rows(tmp_path, n=4):
    rows = []
    for i in range(n):
        p = tmp_path / f"g{i}.png"
        cv2.imwrite(str(p), _img(i, 8, 8))
        rows.append({"image_id": f"g{i}", "path": str(p), "patient_id": f"p{i}",
                     "Cardiomegaly": 0.0})
    return rows


ILL_INDEX = [
    ("no patient column", lambda df: df.rename(columns={"patient_id": "patientid"}), ValueError,
     "Did you mean 'patientid'"),
    ("label column missing", lambda df: df.drop(columns=["Cardiomegaly"]), ValueError,
     r"lacks label columns \['Cardiomegaly'\]"),
    ("duplicate ids", lambda df: df.assign(image_id="same"), ValueError, "duplicates"),
    ("bad split", lambda df: df.assign(split="valid"), ValueError, "Did you mean 'val'"),
    ("leaky split", lambda df: df.assign(patient_id="p", split=["train", "test", "train", "train"]),
     LeakageError, r"1 patient appears in more than one split \(train/test\): p"),
    ("bad labels", lambda df: df.assign(Cardiomegaly=3.0), ValueError, "Invalid labels"),
    ("empty patient", lambda df: df.assign(patient_id=["", "a", "b", "c"]), ValueError,
     "non-empty"),
]


@pytest.mark.parametrize("name,edit,exc,match", ILL_INDEX, ids=[c[0] for c in ILL_INDEX])
def test_malformed_index_fails_before_work(tmp_path, name, edit, exc, match):
    index = _index(_good_rows(tmp_path))
    bad = edit(index)
    bad.attrs = index.attrs
    with pytest.raises(exc, match=match):
        convert_index(bad, tmp_path / "x.h5", workers=1, progress=False)
    assert not any(p.name.startswith("x.") for p in tmp_path.iterdir())


def test_bad_arguments_and_attrs(tmp_path):
    index = _index(_good_rows(tmp_path))
    for kwargs, match in [({"channels": 2}, "channels=2"), ({"size": 0}, "size=0"),
                          ({"chunk": 0}, "chunk=0"), ({"workers": 0}, "workers=0"),
                          ({"compression": "zip"}, "Did you mean 'lzf'|compression='zip'")]:
        with pytest.raises(ValueError, match=match):
            convert_index(index, tmp_path / "x.h5", progress=False, **kwargs)
    no_task = index.copy()
    no_task.attrs = {"class_names": ["Cardiomegaly"], "source": "s"}
    with pytest.raises(ValueError, match=r"index.attrs\['task'\]"):
        convert_index(no_task, tmp_path / "x.h5", progress=False)
    with pytest.raises(TypeError, match="DataFrame"):
        convert_index(index.to_dict(), tmp_path / "x.h5", progress=False)


def test_dicom_index_without_pydicom(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pydicom", None)
    index = _index([{"image_id": "a", "path": str(tmp_path / "a.dcm"), "patient_id": "p",
                     "Cardiomegaly": 1.0}])
    with pytest.raises(ImportError, match=r"pip install pydicom"):
        convert_index(index, tmp_path / "x.h5", progress=False)


def test_rgb_output(tmp_path):
    p = tmp_path / "c.png"
    bgr = np.dstack([_img(1, 8, 8), _img(2, 8, 8), _img(3, 8, 8)])
    cv2.imwrite(str(p), bgr)
    index = _index([{"image_id": "c", "path": str(p), "patient_id": "p", "Cardiomegaly": 1.0}])
    convert_index(index, tmp_path / "x.h5", size=8, channels=3, workers=1, progress=False)
    with open_bundle(tmp_path / "x.h5") as b:
        np.testing.assert_array_equal(b.images[0], bgr[..., ::-1])


def _nih_index(nih_dir):
    labels = pd.read_csv(nih_dir / "labels.csv")
    classes = list(labels.columns[2:16])
    index = pd.DataFrame({
        "image_id": labels["Image Index"],
        "path": [str(nih_dir / "images" / n) for n in labels["Image Index"]],
        "patient_id": labels["Patient ID"].astype(str),
        **{c: labels[c].astype(float) for c in classes},
        "orig_w": 1024, "orig_h": 1024,  # the frame of BBox_List_2017.csv
    })
    raw = pd.read_csv(nih_dir / "metadata" / "BBox_List_2017.csv").iloc[:, :6]
    raw.columns = ["image_id", "label", "x", "y", "w", "h"]
    boxes = raw[raw.image_id.isin(index.image_id)].reset_index(drop=True)
    index.attrs = {"class_names": classes, "task": "multilabel", "source": "NIH ChestX-ray14 (95)",
                   "boxes": boxes}
    return index, boxes


def test_real_nih_images(nih_dir, tmp_path):
    index, boxes = _nih_index(nih_dir)
    assert len(index) == 95
    result = convert_index(index, tmp_path / "nih.h5", size=64, workers=2, progress=False)
    assert result.n_written == 95 and result.skipped == []
    # two RGBA PNGs and one stored at 512x512 among the 95
    assert result.converted_notes == {"RGBA→grey": 2, "size differs from index": 1}
    b = read_bundle(tmp_path / "nih.h5")
    assert b.images.shape == (95, 64, 64, 1) and b.labels.shape == (95, 14)
    assert b.image_id.tolist() == index.image_id.tolist()
    cardio = b.class_names.index("Cardiomegaly")
    assert int(b.labels[:, cardio].sum()) == int(index["Cardiomegaly"].sum())
    assert sorted(set(b.meta("src_width").tolist())) == [512, 1024]
    assert result.boxes_written == len(boxes) > 0
    first = boxes.iloc[0]
    got = b.boxes_for(b.image_id.tolist().index(first.image_id))
    expected = np.array([first.x, first.y, first.w, first.h]) / 16  # 1024 -> 64
    np.testing.assert_allclose(got[0][1:], expected, rtol=1e-5)

"""CHD reader: file-name convention, heart traces -> masks (synthetic data under tmp_path)."""

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from heartcv.data.datasets import chd, validate_index
from heartcv.data.synthetic.chest import generate_chest_xrays
from tests.conftest import load_data_prep

SQUARE = np.array([[10, 10], [40, 10], [40, 30], [10, 30]], float)



def _write_synthetic_chd(root, n_patients=8, size=64, trace_every=1):
    """Synthetic phantoms saved under the CHD convention, each with its heart trace."""
    d = generate_chest_xrays(n_patients, 2, size, task="chd", view="both", seed=0)
    root.mkdir(parents=True, exist_ok=True)
    names = d["class_names"]
    for k in range(len(d["images"])):
        disease = names[int(np.argmax(d["labels"][k]))]
        source = "az" if k % 4 < 2 else "indiana"
        stem = f"{disease}_{source}_{d['patient_id'][k]}_{d['view'][k]}"
        cv2.imwrite(str(root / f"{stem}.png"), d["images"][k][..., 0])
        if k % trace_every == 0:
            chd.write_trace(root / f"{stem}.txt", d["heart_polygons"][k])
    return d


GOOD_NAMES = [
    ("VSD_az_P00123_frontal.png", ("VSD", "az", "P00123", "frontal", None, "az-P00123")),
    ("normal_Indiana_CXR1042_LATERAL_2.jpg", ("normal", "indiana", "CXR1042", "lateral", 2,
                                              "indiana-CXR1042")),
    ("tof_hosp2_0457-b_frontal", ("TOF", "hosp2", "0457-b", "frontal", None, "hosp2-0457-b")),
    ("some/folder/ASD_az_7_lateral_13.PNG", ("ASD", "az", "7", "lateral", 13, "az-7")),
]


@pytest.mark.parametrize("name,expected", GOOD_NAMES, ids=[g[0] for g in GOOD_NAMES])
def test_parse_filename(name, expected):
    info = chd.parse_filename(name)
    keys = ("disease", "source", "patient", "view", "number", "patient_id")
    assert tuple(info[k] for k in keys) == expected


BAD_NAMES = [
    ("PDA_az_1_frontal.png", "unknown disease 'PDA'"),
    ("VSD_az_1_front.png", "unknown view 'front'; did you mean 'frontal'"),
    ("VSD_az_frontal.png", "expected 4 or 5 '_'-separated parts, found 3"),
    ("VSD_az_1_frontal_x.png", "image number 'x' must be digits"),
    ("VSD_1az_1_frontal.png", "source '1az'"),
    ("VSD_az_p.1_frontal.png", "patient 'p.1'"),
    ("Normall_az_1_frontal.png", "did you mean 'normal'"),
]


@pytest.mark.parametrize("name,match", BAD_NAMES, ids=[b[0] for b in BAD_NAMES])
def test_parse_filename_errors(name, match):
    with pytest.raises(ValueError, match=re.escape(match)) as info:
        chd.parse_filename(name)
    assert name in str(info.value) and chd.CONVENTION in str(info.value)


def test_chd_index_from_synthetic(tmp_path):
    d = _write_synthetic_chd(tmp_path / "chd", trace_every=3)
    df = chd.chd_index(tmp_path / "chd")
    validate_index(df)
    assert len(df) == 16 and df.attrs["class_names"] == list(chd.DISEASES)
    assert df.attrs["task"] == "multiclass"
    assert (df[list(chd.DISEASES)].sum(axis=1) == 1).all()
    assert df["patient_id"].nunique() == 8  # frontal + lateral share the patient
    assert set(df["view"]) == {"frontal", "lateral"} and set(df["source"]) == {"az", "indiana"}
    assert df["trace_path"].notna().sum() == 6
    counts = df["disease"].value_counts()
    expected = np.asarray(d["class_names"])[d["labels"].argmax(axis=1)]
    assert counts.to_dict() == {k: int((expected == k).sum()) for k in set(expected)}
    two = chd.chd_index(tmp_path / "chd", class_names=["normal", "VSD"], views="frontal")
    assert set(two["disease"]) <= {"normal", "VSD"} and set(two["view"]) == {"frontal"}
    assert two.attrs["class_names"] == ["normal", "VSD"]
    with pytest.raises(ValueError, match="left after filtering"):
        chd.chd_index(tmp_path / "chd", sources=["nowhere"])
    with pytest.raises(ValueError, match="Did you mean 'VSD'"):
        chd.chd_index(tmp_path / "chd", class_names=["normal", "vsdd"])


def test_chd_index_reports_bad_names(tmp_path):
    root = tmp_path / "chd"
    _write_synthetic_chd(root, n_patients=4)
    for bad in ("scan_001.png", "PDA_az_9_frontal.png", "VSD_az_9_side.jpg"):
        cv2.imwrite(str(root / bad), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"3 of 11 image name\(s\)") as info:
        chd.chd_index(root)
    assert "scan_001.png" in str(info.value) and "unknown view 'side'" in str(info.value)
    df = chd.chd_index(root, strict=False)
    assert len(df) == 8 and len(df.attrs["unparsed"]) == 3
    with pytest.raises(FileNotFoundError, match="No images"):
        chd.chd_index(_empty(tmp_path))
    assert len(chd.chd_index(root, strict=False, require_traces=True)) == 8
    cv2.imwrite(str(root / "VSD_az_untraced_frontal.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(FileNotFoundError, match=r"1 image\(s\) have no \.txt trace"):
        chd.chd_index(root, strict=False, require_traces=True)


def _empty(tmp_path):
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def test_trace_round_trip(tmp_path):
    v = np.array([[10.5, 12.25], [50, 14], [44.125, 40], [12, 38]])
    path = chd.write_trace(tmp_path / "t.txt", v)
    assert not list(tmp_path.glob(".*tmp"))  # atomic: no temp file left
    back = chd.read_trace(path, image_shape=(64, 64))
    np.testing.assert_array_equal(back, v)
    mask = chd.trace_to_mask(back, (64, 64))
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
    x, y = back[:, 0], back[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    assert abs(int(mask.sum()) - area) / area < 0.1
    assert mask[25, 30] == 1 and mask[5, 5] == 0
    # a closing vertex equal to the first and repeated vertices are dropped
    path.write_text("10 10\n40,10\n40 10\n\n40 30\n10 30\n10 10\n")
    np.testing.assert_array_equal(chd.read_trace(path), SQUARE)
    assert chd.trace_to_mask(SQUARE, (40, 50)).sum() == 31 * 21  # cv2 fills the border pixels


BAD_TRACES = [
    ("empty", "\n\n", "is empty"),
    ("non-numeric", "10 10\n40 ten\n40 30\n", "line 2 is not numeric"),
    ("three numbers", "10 10 1\n40 10\n40 30\n", "line 1: expected two numbers"),
    ("two vertices", "10 10\n40 30\n", "fewer than 3 distinct vertices"),
    ("collinear", "0 0\n10 10\n20 20\n", "encloses no area"),
    ("bow-tie", "10 10\n40 30\n40 10\n10 30\n", "self-intersecting"),
    ("spike", "10 10\n40 10\n30 10\n30 30\n", "self-intersecting"),
    ("outside", "10 10\n70 10\n40 30\n", "outside the 64x48 (WxH) image"),
    ("nan", "10 10\nnan 10\n40 30\n", "non-finite"),
]


@pytest.mark.parametrize("name,text,match", BAD_TRACES, ids=[b[0] for b in BAD_TRACES])
def test_malformed_traces(tmp_path, name, text, match):
    path = tmp_path / f"VSD_az_{name.replace(' ', '-')}_frontal.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(match)) as info:
        chd.read_trace(path, image_shape=(48, 64))
    assert str(path) in str(info.value)


def test_write_trace_rejects_bad_polygon(tmp_path):
    with pytest.raises(ValueError, match="self-intersecting"):
        chd.write_trace(tmp_path / "bow.txt", [[10, 10], [40, 30], [40, 10], [10, 30]])
    assert not list(tmp_path.iterdir())
    with pytest.raises(FileNotFoundError, match="path="):
        chd.read_trace(tmp_path / "absent.txt")
    with pytest.raises(ValueError, match="shape"):
        chd.trace_to_mask(SQUARE, (0, 10))


def test_render_masks_match_synthetic_hearts(tmp_path):
    d = _write_synthetic_chd(tmp_path / "chd", n_patients=4)
    df = chd.chd_index(tmp_path / "chd")
    seg = chd.segmentation_index(df, tmp_path / "masks")
    assert len(seg) == 8 and seg.attrs["task"] == "segmentation" and seg.attrs["untraced"] == 0
    by_id = dict(zip(df["image_id"], range(len(df))))
    order = {f"{np.asarray(d['class_names'])[d['labels'][k].argmax()]}_"
             f"{'az' if k % 4 < 2 else 'indiana'}_{d['patient_id'][k]}_{d['view'][k]}": k
             for k in range(len(d["images"]))}
    for image_id, mpath in zip(seg["image_id"], seg["mask_path"]):
        mask = cv2.imread(mpath, cv2.IMREAD_GRAYSCALE) // 255
        truth = d["heart_masks"][order[image_id]]
        iou = (mask & truth).sum() / (mask | truth).sum()
        assert iou > 0.9, (image_id, iou)
    assert len(by_id) == 8
    # a bad trace: strict raises naming it; otherwise that row is left out
    bad = Path(df["trace_path"].iloc[0])
    bad.write_text("0 0\n60 60\n60 0\n0 60\n")
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        chd.segmentation_index(df, tmp_path / "masks2")
    seg = chd.segmentation_index(df, tmp_path / "masks3", strict=False)
    assert len(seg) == 7 and len(seg.attrs["bad_traces"]) == 1


def test_prep_script_missing_raw(tmp_path, capsys):
    main = load_data_prep("chd").main
    assert main(["--raw", str(tmp_path / "absent"), "--out", str(tmp_path / "c.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "absent" in err[0]


def test_prep_script_writes_bundles(tmp_path, capsys):
    pytest.importorskip("heartcv.data.convert")
    from heartcv.data.bundle import read_bundle

    _write_synthetic_chd(tmp_path / "chd", n_patients=8, size=64)
    main = load_data_prep("chd").main
    out = tmp_path / "chd.h5"
    assert main(["--raw", str(tmp_path / "chd"), "--out", str(out), "--size", "32",
                 "--workers", "1", "--no-progress"]) == 0
    b = read_bundle(out)
    assert b.images.shape == (16, 32, 32, 1) and b.task == "multiclass"
    assert b.class_names == list(chd.DISEASES) and (b.labels.sum(axis=1) == 1).all()
    for pid in np.unique(b.patient_id):  # views of one patient stay together
        assert len(set(b.split[b.patient_id == pid])) == 1
    seg = tmp_path / "seg.h5"
    assert main(["--raw", str(tmp_path / "chd"), "--out", str(seg), "--size", "32",
                 "--workers", "1", "--masks", str(tmp_path / "masks"), "--views", "frontal",
                 "--no-progress"]) == 0
    s = read_bundle(seg)
    assert s.task == "segmentation" and s.masks.shape == (8, 32, 32)
    assert "images" in capsys.readouterr().out

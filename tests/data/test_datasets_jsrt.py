"""JSRT/SCR reader and cardiothoracic ratio: real data in ../shared/data plus synthetic masks."""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from heartcv.data.datasets import jsrt, validate_index
from tests.conftest import load_data_prep




def _masks(shape=(100, 120)):
    """Rectangles: heart columns 45..74 (30 px), lungs 10..44 and 75..109 (thorax 100 px)."""
    heart, left, right = (np.zeros(shape, np.uint8) for _ in range(3))
    heart[40:80, 45:75] = 1
    right[10:90, 10:45] = 1  # patient's right lung is on the image's left
    left[10:90, 75:110] = 1
    return heart, left, right


def test_ctr_synthetic_rectangles():
    heart, left, right = _masks()
    assert jsrt.heart_width(heart) == 30
    assert jsrt.thorax_width(left, right) == 100
    assert jsrt.cardiothoracic_ratio(heart, left, right) == pytest.approx(0.3)
    # 0/255 masks give the same answer
    assert jsrt.cardiothoracic_ratio(heart * 255, left * 255, right * 255) == pytest.approx(0.3)


def test_ctr_thorax_is_widest_single_row():
    heart, left, right = _masks()
    # Lungs whose widest points are on different rows: the bounding box would say 100 px,
    # the internal thoracic diameter (one row) is 90 px.
    left[:] = 0
    right[:] = 0
    right[10:50, 10:45] = 1
    right[50:90, 20:45] = 1
    left[10:50, 75:100] = 1
    left[50:90, 75:110] = 1
    assert jsrt.thorax_width(left, right) == 90
    # The heart width spans its extreme columns even when they lie on different rows.
    heart[:] = 0
    heart[40:60, 45:60] = 1
    heart[60:80, 55:75] = 1
    assert jsrt.heart_width(heart) == 30
    assert jsrt.cardiothoracic_ratio(heart, left, right) == pytest.approx(30 / 90)


ILL_CTR = [
    ("empty heart", lambda h, l, r: (h * 0, l, r), "heart mask is empty"),
    ("empty lungs", lambda h, l, r: (h, l * 0, r * 0), "lung masks are empty"),
    ("shape", lambda h, l, r: (h, l[:-1], r), "share one shape"),
    ("3-D", lambda h, l, r: (h[..., None], l, r), "2-D mask"),
]


@pytest.mark.parametrize("name,make,match", ILL_CTR, ids=[c[0] for c in ILL_CTR])
def test_ctr_ill_inputs(name, make, match):
    with pytest.raises(ValueError, match=match):
        jsrt.cardiothoracic_ratio(*make(*_masks()))


def test_jsrt_index_real(jsrt_dir):
    df = jsrt.jsrt_index(jsrt_dir)
    validate_index(df)
    assert len(df) == 247
    assert int(df["nodule"].sum()) == 154 and int((df["nodule"] == 0).sum()) == 93
    assert (df["patient_id"] == df["image_id"]).all()  # one image per patient
    assert df.attrs["task"] == "segmentation" and df.attrs["structures"] == list(jsrt.STRUCTURES)
    for s in jsrt.STRUCTURES:
        paths = df[f"mask_path:{s}"]
        assert paths.notna().all() and all(Path(p).is_file() for p in paths)
        assert all(Path(p).name == Path(q).name for p, q in zip(paths, df["path"]))


def test_read_mask_thresholds_soft_edges(jsrt_dir):
    path = jsrt_dir / "mask" / "heart" / "JPCLN001.png"
    raw = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert set(np.unique(raw)) - {0, 255}  # soft edges exist
    m = jsrt.read_mask(path)
    assert m.dtype == np.uint8 and set(np.unique(m)) == {0, 1}
    assert m.sum() == (raw >= 128).sum()


def test_ctr_table_real(jsrt_dir):
    table = jsrt.jsrt_ctr_table(jsrt_dir)
    assert len(table) == 247 and table["ctr"].notna().all()
    ctr = table["ctr"]
    assert 0.3 < ctr.min() and ctr.max() < 0.7  # adult PA films
    assert 0.42 < ctr.mean() < 0.52
    assert 0 < (ctr > 0.5).sum() < 247 / 2
    assert (table["thorax_width"] > 300).all()  # lungs span most of the 512-px width


def _tiny_layout(root, names=("JPCLN001", "JPCNN001")):
    heart, left, right = _masks((64, 64))
    for n in names:
        files = (("png", np.full((64, 64), 80, np.uint8)), ("mask/heart", heart * 255),
                 ("mask/left_lung", left * 255), ("mask/right_lung", right * 255))
        for folder, img in files:
            (root / folder).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / folder / f"{n}.png"), img)
    return root


def test_missing_mask_and_bad_name(tmp_path):
    root = _tiny_layout(tmp_path / "jsrt")
    assert len(jsrt.jsrt_index(root, ctr=True)) == 2
    (root / "mask" / "left_lung" / "JPCNN001.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 mask file\(s\) are missing.*JPCNN001"):
        jsrt.jsrt_index(root)
    df = jsrt.jsrt_index(root, require_masks=False)
    assert df["mask_path:left_lung"].isna().sum() == 1 and df.attrs["missing_masks"] == 1
    cv2.imwrite(str(root / "png" / "scan7.png"), np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="scan7.png"):
        jsrt.jsrt_index(root, require_masks=False)
    with pytest.raises(FileNotFoundError, match="png/JPC"):
        jsrt.jsrt_index(tmp_path)


def test_prep_script_missing_raw(tmp_path, capsys):
    main = load_data_prep("jsrt").main
    assert main(["--raw", str(tmp_path / "absent"), "--out", str(tmp_path / "j.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "absent" in err[0]


def test_prep_script_writes_bundle(tmp_path, jsrt_dir, capsys):
    pytest.importorskip("heartcv.data.convert")
    from heartcv.data.bundle import read_bundle

    out = tmp_path / "jsrt.h5"
    rc = load_data_prep("jsrt").main(["--raw", str(jsrt_dir), "--out", str(out), "--size", "64",
                               "--workers", "1", "--no-progress"])
    assert rc == 0
    b = read_bundle(out)
    assert b.images.shape == (247, 64, 64, 1) and b.masks.shape == (247, 64, 64, 3)
    assert b.mask_names == list(jsrt.STRUCTURES) and b.task == "segmentation"
    heart_area = b.masks[..., 0].reshape(247, -1).mean(axis=1)
    assert (heart_area > 0.03).all() and (heart_area < 0.3).all()
    assert set(b.split) == {"train", "val", "test"}
    out_text = capsys.readouterr().out
    assert "CTR: mean" in out_text and "nodule" in out_text


def test_range_shift_split_holds_out_the_largest_ctrs(tmp_path, jsrt_dir, capsys):
    pytest.importorskip("heartcv.data.convert")
    from heartcv.data.bundle import read_bundle

    out = tmp_path / "top.h5"
    rc = load_data_prep("jsrt").main(["--raw", str(jsrt_dir), "--out", str(out), "--size", "32",
                                      "--workers", "1", "--no-progress",
                                      "--hold-out-top-ctr", "0.2"])
    assert rc == 0
    b = read_bundle(out)
    split = np.asarray(b.split).astype(str)
    table = jsrt.jsrt_ctr_table(jsrt_dir).set_index("image_id")
    ctr = table.loc[np.asarray(b.image_id).astype(str), "ctr"].to_numpy()
    assert (split == "test").sum() == round(0.2 * 247)
    assert ctr[split == "test"].min() > ctr[split != "test"].max()
    assert set(split) == {"train", "val", "test"}
    assert "range shift" not in capsys.readouterr().err


def test_range_shift_split_rejects_a_bad_fraction():
    df = pd.DataFrame({"image_id": list("abcd"), "path": list("abcd"), "patient_id": list("abcd"),
                       "ctr": [0.4, 0.5, 0.6, 0.7]})
    with pytest.raises(ValueError, match="hold-out-top-ctr"):
        jsrt.range_shift_split(df, 0.9, seed=0)
    out = jsrt.range_shift_split(df, 0.25, seed=0)
    assert out.loc[out["split"] == "test", "image_id"].tolist() == ["d"]

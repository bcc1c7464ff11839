"""NIH ChestX-ray14 reader on the real metadata and the 95 real images in ../shared/data."""

import functools
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heartcv.data.datasets import boxes_frame, class_counts, cxr14, validate_index
from heartcv.data.splits import LeakageError
from tests.conftest import load_data_prep

V2020 = "Data_Entry_2017_v2020.csv.gz"



@functools.lru_cache(maxsize=1)
def _cardio_all(nih_dir):
    return cxr14.cardiomegaly_index(nih_dir, require_images=False)


@pytest.fixture
def cardio_all(nih_dir):
    """The cardiomegaly view over the whole metadata (read once per session)."""
    return _cardio_all(nih_dir)


def _raw_with_lists(tmp_path, nih_dir, train_val, test):
    """A raw folder linking the real metadata and images, plus official list files."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "metadata").symlink_to(nih_dir / "metadata")
    (raw / "images").symlink_to(nih_dir / "images")
    (raw / "train_val_list.txt").write_text("\n".join(train_val) + "\n")
    (raw / "test_list.txt").write_text("\n".join(test) + "\n")
    return raw


def test_pathologies_official_order(nih_dir):
    assert len(cxr14.PATHOLOGIES) == 14
    labels = pd.read_csv(nih_dir / "labels.csv", nrows=1)
    published = [c for c in labels.columns if c in cxr14.PATHOLOGIES]
    assert tuple(published) == cxr14.PATHOLOGIES


def test_cardiomegaly_view_counts(cardio_all):
    df = cardio_all
    assert (df["Cardiomegaly"] == 1).sum() == 2776
    assert (df["Cardiomegaly"] == 0).sum() == 60361
    assert len(df) == 2776 + 60361
    assert df.attrs["task"] == "binary" and df.attrs["class_names"] == ["Cardiomegaly"]
    # Positives include images with co-findings; negatives are exactly "No Finding".
    assert (df.loc[df["Cardiomegaly"] == 0, "finding_labels"] == "No Finding").all()
    positives = df.loc[df["Cardiomegaly"] == 1, "finding_labels"]
    assert (positives == "Cardiomegaly").sum() == 1093  # the "alone" definition is smaller
    assert df["path"].notna().sum() == 68  # of the 95 images on disk
    assert "split" not in df.columns  # no official lists in ../shared/data


def test_multilabel_index_95_images_match_labels_csv(nih_dir):
    df = cxr14.multilabel_index(nih_dir)
    validate_index(df)
    assert len(df) == 95 and df.attrs["missing_images"] == 112120 - 95
    assert df.attrs["class_names"] == list(cxr14.PATHOLOGIES) and df.attrs["task"] == "multilabel"
    assert all(Path(p).is_file() and Path(p).is_absolute() for p in df["path"])
    ref = pd.read_csv(nih_dir / "labels.csv").set_index("Image Index")
    got = df.set_index("image_id")
    for name in cxr14.PATHOLOGIES:
        np.testing.assert_array_equal(got[name].to_numpy(), ref.loc[got.index, name].to_numpy())
    assert (got["patient_id"] == ref.loc[got.index, "Patient ID"].map("{:08d}".format)).all()
    assert {"age", "sex", "view", "original_width", "pixel_spacing_x"} <= set(df.columns)
    assert "orig_w" not in df.columns  # the published sizes are of the scan, not of the PNG


def test_require_images_false_keeps_all_rows(nih_dir):
    df = cxr14.multilabel_index(nih_dir, require_images=False)
    assert len(df) == 112120 and df["patient_id"].nunique() == 30805
    assert df["path"].notna().sum() == 95
    assert df[list(cxr14.PATHOLOGIES)].sum().astype(int).tolist() == [
        11559, 2776, 13317, 19894, 5782, 6331, 1431, 5302, 4667, 2303, 2516, 1686, 3385, 227]
    assert (df[list(cxr14.PATHOLOGIES)].sum(axis=1) == 0).sum() == 60361  # "No Finding"


def test_bboxes_parsed(nih_dir):
    boxes = cxr14.read_bboxes(nih_dir / "metadata" / "BBox_List_2017.csv")
    assert list(boxes.columns) == ["image_id", "label", "x", "y", "w", "h"]
    assert len(boxes) == 984 and (boxes["label"] == "Cardiomegaly").sum() == 146
    assert set(boxes["label"]) <= set(cxr14.PATHOLOGIES)  # "Infiltrate" mapped back
    raw = cxr14.read_bboxes(nih_dir / "metadata" / "BBox_List_2017.csv", canonical_labels=False)
    assert (raw["label"] == "Infiltrate").sum() == 123
    assert ((boxes[["x", "y"]] >= 0).all(axis=None) and (boxes["x"] + boxes["w"] <= 1024).all())


def test_cardiomegaly_boxes_in_attrs(cardio_all):
    boxes = boxes_frame(cardio_all)
    assert len(boxes) == 146 and set(boxes["label"]) == {"Cardiomegaly"}
    positives = cardio_all.loc[cardio_all["Cardiomegaly"] == 1, "image_id"]
    assert set(boxes["image_id"]) <= set(positives)
    # attrs hold plain lists, so pandas can still concatenate/print the index
    assert len(pd.concat([cardio_all.head(3), cardio_all.tail(3)])) == 6


def test_bbox_bad_header(tmp_path):
    bad = tmp_path / "BBox_List_2017.csv"
    bad.write_text("Image Index,Finding Label,x,y,w,h\n00000001_000.png,Mass,1,2,3,4\n")
    with pytest.raises(ValueError, match=r"lacks the box column\(s\) \['Bbox \[x', 'h\]'\]"):
        cxr14.read_bboxes(bad)


def test_read_metadata_2017_layout(tmp_path):
    """The 2017 file: trailing empty column and (older copies) ages like '058Y'."""
    csv = tmp_path / "Data_Entry_2017.csv"
    csv.write_text(
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,"
        "View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n"
        "00000001_000.png,Cardiomegaly,0,1,058Y,M,PA,2682,2749,0.143,0.143,\n"
        "00000002_000.png,No Finding,0,2,081,M,PA,2500,2048,0.171,0.171,\n")
    meta = cxr14.read_metadata(csv)
    assert list(meta.columns) == list(cxr14.METADATA_COLUMNS)
    assert meta["Patient Age"].tolist() == [58.0, 81.0]
    with gzip.open(tmp_path / "x.csv.gz", "wt") as fh:
        fh.write(csv.read_text().replace("Finding Labels", "Finding Label"))
    with pytest.raises(ValueError, match="Did you mean 'Finding Label'"):
        cxr14.read_metadata(tmp_path / "x.csv.gz")
    csv.write_text(csv.read_text().replace("Cardiomegaly,0,1", "Cardiomegally,0,1"))
    with pytest.raises(ValueError, match="Did you mean 'Cardiomegaly'"):
        cxr14.read_metadata(csv)


def test_download_layout_images_subfolders(tmp_path, nih_dir):
    raw = tmp_path / "raw"
    names = sorted(p.name for p in (nih_dir / "images").glob("*.png"))[:4]
    for k, name in enumerate(names):
        folder = raw / f"images_{k % 2 + 1:03d}" / "images"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).symlink_to(nih_dir / "images" / name)
    (raw / V2020).symlink_to(nih_dir / "metadata" / V2020)
    df = cxr14.multilabel_index(raw)
    assert sorted(df["image_id"]) == names
    assert all("images_00" in p for p in df["path"])


def test_missing_raw_dir_and_metadata(tmp_path):
    with pytest.raises(FileNotFoundError, match="raw_dir="):
        cxr14.multilabel_index(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="Data_Entry_2017_v2020.csv"):
        cxr14.multilabel_index(tmp_path)


def test_official_lists_reproduce_sizes(tmp_path, nih_dir):
    ids = sorted(p.name for p in (nih_dir / "images").glob("*.png"))
    train_val, test = ids[:70], ids[70:]
    raw = _raw_with_lists(tmp_path, nih_dir, train_val, test)
    df = cxr14.multilabel_index(raw, seed=3)
    assert df.attrs["split_source"] == "official"
    counts = df["split"].value_counts()
    assert counts["test"] == len(test)
    assert counts["train"] + counts["val"] == len(train_val)
    assert 4 <= counts["val"] <= 10  # 10% of 70 patients (one image each)
    assert set(df.loc[df["split"] == "test", "image_id"]) == set(test)
    again = cxr14.multilabel_index(raw, seed=3)
    assert (again["split"] == df["split"]).all()
    # assign_split keeps an official split as it is
    assert (cxr14.assign_split(df, seed=99)["split"] == df["split"]).all()
    table = class_counts(df)
    assert list(table.columns) == ["train", "val", "test"] and table.loc["images"].sum() == 95


def test_official_lists_unlisted_dropped_and_unknown_rejected(tmp_path, nih_dir):
    ids = sorted(p.name for p in (nih_dir / "images").glob("*.png"))
    raw = _raw_with_lists(tmp_path, nih_dir, ids[:10], ids[10:15])
    df = cxr14.multilabel_index(raw)
    assert len(df) == 15 and df.attrs["unlisted_images"] == 80
    (raw / "test_list.txt").write_text("99999999_000.png\n")
    with pytest.raises(ValueError, match="not in .*99999999_000.png"):
        cxr14.multilabel_index(raw)
    (raw / "test_list.txt").unlink()
    with pytest.raises(FileNotFoundError, match="needs both"):
        cxr14.multilabel_index(raw)


def test_official_lists_cross_split_patient_raises(tmp_path, nih_dir):
    ids = sorted(p.name for p in (nih_dir / "images").glob("*.png"))
    # 00000001_000.png is on disk; 00000001_001.png (same patient) is only in the metadata.
    raw = _raw_with_lists(tmp_path, nih_dir, ids[:50], ids[50:] + ["00000001_001.png"])
    assert "00000001_000.png" in ids[:50]
    with pytest.raises(LeakageError, match="00000001") as info:
        cxr14.cardiomegaly_index(raw)
    assert info.value.patients == ["00000001"]


def test_fallback_patient_split(cardio_all):
    df = cxr14.assign_split(cardio_all, seed=0)
    frac = df["split"].value_counts(normalize=True)
    assert abs(frac["train"] - 0.72) < 0.01 and abs(frac["val"] - 0.08) < 0.01
    assert abs(frac["test"] - 0.2) < 0.01
    by_patient = df.groupby("patient_id")["split"].nunique()
    assert (by_patient == 1).all()
    pos = df[df["Cardiomegaly"] == 1]["split"].value_counts(normalize=True)
    assert abs(pos["test"] - 0.2) < 0.03  # stratified on the label
    assert (cxr14.assign_split(cardio_all, seed=0)["split"] == df["split"]).all()
    assert (cxr14.assign_split(cardio_all, seed=1)["split"] != df["split"]).any()


def test_prep_script_missing_raw(tmp_path, capsys):
    main = load_data_prep("cxr14").main
    assert main(["--raw", str(tmp_path / "absent"), "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "absent" in err[0]


def test_prep_script_writes_bundle(tmp_path, nih_dir, capsys):
    pytest.importorskip("heartcv.data.convert")
    from heartcv.data.bundle import read_bundle

    out = tmp_path / "cardio.h5"
    main = load_data_prep("cxr14").main
    rc = main(["--raw", str(nih_dir), "--out", str(out), "--size", "64", "--view", "cardiomegaly",
               "--workers", "1"])
    assert rc == 0 and out.is_file()
    b = read_bundle(out)
    assert b.images.shape == (68, 64, 64, 1)
    assert list(b.class_names) == ["Cardiomegaly"] and int(np.nansum(b.labels)) == 27
    assert set(b.split) <= {"train", "val", "test"}
    assert "Cardiomegaly" in capsys.readouterr().out


def test_keep_splits_filters_rows_and_their_boxes():
    index = pd.DataFrame({"image_id": ["a", "b", "c", "d"], "patient_id": ["1", "2", "3", "4"],
                          "split": ["train", "test", "val", "test"]})
    index.attrs.update(task="binary", boxes=pd.DataFrame(
        {"image_id": ["a", "b", "d"], "label": ["Cardiomegaly"] * 3, "x": [1.0, 2.0, 3.0],
         "y": [0.0] * 3, "w": [5.0] * 3, "h": [5.0] * 3}))
    kept = cxr14.keep_splits(index, ["test"])
    assert list(kept["image_id"]) == ["b", "d"] and kept.attrs["task"] == "binary"
    assert list(kept.attrs["boxes"]["image_id"]) == ["b", "d"]
    assert len(index) == 4 and len(index.attrs["boxes"]) == 3  # the input is left as it was
    assert cxr14.keep_splits(index, None) is index
    with pytest.raises(ValueError, match=r"No image in splits \['nosuch'\]"):
        cxr14.keep_splits(index, ["nosuch"])


@pytest.mark.slow  # two preps over the 63k-row metadata: ~10 s on the shared box
def test_prep_splits_test_writes_the_same_test_images_at_another_size(tmp_path, nih_dir, capsys):
    """--splits test: only the test split, the same patients as a full bundle of that seed."""
    from heartcv.cli import main
    from heartcv.data.bundle import read_bundle

    common = ["--raw", str(nih_dir), "--view", "cardiomegaly", "--workers", "1", "--no-progress"]
    assert main(["prep", "cxr14", *common, "--out", str(tmp_path / "all.h5"), "--size", "16"]) == 0
    assert main(["prep", "cxr14", *common, "--out", str(tmp_path / "test.h5"), "--size", "40",
                 "--splits", "test"]) == 0
    assert "writing only splits ['test']" in capsys.readouterr().out
    full, test = read_bundle(tmp_path / "all.h5"), read_bundle(tmp_path / "test.h5")
    assert test.images.shape[1:3] == (40, 40) and set(test.split) == {"test"}
    in_test = np.asarray(full.split) == "test"
    assert sorted(test.image_id) == sorted(np.asarray(full.image_id)[in_test])
    order = np.argsort(np.asarray(full.image_id)[in_test])
    np.testing.assert_array_equal(test.labels[np.argsort(test.image_id)],
                                  full.labels[in_test][order])

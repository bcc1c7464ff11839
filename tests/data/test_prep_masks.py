"""``heartcv prep masks``: any images + masks folder -> segmentation bundle.

Toy folders are drawn from the synthetic chest phantom (arbitrary file names, mixed formats,
an extra structure); the JSRT copy in ../shared/data goes through both ``prep jsrt`` and
``prep masks`` and must give the same images, masks and CTR.
"""

import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from heartcv.cli import main
from heartcv.data.datasets import jsrt, list_datasets
from heartcv.data.datasets import masks as masks_ds
from heartcv.data.bundle import read_bundle
from heartcv.data.images import read_image, resize_image, resize_mask
from heartcv.data.synthetic import generate_chest_xrays
from tests.conftest import load_data_prep

STRUCTURES = ["heart", "left_lung", "right_lung", "aorta"]  # "aorta" sorts first, goes last
# image file name -> mask file extension; stems as odd as real exports get
FILES = {
    "patient 7 (PA).png": ".png",
    "x-ray_2.png": ".bmp",
    "scan.v3.JPG": ".png",
    "Übersicht 4.tif": ".tif",
    "case_05.bmp": ".png",
    "dx-6.dcm": ".png",
}


def _write(path, img):
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(path.suffix.lower(), img)
    assert ok
    buf.tofile(str(path))  # np.tofile: non-ASCII names work


def _write_dicom(path, pixels):
    pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (pixels.astype(np.uint16) * 16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(path), enforce_file_format=True)


@pytest.fixture(scope="module")
def phantom():
    return generate_chest_xrays(n_patients=len(FILES), images_per_patient=1, size=96, seed=3)


def _make_folder(root, phantom, files=FILES):
    """png/ + mask/<structure>/ from the phantom; returns {stem: {structure: mask}} and images."""
    truth = {}
    for i, (name, mask_ext) in enumerate(files.items()):
        img = phantom["images"][i, ..., 0]
        heart, lung = phantom["heart_masks"][i], phantom["lung_masks"][i]
        cols = np.arange(lung.shape[1])[None, :]
        aorta = np.zeros_like(heart)
        aorta[10:20, 40:50] = 1
        masks = {"heart": heart, "left_lung": lung * (cols >= lung.shape[1] // 2),
                 "right_lung": lung * (cols < lung.shape[1] // 2), "aorta": aorta}
        if i == 1:  # one non-square image, masks resized with it
            img = cv2.resize(img, (112, 80), interpolation=cv2.INTER_AREA)
            masks = {k: cv2.resize(m, (112, 80), interpolation=cv2.INTER_NEAREST)
                     for k, m in masks.items()}
        path = root / "png" / name
        if path.suffix == ".dcm":
            _write_dicom(path, img)
        else:
            _write(path, img)
        stem = path.stem
        for s, m in masks.items():
            scale = 1 if mask_ext == ".bmp" else 255  # 0/1 and 0/255 masks both read
            _write(root / "mask" / s / f"{stem}{mask_ext}", (m * scale).astype(np.uint8))
        truth[stem] = masks
    return truth


def _prep(raw, out, *extra):
    return main(["prep", "masks", "--raw", str(raw), "--out", str(out), "--size", "64",
                 "--workers", "1", *extra])


def test_registered_and_help(capsys):
    assert "masks" in list_datasets()
    assert main(["prep", "masks", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--raw" in text and "--source" in text and "labels.csv" in text
    assert "--seed" not in text  # no split is drawn


def test_toy_folder_converts(tmp_path, phantom, capsys):
    raw, out = tmp_path / "raw", tmp_path / "out" / "external.h5"
    truth = _make_folder(raw, phantom)
    (raw / "png" / "notes.txt").write_text("not an image")
    assert _prep(raw, out) == 0
    text = capsys.readouterr().out
    assert "6 images, 6 patients" in text and "test 6" in text and "CTR: mean" in text
    assert "ignored 1" in text

    b = read_bundle(out)
    stems = sorted(truth)
    assert list(b.image_id) == stems and list(b.patient_id) == stems
    assert set(b.split) == {"test"}
    assert b.task == "segmentation" and b.labels is None and list(b.class_names) == []
    assert b.images.shape == (6, 64, 64, 1) and b.images.dtype == np.uint8
    assert b.masks.shape == (6, 64, 64, 4) and b.mask_names == STRUCTURES
    assert set(np.unique(b.masks)) == {0, 1}
    for i, stem in enumerate(stems):
        path = next((raw / "png").glob(f"{stem}.*"))
        np.testing.assert_array_equal(b.images[i, ..., 0], resize_image(read_image(path), 64))
        for k, s in enumerate(STRUCTURES):
            np.testing.assert_array_equal(b.masks[i, ..., k], resize_mask(truth[stem][s], 64))
        m = truth[stem]
        assert b.meta_columns["ctr"][i] == pytest.approx(
            jsrt.cardiothoracic_ratio(m["heart"], m["left_lung"], m["right_lung"]))
        assert b.meta_columns["heart_width"][i] == jsrt.heart_width(m["heart"])
    assert 0.3 < np.mean(b.meta_columns["ctr"]) < 0.7
    assert "raw" in b.attrs["source"]
    assert not list(out.parent.glob("*.partial*"))


def test_labels_csv_split_patients_and_meta(tmp_path, phantom, capsys):
    raw, out = tmp_path / "raw", tmp_path / "b.h5"
    _make_folder(raw, phantom)
    pd.DataFrame({
        "file": ["patient 7 (PA).png", "x-ray_2", "png/scan.v3.JPG", "Übersicht 4.tif",
                 "case_05", "dx-6.dcm"],
        "patient_id": ["P7", "P7", "", "P4", "P5", "P6"],
        "split": ["train", "train", "val", "test", "test", "train"],
        "age": [61, 61, None, 45, 70, 33],
        "site": ["B", "B", "B", "C", "", "C"],
    }).to_csv(raw / "labels.csv", index=False)
    rc = load_data_prep("masks").main(["--raw", str(raw), "--out", str(out), "--size", "64",
                                       "--workers", "1", "--no-progress",
                                       "--source", "Hospital B"])
    assert rc == 0
    assert "5 patients" in capsys.readouterr().out
    b = read_bundle(out)
    rows = dict(zip(b.image_id, range(len(b.image_id))))
    pid = dict(zip(b.image_id, b.patient_id))
    split = dict(zip(b.image_id, b.split))
    assert pid["patient 7 (PA)"] == pid["x-ray_2"] == "P7" and pid["scan.v3"] == "scan.v3"
    assert split["x-ray_2"] == "train" and split["scan.v3"] == "val" and split["case_05"] == "test"
    age = b.meta_columns["age"]
    assert age[rows["case_05"]] == 70 and np.isnan(age[rows["scan.v3"]])
    assert b.meta_columns["site"][rows["case_05"]] == "" and b.attrs["source"] == "Hospital B"


def test_reader_ctr_undefined_and_without_lungs(tmp_path, phantom):
    raw = tmp_path / "raw"
    files = dict(list(FILES.items())[:2])
    _make_folder(raw, phantom, files)
    _write(raw / "mask" / "heart" / "x-ray_2.bmp", np.zeros((80, 112), np.uint8))
    df = masks_ds.masks_index(raw)
    assert df.attrs["structures"] == STRUCTURES and df.attrs["ctr_undefined"] == ["x-ray_2"]
    assert np.isnan(df.loc[df["image_id"] == "x-ray_2", "ctr"]).all()
    for s in ("left_lung", "right_lung"):
        shutil.rmtree(raw / "mask" / s)
    pd.DataFrame({"image": ["x-ray_2.png"], "ctr": [0.55]}).to_csv(raw / "labels.csv",
                                                                   index=False)
    df = masks_ds.masks_index(raw)  # no CTR measured: the labels' own ctr is kept
    assert df.attrs["structures"] == ["heart", "aorta"] and df.attrs["without_labels"] == 1
    assert df["ctr"].tolist()[1] == 0.55 and np.isnan(df["ctr"].tolist()[0])


# ----------------------------------------------------------------------------- bad layouts

STEM = "x-ray_2"  # the second toy image: png/x-ray_2.png, masks .bmp, 112x80


def _labels(text):
    return lambda r: (r / "labels.csv").write_text(text)


def _garbage(rel):
    return lambda r: (r / rel).write_bytes(b"this is not an image")


def _blank(rel, shape):
    return lambda r: _write(r / rel, np.zeros(shape, np.uint8))


def _copy(rel, to):
    return lambda r: shutil.copy(r / rel, r / to)


ILL_CASES = [
    # (id, change to the toy folder, path named in the error, other words in it)
    ("no png folder", lambda r: shutil.rmtree(r / "png"), "png", "folder not found"),
    ("no mask folder", lambda r: shutil.rmtree(r / "mask"), "mask", "folder not found"),
    ("no images", lambda r: [f.unlink() for f in (r / "png").iterdir()], "png", "no images"),
    ("no structure folders", lambda r: [shutil.rmtree(d) for d in (r / "mask").iterdir()],
     "mask", "no structure folders"),
    ("mask directly in mask/", _blank(f"mask/{STEM}.png", (80, 112)), f"mask/{STEM}.png",
     "mask/<structure>/"),
    ("image without a mask", lambda r: (r / "mask" / "left_lung" / f"{STEM}.bmp").unlink(),
     f"png/{STEM}.png", "'left_lung'"),
    ("mask without an image", _blank("mask/heart/ghost.png", (8, 8)), "mask/heart/ghost.png",
     "without an image"),
    ("mask size differs", _blank(f"mask/heart/{STEM}.bmp", (40, 50)), f"mask/heart/{STEM}.bmp",
     "50x40 (w x h) differs from its image's 112x80"),
    ("unreadable image", _garbage(f"png/{STEM}.png"), f"png/{STEM}.png", "cannot read the image"),
    ("empty image file", lambda r: (r / "png" / f"{STEM}.png").write_bytes(b""),
     f"png/{STEM}.png", "empty file"),
    ("unreadable mask", _garbage(f"mask/aorta/{STEM}.bmp"), f"mask/aorta/{STEM}.bmp",
     "cannot read the mask"),
    ("duplicate image stems", _copy(f"png/{STEM}.png", f"png/{STEM}.jpg"), "png",
     f"share the stem '{STEM}'"),
    ("duplicate mask stems", _copy(f"mask/heart/{STEM}.bmp", f"mask/heart/{STEM}.png"),
     "mask/heart", f"share the stem '{STEM}'"),
    ("labels without image column", _labels("name,age\nx-ray_2.png,3\n"), "labels.csv",
     "no image column"),
    ("labels with two image columns", _labels("image,file\nx-ray_2.png,x-ray_2.png\n"),
     "labels.csv", "several image columns"),
    ("labels naming an unknown image", _labels("image\nx-ray_2.png\nnobody.png\n"), "labels.csv",
     "line 3: no image named 'nobody.png'"),
    ("labels naming an image twice", _labels("image\nx-ray_2.png\nx-ray_2\n"), "labels.csv",
     "lines 2 and 3"),
    ("labels with a reserved column", _labels("image,path\nx-ray_2.png,a\n"), "labels.csv",
     "'path' is reserved"),
    ("labels with a ctr column beside measured CTR", _labels("image,ctr\nx-ray_2.png,0.5\n"),
     "labels.csv", "'ctr' is reserved"),
    ("bad split value", _labels("image,split\nx-ray_2.png,valid\npatient 7 (PA).png,test\n"),
     "labels.csv", "split 'valid'"),
    ("empty split value", _labels("image,split\nx-ray_2.png,\npatient 7 (PA).png,test\n"),
     "labels.csv", "empty split"),
    ("split missing for an image", _labels("image,split\nx-ray_2.png,test\n"), "labels.csv",
     "no row for 1 image"),
    ("patient in two splits",
     _labels("image,patient_id,split\nx-ray_2.png,P1,train\npatient 7 (PA).png,P1,test\n"),
     "labels.csv", "not patient-disjoint"),
]


@pytest.mark.parametrize("name,change,named,words", ILL_CASES, ids=[c[0] for c in ILL_CASES])
def test_bad_layouts_exit_2_and_write_nothing(tmp_path, phantom, capsys, name, change, named,
                                             words):
    raw, out = tmp_path / "raw", tmp_path / "out" / "b.h5"
    _make_folder(raw, phantom, dict(list(FILES.items())[:2]))
    change(raw)
    capsys.readouterr()
    assert _prep(raw, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("heartcv prep masks: error: ")
    assert str(raw / named) in err[0] and words in err[0], err[0]
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_missing_raw_folder(tmp_path, capsys):
    assert _prep(tmp_path / "absent", tmp_path / "b.h5") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "absent" in err[0] and not (tmp_path / "b.h5").exists()


# ----------------------------------------------------------------------------- the JSRT copy


def test_jsrt_copy_reads_as_masks_folder(jsrt_dir):
    ours = masks_ds.masks_index(jsrt_dir)
    ref = jsrt.jsrt_index(jsrt_dir, ctr=True)
    assert len(ours) == len(ref) == 247 and set(ours["split"]) == {"test"}
    assert ours.attrs["structures"] == list(jsrt.STRUCTURES)
    assert ours["image_id"].tolist() == ref["image_id"].tolist()
    for c in ("path", *[f"mask_path:{s}" for s in jsrt.STRUCTURES], *masks_ds.CTR_COLUMNS):
        np.testing.assert_array_equal(ours[c].to_numpy(), ref[c].to_numpy())


def test_jsrt_subset_prep_masks_equals_prep_jsrt(tmp_path, jsrt_dir):
    raw = tmp_path / "jsrt"
    names = ["JPCLN001.png", "JPCLN002.png", "JPCNN001.png", "JPCNN002.png", "JPCNN003.png"]
    for sub in ("png", *[f"mask/{s}" for s in jsrt.STRUCTURES]):
        (raw / sub).mkdir(parents=True)
        for n in names:
            shutil.copy(jsrt_dir / sub / n, raw / sub / n)
    assert main(["prep", "jsrt", "--raw", str(raw), "--out", str(tmp_path / "j.h5"),
                 "--size", "64", "--workers", "1", "--no-progress"]) == 0
    assert _prep(raw, tmp_path / "m.h5", "--no-progress") == 0
    j, m = read_bundle(tmp_path / "j.h5"), read_bundle(tmp_path / "m.h5")
    assert list(m.image_id) == list(j.image_id) == [n[:-4] for n in names]
    assert m.mask_names == j.mask_names == list(jsrt.STRUCTURES)
    np.testing.assert_array_equal(m.images, j.images)
    np.testing.assert_array_equal(m.masks, j.masks)
    for c in masks_ds.CTR_COLUMNS:
        np.testing.assert_allclose(m.meta_columns[c], j.meta_columns[c])
    assert set(m.split) == {"test"} and list(m.patient_id) == list(j.patient_id)

"""`heartcv prep ecg_khan --leads`: the 13-lead bundle of the five-class ECG-image paper."""

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from heartcv.papers.ecg_images_5class.layout import LEAD_NAMES
from heartcv.data.bundle import read_bundle
from heartcv.papers.ecg_images_5class.prep import main, write_lead_bundle
from heartcv.data.synthetic.ecg import generate_ecg_printouts
from tests.conftest import load_data_prep

# published test-subset folders (typos kept) -> synthetic class drawn into them
FOLDERS = {"Normal Person test": "normal", "Abnormal Hearbeat test": "abnormal_heartbeat",
           "Myocardical Infraction test": "mi"}
PER_CLASS = 4


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """12 synthetic printouts saved as JPEG at about the size of the real copies."""
    root = tmp_path_factory.mktemp("ecg_raw")
    sheets = generate_ecg_printouts(PER_CLASS * 3, classes=tuple(FOLDERS.values()), height=540,
                                    width=940, grid="grey", seed=5)
    for i, (img, label) in enumerate(zip(sheets["images"], sheets["labels"])):
        folder = root / list(FOLDERS)[label]
        folder.mkdir(exist_ok=True)
        cv2.imwrite(str(folder / f"S({101 + i}).jpg"), img[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
    return root


def _run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_leads_bundle_from_synthetic_sheets(raw, tmp_path, capsys):
    out = tmp_path / "leads.h5"
    code, stdout, err = _run(["--raw", str(raw), "--out", str(out), "--leads", "--workers", "1",
                              "--no-progress"], capsys)
    assert code == 0, err
    b = read_bundle(out)
    assert b.images.shape == (12, 64, 64, 13) and b.images.dtype == np.uint8
    assert b.task == "multiclass"
    assert b.class_names == ["normal", "abnormal_heartbeat", "myocardial_infarction"]
    assert b.labels.sum(axis=0).tolist() == [PER_CLASS] * 3
    assert set(b.split) <= {"train", "val", "test"} and "train" in set(b.split)
    assert len(set(b.patient_id)) == 12
    for pid, split in zip(b.patient_id, b.split):  # one split per patient
        assert split == b.split[list(b.patient_id).index(pid)]
    assert set(b.meta("layout")) == {"reference"}  # synthetic sheets: the published boxes
    assert json.loads(b.attrs["lead_names"]) == list(LEAD_NAMES)
    assert b.attrs["lead_size"] == 64 and b.attrs["dilate_kernel"] == 3
    # every channel of every sheet holds a bright trace on a dark background
    per_channel = b.images.reshape(12, -1, 13)
    assert (per_channel.max(axis=1) > 128).all() and np.median(per_channel) < 64
    log = pd.read_csv(out.with_name("leads.log.csv"))
    assert len(log) == 12 and set(log["status"]) == {"written"}
    assert "(64, 64, 13)" in stdout and "12 of 12" in stdout


def test_lead_sizes_and_script(raw, tmp_path, capsys):
    out = tmp_path / "l28.h5"
    script = load_data_prep("ecg_khan").main
    assert script(["--raw", str(raw), "--out", str(out), "--leads", "--size", "28",
                   "--dilate", "1", "--workers", "1", "--no-progress"]) == 0
    b = read_bundle(out)
    assert b.images.shape == (12, 28, 28, 13) and b.attrs["dilate_kernel"] == 1
    capsys.readouterr()


def test_split_none_puts_every_sheet_in_test(raw, tmp_path, capsys):
    """An external set (`--split none`): every sheet in `test`, leads and whole sheets."""
    out = tmp_path / "ext.h5"
    code, _, err = _run(["--raw", str(raw), "--out", str(out), "--leads", "--size", "28",
                         "--split", "none", "--workers", "1", "--no-progress"], capsys)
    assert code == 0, err
    b = read_bundle(out)
    assert len(b.split) == 12 and set(b.split) == {"test"}
    sheets = tmp_path / "sheets.h5"
    code, _, err = _run(["--raw", str(raw), "--out", str(sheets), "--size", "64",
                         "--split", "none", "--workers", "1", "--no-progress"], capsys)
    assert code == 0, err
    assert set(read_bundle(sheets).split) == {"test"}


def test_bad_sheet_strict_and_not(raw, tmp_path, capsys):
    bad = tmp_path / "raw"
    for folder in FOLDERS:
        (bad / folder).mkdir(parents=True)
        for src in sorted((raw / folder).iterdir())[:2]:
            (bad / folder / src.name).write_bytes(src.read_bytes())
    cv2.imwrite(str(bad / "Normal Person test" / "Blank(1).jpg"),
                np.full((540, 940, 3), 255, np.uint8))
    out = tmp_path / "b.h5"
    args = ["--raw", str(bad), "--out", str(out), "--leads", "--workers", "1", "--no-progress"]
    code, _, err = _run(args, capsys)
    assert code == 2 and not out.exists()
    assert len(err.strip().splitlines()) == 1
    assert "1 of 7 printouts" in err and "Blank(1).jpg" in err and "no trace rows" in err
    log = pd.read_csv(tmp_path / "b.log.csv")
    assert log["status"].value_counts().to_dict() == {"written": 6, "failed": 1}
    code, stdout, _ = _run(args + ["--no-strict"], capsys)
    assert code == 0 and read_bundle(out).images.shape[0] == 6
    assert "left out: 1" in stdout
    code, _, err = _run(args + ["--no-strict"], capsys)  # exists, no --overwrite
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args,match", [
    (["--raw", "{tmp}/absent"], "raw dataset folder not found"),
    (["--raw", "{tmp}", "--size", "4"], "size"),
    (["--raw", "{tmp}", "--dilate", "0"], "dilate_kernel"),
])
def test_bad_input_returns_2_with_one_line(raw, tmp_path, capsys, args, match):
    args = [a.replace("{tmp}", str(raw if a == "{tmp}" else tmp_path)) for a in args]
    code, _, err = _run(args + ["--out", str(tmp_path / "x.h5"), "--leads", "--no-progress"],
                        capsys)
    assert code == 2 and match in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.h5").exists()


def test_no_printouts_at_all(tmp_path, capsys):
    for folder in list(FOLDERS)[:2]:
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "N(1).jpg"), np.full((540, 940, 3), 255, np.uint8))
    code, _, err = _run(["--raw", str(tmp_path), "--out", str(tmp_path / "x.h5"), "--leads",
                         "--no-strict", "--no-progress"], capsys)
    assert code == 2 and "No lead grid found on any of the 2 printouts" in err
    assert not (tmp_path / "x.h5").exists()


def test_write_lead_bundle_arguments(raw, tmp_path):
    from heartcv.data.datasets import assign_split, ecg_khan

    index = assign_split(ecg_khan.printouts_index(raw), seed=0)
    with pytest.raises(ValueError, match="Received: size=True"):
        write_lead_bundle(index, tmp_path / "x.h5", size=True)
    result = write_lead_bundle(index.iloc[:3], tmp_path / "x.h5", size=32, workers=1,
                               progress=False)
    assert result["written"] == 3 and result["failed"] == []
    assert result["counts"].loc["total", "total"] == 3

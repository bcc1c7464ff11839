"""ECG readers: Khan et al. printouts and lead crops, MIT-BIH beats (real data, ../shared/data)."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from heartcv.data.datasets import ecg_khan, mitbih, validate_index
from tests.conftest import load_data_prep




# --------------------------------------------------------------------------- Khan printouts


def test_printouts_real_folders(ecg_khan_dir):
    df = ecg_khan.printouts_index(ecg_khan_dir)
    validate_index(df)
    assert len(df) == 30
    assert df.attrs["class_names"] == ["normal", "abnormal_heartbeat", "myocardial_infarction"]
    assert set(df["folder"]) == {"Normal Person test", "Abnormal Hearbeat test",
                                 "Myocardical Infraction test"}
    assert df["class"].value_counts().to_dict() == {"normal": 10, "abnormal_heartbeat": 10,
                                                    "myocardial_infarction": 10}
    assert (df[df.attrs["class_names"]].sum(axis=1) == 1).all()
    assert df["patient_id"].is_unique and all(Path(p).is_file() for p in df["path"])
    five = ecg_khan.printouts_index(ecg_khan_dir / "printouts", class_names=ecg_khan.CLASS_NAMES)
    assert five.attrs["class_names"] == list(ecg_khan.CLASS_NAMES) and len(five) == 30
    assert five["covid19"].sum() == 0
    with pytest.raises(ValueError, match="belongs to the classes asked"):
        ecg_khan.printouts_index(ecg_khan_dir, class_names=["covid19"])


@pytest.mark.parametrize("folder,cls", sorted(ecg_khan.FOLDER_CLASSES.items()))
def test_published_folder_names(folder, cls):
    assert ecg_khan.folder_class(folder) == cls
    # releases differ only in the parenthesised count
    base = re.sub(r"\s*\([^()]*\)$", "", folder)
    assert ecg_khan.folder_class(base) == cls
    assert ecg_khan.folder_class(base + " (12)") == cls


def test_unknown_folder_did_you_mean(tmp_path, ecg_khan_dir):
    with pytest.raises(ValueError, match="Did you mean 'Myocardical Infraction test'"):
        ecg_khan.folder_class("Myocardial Infarction test")
    bad = tmp_path / "Myocardial Infarction test"
    bad.mkdir()
    src = ecg_khan_dir / "printouts" / "Myocardical Infraction test"
    shutil.copy(next(src.glob("*.jpg")), bad)
    with pytest.raises(ValueError, match="folder='Myocardial Infarction test'"):
        ecg_khan.printouts_index(tmp_path)
    with pytest.raises(FileNotFoundError, match="No ECG printouts"):
        ecg_khan.printouts_index(_empty(tmp_path))


def _empty(tmp_path):
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def test_leads28_real(ecg_khan_dir):
    per_file = {stem: ecg_khan.read_leads28(ecg_khan_dir / "leads28" / f"{stem}.npy")
                for stem in ("covid", "mi", "pmi")}
    assert {k: v.shape for k, v in per_file.items()} == {
        "covid": (175, 13, 28, 28), "mi": (219, 13, 28, 28), "pmi": (228, 13, 28, 28)}
    data = ecg_khan.leads28_dataset(ecg_khan_dir)
    assert data.x.shape == (622, 13, 28, 28) and data.x.dtype == np.uint8
    assert data.class_names == ["myocardial_infarction", "history_of_mi", "covid19"]
    assert np.bincount(data.y).tolist() == [219, 228, 175]
    assert len(set(data.patient_id)) == 622
    np.testing.assert_array_equal(data.x[data.y == 2], per_file["covid"])
    sub = ecg_khan.leads28_dataset(ecg_khan_dir / "leads28",
                                   class_names=["covid19", "history_of_mi"])
    assert np.bincount(sub.y).tolist() == [175, 228]


def test_leads28_bad_arrays(tmp_path):
    bad = tmp_path / "mi.npy"
    np.save(bad, np.zeros((27, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=r"holds 27 lead crops, not a multiple of 13") as info:
        ecg_khan.read_leads28(bad)
    assert str(bad) in str(info.value)
    np.save(bad, np.zeros((26, 28, 27), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(N\*13, 28, 28\)"):
        ecg_khan.read_leads28(bad)
    np.save(bad, np.zeros((26, 28, 28), np.float32))
    with pytest.raises(TypeError, match="uint8"):
        ecg_khan.read_leads28(bad)
    np.save(bad, np.zeros((26, 28, 28), np.uint8))
    np.save(tmp_path / "covd.npy", np.zeros((13, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="Did you mean 'covid'"):
        ecg_khan.leads28_dataset(tmp_path)
    (tmp_path / "covd.npy").unlink()
    with pytest.raises(ValueError, match="No leads28 file for class 'covid19'"):
        ecg_khan.leads28_dataset(tmp_path, class_names=["covid19"])
    assert ecg_khan.leads28_dataset(tmp_path).x.shape == (2, 13, 28, 28)


def test_ecg_prep_script(tmp_path, ecg_khan_dir, capsys):
    main = load_data_prep("ecg_khan").main
    assert main(["--raw", str(tmp_path / "absent"), "--out", str(tmp_path / "e.h5")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    pytest.importorskip("heartcv.data.convert")
    from heartcv.data.bundle import read_bundle

    out = tmp_path / "ecg.h5"
    assert main(["--raw", str(ecg_khan_dir), "--out", str(out), "--size", "64", "--workers", "1",
                 "--no-progress"]) == 0
    b = read_bundle(out)
    assert b.images.shape == (30, 64, 64, 1) and b.task == "multiclass"
    assert b.labels.sum(axis=0).tolist() == [10, 10, 10]
    assert set(b.split) == {"train", "val", "test"}
    assert "myocardial_infarction" in capsys.readouterr().out


# --------------------------------------------------------------------------- MIT-BIH


def test_record_sets():
    assert len(mitbih.RECORDS) == 48 and len(set(mitbih.RECORDS)) == 48
    assert len(mitbih.DS1) == len(mitbih.DS2) == 22
    assert set(mitbih.DS1) | set(mitbih.DS2) | set(mitbih.PACED_RECORDS) == set(mitbih.RECORDS)
    assert not set(mitbih.DS1) & set(mitbih.DS2)
    assert not set(mitbih.PACED_RECORDS) & (set(mitbih.DS1) | set(mitbih.DS2))
    assert sum(len(v) for v in mitbih.AAMI_MAP.values()) == len(mitbih.SYMBOL_TO_AAMI) == 15
    with pytest.raises(ValueError, match="Did you mean 'DS1'"):
        mitbih.record_set("DS-1")


def test_two_records_fast(mitdb_dir):
    rec = mitbih.read_record(mitdb_dir, 100)
    assert rec.signal.shape == (650000, 2) and rec.fs == 360.0
    assert len(rec.ann_samples) == len(rec.ann_symbols) and rec.ann_symbols[0] == "+"
    assert -5 < rec.signal.min() and rec.signal.max() < 5  # millivolts
    counts = mitbih.aami_counts(mitdb_dir, ["100", "101"], by_record=True)
    assert counts.loc["100"].to_dict() == {"N": 2239, "S": 33, "V": 1, "F": 0, "Q": 0}
    assert counts.loc["101"].to_dict() == {"N": 1860, "S": 3, "V": 0, "F": 0, "Q": 2}
    table = mitbih.beat_table(mitdb_dir, ["100"])
    assert list(table.columns) == ["record", "sample", "symbol", "aami"]
    assert len(table) == 2273 and table["sample"].is_monotonic_increasing
    assert len(mitbih.beat_table(mitdb_dir, ["100"], all_annotations=True)) == len(rec.ann_symbols)


def test_read_record_channels_and_errors(mitdb_dir):
    rec = mitbih.read_record(mitdb_dir, "114", channels=["MLII", "V5"])
    raw = mitbih.read_record(mitdb_dir, "114")
    np.testing.assert_array_equal(rec.signal[:, 0], raw.signal[:, 1])  # 114 stores V5 first
    with pytest.raises(ValueError, match="no signal 'V1'"):
        mitbih.read_record(mitdb_dir, "114", channels=["V1"])
    with pytest.raises(FileNotFoundError, match="Did you mean '100'"):
        mitbih.read_record(mitdb_dir, "1000")


def test_mitbih_prep_script(mitdb_dir, tmp_path, capsys):
    main = load_data_prep("mitbih").main
    assert main(["--raw", str(tmp_path / "absent")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["--raw", str(mitdb_dir), "--sets", "paced"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"paced \(4 records\)\s+506\s+0\s+227\s+0\s+8028\s+8761", out)


@pytest.mark.slow
def test_all_48_records_aami_totals(mitdb_dir):
    table = mitbih.beat_table(mitdb_dir)
    assert set(table["record"]) == set(mitbih.RECORDS)
    totals = mitbih.aami_counts(table=table)
    assert totals.to_dict() == {"N": 90631, "S": 2781, "V": 7236, "F": 803, "Q": 8043}
    # de Chazal et al. 2004, Table I
    ds1 = mitbih.aami_counts(table=table[table["record"].isin(mitbih.DS1)])
    ds2 = mitbih.aami_counts(table=table[table["record"].isin(mitbih.DS2)])
    assert ds1.to_dict() == {"N": 45866, "S": 944, "V": 3788, "F": 415, "Q": 8}
    assert ds2.to_dict() == {"N": 44259, "S": 1837, "V": 3221, "F": 388, "Q": 7}
    for r in mitbih.RECORDS:  # every record reads as 2 x 650,000 samples at 360 Hz
        rec = mitbih.read_record(mitdb_dir, r)
        assert rec.signal.shape == (650000, 2) and rec.fs == 360.0

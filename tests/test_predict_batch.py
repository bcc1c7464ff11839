"""heartcv predict / explain with several inputs: one model load, predictions.csv, skipped.csv."""

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import heartcv
from heartcv.cli import main
from heartcv.data.synthetic import generate_chest_xrays

N_GOOD = 10


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def model_96(tmp_path_factory):
    """A fully convolutional small_cnn saved with a card at 96 px (as train.write_card does)."""
    folder = tmp_path_factory.mktemp("model")
    model = heartcv.build_model("small_cnn", input_shape=(None, None, 1), filters=(8, 16))
    path = heartcv.save_model(model, folder / "model.h5")
    (folder / "model.card.json").write_text(json.dumps(
        {"task": "binary", "class_names": ["No Finding", "Cardiomegaly"], "input_size": 96}))
    return path


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    """A folder of 10 phantom PNGs (two sizes, one in a sub-folder) plus a corrupt and a 1×1 file."""
    folder = tmp_path_factory.mktemp("images")
    d = generate_chest_xrays(N_GOOD, 1, 128, seed=3)
    (folder / "sub").mkdir()
    good = []
    for i, img in enumerate(d["images"][..., 0]):
        if i % 3 == 0:
            img = cv2.resize(img, (160, 144), interpolation=cv2.INTER_AREA)
        path = folder / ("sub" if i == N_GOOD - 1 else "") / f"cxr{i:02d}.png"
        cv2.imwrite(str(path), img)
        good.append(path)
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20)
    cv2.imwrite(str(folder / "tiny.png"), np.full((1, 1), 128, np.uint8))
    (folder / "notes.txt").write_text("not an image: a folder scan leaves it out")
    return folder, good


def _predict(*args):
    return main(["predict", *map(str, args), "--no-progress"])


def test_folder_gives_predictions_and_skipped(model_96, phantoms, tmp_path, capsys):
    folder, good = phantoms
    out = tmp_path / "out"
    assert _predict(folder, "--recursive", "--model", model_96, "--out", out, "--batch-size", "4",
                    "--jobs", "2") == 0
    printed = capsys.readouterr().out
    assert f"predicted {N_GOOD} of {N_GOOD + 2} images; skipped 2" in printed
    rows = _read_csv(out / "predictions.csv")
    assert [r["path"] for r in rows] == sorted(str(p) for p in good)  # input (sorted) order
    assert set(rows[0]) == {"path", "Cardiomegaly", "predicted", "threshold"}
    assert all(r["predicted"] == ("Cardiomegaly" if float(r["Cardiomegaly"]) >= 0.5
                                  else "No Finding") and r["threshold"] == "0.5" for r in rows)
    skipped = {Path(r["path"]).name: r["reason"] for r in _read_csv(out / "skipped.csv")}
    assert set(skipped) == {"corrupt.png", "tiny.png"}
    assert "too small" in skipped["tiny.png"] and skipped["corrupt.png"]
    assert not list(out.glob("*.overlay.png"))  # no per-image files without --overlays

    # the same probabilities as one image at a time
    from heartcv.predict import predict_image

    for row in rows[:4] + rows[-2:]:
        single = predict_image(row["path"], model_96, out_dir=tmp_path / "single")
        assert float(row["Cardiomegaly"]) == pytest.approx(
            single["probabilities"]["Cardiomegaly"], abs=1e-5)


def test_without_recursive_the_sub_folder_is_left_out(model_96, phantoms, tmp_path):
    folder, good = phantoms
    assert _predict(folder, "--model", model_96, "--out", tmp_path) == 0
    assert len(_read_csv(tmp_path / "predictions.csv")) == N_GOOD - 1


def test_glob_csv_and_card_threshold(model_96, phantoms, tmp_path, capsys):
    folder, good = phantoms
    # a glob the shell did not expand, and a missing file: listed as skipped
    assert _predict(folder / "cxr0*.png", tmp_path / "gone.png", "--model", model_96,
                    "--out", tmp_path / "g") == 0
    assert len(_read_csv(tmp_path / "g" / "predictions.csv")) == N_GOOD - 1
    assert _read_csv(tmp_path / "g" / "skipped.csv") == [
        {"path": str(tmp_path / "gone.png"), "reason": "file not found"}]
    # a CSV of paths, relative to the CSV's folder
    listing = folder / "list.csv"
    listing.write_text("path,label\ncxr01.png,0\nsub/cxr09.png,1\ncorrupt.png,0\n")
    assert _predict("--csv", listing, "--model", model_96, "--out", tmp_path / "c") == 0
    assert [Path(r["path"]).name for r in _read_csv(tmp_path / "c" / "predictions.csv")] == \
        ["cxr01.png", "cxr09.png"]
    assert len(_read_csv(tmp_path / "c" / "skipped.csv")) == 1
    # a threshold on the card makes the call
    m = tmp_path / "m"
    m.mkdir()
    model = heartcv.save_model(heartcv.io.load_model(model_96), m / "model.h5")
    card = json.loads((model_96.parent / "model.card.json").read_text())
    (m / "model.card.json").write_text(json.dumps({**card, "threshold": 0.0}))
    capsys.readouterr()
    assert _predict("--csv", listing, "--model", model, "--out", tmp_path / "t") == 0
    assert "(the card)" in capsys.readouterr().out
    rows = _read_csv(tmp_path / "t" / "predictions.csv")
    assert {r["predicted"] for r in rows} == {"Cardiomegaly"} and rows[0]["threshold"] == "0"


def test_bundle_split(model_96, tmp_path):
    from heartcv.data.bundle import write_bundle

    d = generate_chest_xrays(6, 1, 96, seed=4)
    bundle = write_bundle(tmp_path / "b.h5", d["images"], labels=d["labels"],
                          patient_id=d["patient_id"], image_id=d["image_id"],
                          split=["train"] * 3 + ["test"] * 3, class_names=d["class_names"][1:],
                          task="binary", source="synthetic")
    assert _predict("--data", bundle, "--split", "test", "--model", model_96,
                    "--out", tmp_path / "o") == 0
    rows = _read_csv(tmp_path / "o" / "predictions.csv")
    assert [r["path"] for r in rows] == list(d["image_id"][3:])
    assert _predict("--data", bundle, "--split", "val", "--model", model_96) == 2


def test_overlays_and_explain(model_96, phantoms, tmp_path):
    folder, good = phantoms
    assert _predict(folder, "--model", model_96, "--out", tmp_path / "o", "--overlays") == 0
    overlays = sorted((tmp_path / "o").glob("*.overlay.png"))
    assert len(overlays) == N_GOOD - 1 and not list((tmp_path / "o").glob("*.json"))
    assert cv2.imread(str(tmp_path / "o" / "cxr00.overlay.png")).shape == (144, 160, 3)
    rows = _read_csv(tmp_path / "o" / "predictions.csv")
    assert all(Path(r["overlay"]).is_file() for r in rows)
    # explain with several inputs: one overlay per image, with the method asked for
    assert main(["explain", str(good[0]), str(good[1]), "--model", str(model_96), "--method",
                 "saliency", "--out", str(tmp_path / "e"), "--no-progress"]) == 0
    assert len(list((tmp_path / "e").glob("*.overlay.png"))) == 2


def test_segmentation_model_gives_ctr_columns(phantoms, tmp_path):
    folder, good = phantoms
    model = heartcv.save_model(heartcv.build_model("unet", input_shape=(64, 64, 1), base_filters=4,
                                                   depth=2, num_classes=3), tmp_path / "unet.h5")
    assert _predict(*good[:3], folder / "tiny.png", "--model", model, "--out", tmp_path / "s",
                    "--overlays") == 0
    rows = _read_csv(tmp_path / "s" / "predictions.csv")
    assert len(rows) == 3 and {"ctr", "cardiomegaly", "ctr_flags", "heart_area_px",
                               "left_lung_area_px", "right_lung_area_px"} <= set(rows[0])
    assert len(list((tmp_path / "s").glob("*.overlay.png"))) == 3
    from heartcv.predict import predict_image

    single = predict_image(good[0], model, out_dir=tmp_path / "one")
    assert int(rows[0]["heart_area_px"]) == single["structures"]["heart"]["area_px"]


def test_no_inputs_found_is_one_error_line(model_96, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for args in ([tmp_path / "empty"], [tmp_path / "*.png"], []):
        assert _predict(*args, "--model", model_96) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("heartcv: error: No input images"), err


# ------------------------------------------------ every input accounted for (issue 24 item 5)


def _accounted(out):
    """``{path: "predicted" or reason}``; fails if a path is in both files or twice in one."""
    predicted = [r["path"] for r in _read_csv(out / "predictions.csv")]
    skipped = [(r["path"], r["reason"]) for r in _read_csv(out / "skipped.csv")]
    return predicted, skipped


def test_csv_rows_each_land_in_exactly_one_file(model_96, phantoms, tmp_path, capsys):
    """A good file, its duplicate, a 0-byte file, a missing file and a folder, via --csv."""
    folder, good = phantoms
    work = tmp_path / "w"
    (work / "adir").mkdir(parents=True)
    (work / "zero.png").write_bytes(b"")
    listing = work / "list.csv"
    listing.write_text(f"path\n{good[0]}\n{good[0]}\nzero.png\ngone.png\nadir\n")
    out = tmp_path / "out"
    assert _predict("--csv", listing, "--model", model_96, "--out", out) == 0
    printed = capsys.readouterr().out
    assert "predicted 1 of 5 images; skipped 4" in printed
    predicted, skipped = _accounted(out)
    assert predicted == [str(good[0])]
    reasons = dict(skipped)
    assert len(skipped) == 4 and len(reasons) == 4
    assert reasons[str(good[0])] == "duplicate"
    assert "empty" in reasons[str(work / "zero.png")]
    assert reasons[str(work / "gone.png")] == "file not found"
    assert reasons[str(work / "adir")].startswith("a folder, not an image file")


def test_paths_named_twice_are_predicted_once_and_listed_as_duplicates(model_96, phantoms,
                                                                       tmp_path, capsys):
    folder, good = phantoms
    (tmp_path / "empty").mkdir()
    args = [good[1], good[1], folder / "cxr0*.png", tmp_path / "empty"]
    assert _predict(*args, "--model", model_96, "--out", tmp_path / "o") == 0
    predicted, skipped = _accounted(tmp_path / "o")
    top = sorted(p for p in good if p.parent == folder)
    assert predicted == [str(good[1])] + [str(p) for p in top if p != good[1]]
    assert sorted(skipped) == sorted([(str(good[1]), "duplicate"), (str(good[1]), "duplicate"),
                                      (str(tmp_path / "empty"), "a folder with no image files "
                                                                "(--recursive: sub-folders too)")])
    n = len(predicted) + len(skipped)
    assert f"predicted {len(predicted)} of {n} images; skipped {len(skipped)}" in \
        capsys.readouterr().out


@pytest.mark.parametrize("how", ["args", "csv"])
def test_nothing_predicted_exits_2_with_one_line(model_96, tmp_path, capsys, how):
    """Only a 0-byte file, a text file and a folder: exit 2, one line, skipped.csv lists all."""
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "adir").mkdir()
    names = ["zero.png", "notes.png", "adir"]
    if how == "csv":
        (tmp_path / "list.csv").write_text("path\n" + "\n".join(names) + "\n")
        inputs = ["--csv", tmp_path / "list.csv"]
    else:
        inputs = [tmp_path / n for n in names]
    out = tmp_path / "out"
    code = _predict(*inputs, "--model", model_96, "--out", out)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("heartcv: error: Nothing predicted: none of the 3 inputs")
    assert str(out / "skipped.csv") in lines[0]
    predicted, skipped = _accounted(out)
    assert predicted == [] and sorted(p for p, _ in skipped) == sorted(
        str(tmp_path / n) for n in names)
    assert any(p in lines[0] for p, _ in skipped)  # names the path


def test_segmentation_rows_keep_input_order_with_the_worker_pool(phantoms, tmp_path):
    """Post-processing runs in a pool: rows stay in input order and match single predictions."""
    from heartcv.predict import predict_image

    folder, good = phantoms
    model = heartcv.save_model(heartcv.build_model("unet", input_shape=(64, 64, 1), base_filters=4,
                                                   depth=2, num_classes=3), tmp_path / "unet.h5")
    assert _predict(*good, "--model", model, "--out", tmp_path / "s", "--batch-size", "3",
                    "--jobs", "2") == 0
    rows = _read_csv(tmp_path / "s" / "predictions.csv")
    assert [r["path"] for r in rows] == [str(p) for p in good]
    for row, path in zip(rows, good):
        single = predict_image(path, model, out_dir=tmp_path / "one")
        assert int(row["heart_area_px"]) == single["structures"]["heart"]["area_px"]
        assert row["qc"] == single["ctr"]["qc"] and row["measured_at"] == "x".join(
            map(str, single["measure_size"]))
        if single["ctr"]["value"] is not None:
            assert float(row["ctr"]) == pytest.approx(single["ctr"]["value"], abs=1e-6)


def test_the_model_is_traced_once_per_input_size(phantoms, tmp_path, monkeypatch):
    """Partial last batch and TTA views are padded: one trace of the predict function."""
    import heartcv.io
    from heartcv.predict import predict_batch

    folder, good = phantoms
    model = heartcv.save_model(heartcv.build_model("unet", input_shape=(64, 64, 1), base_filters=4,
                                                   depth=2, num_classes=3), tmp_path / "unet.h5")
    loaded, real = [], heartcv.io.load_model
    monkeypatch.setattr(heartcv.io, "load_model", lambda *a, **k: loaded.append(real(*a, **k))
                        or loaded[-1])
    result = predict_batch(good[:7], model, out_dir=tmp_path / "o", batch_size=3, progress=False)
    assert result["n_predicted"] == 7
    assert loaded[0].predict_function.experimental_get_tracing_count() == 1

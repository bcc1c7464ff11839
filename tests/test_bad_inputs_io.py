"""Bad inputs and outputs through ``heartcv.cli.main`` (issue 13): one line, exit 2, nothing left.

MONAI-style ``ILL_CASES`` table. Each case builds its inputs in a fresh folder, runs one
command and checks: exit code 2, exactly one stderr line naming what the case names (the
offending path, or the argument), no traceback, and no file added or changed in the folder
except those the case allows (no heartcv temporary file: ``*.tmp*``, ``*.partial*``).

Tests run as root here, where ``chmod`` does not stop writes: a read-only folder is simulated
by patching ``os.access`` for that folder (``readonly=``); a full disk by patching the write
function to raise ``OSError(ENOSPC, "No space left on device", path)``.
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest

import heartcv
from heartcv.cli import main
from heartcv.data.synthetic import generate_chest_xrays


# ----------------------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny saved models: a 3-channel classifier (with a card), 13- and 2-channel ones."""
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for key, channels in (("m3", 3), ("m13", 13), ("m2", 2)):
        model = heartcv.build_model("small_cnn", input_shape=(32, 32, channels),
                                    filters=(4, 8, 8, 8))
        out[key] = heartcv.save_model(model, folder / f"{key}.h5")
    out["m3k"] = heartcv.save_model(heartcv.build_model("small_cnn", input_shape=(32, 32, 3),
                                                        filters=(4, 8, 8, 8)),
                                    folder / "m3.keras")
    return out


def _grey(size=48, seed=0):
    return (np.random.default_rng(seed).random((size, size)) * 200 + 20).astype(np.uint8)


def _png(path, img=None):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), _grey() if img is None else img)
    return path


def _tiff_pages(path, pages=3):
    cv2.imwritemulti(str(path), [_grey(seed=i) for i in range(pages)])
    return path


def _nan_tiff(path):
    cv2.imwrite(str(path), np.full((32, 32), np.nan, np.float32))
    return path


def _transparent(path):
    cv2.imwrite(str(path), np.dstack([_grey()] * 3 + [np.zeros((48, 48), np.uint8)]))
    return path


def _synthetic_bundle(path, n_patients=4, size=32):
    return main(["prep", "synthetic", "--out", str(path), "--n-patients", str(n_patients),
                 "--size", str(size)])


def _chd_raw(root, n_patients=4, size=32):
    """Synthetic phantoms under the CHD file-name convention, each with its heart trace."""
    from heartcv.data.datasets import chd

    d = generate_chest_xrays(n_patients, 2, size, task="chd", view="both", seed=0)
    root.mkdir(parents=True, exist_ok=True)
    names = d["class_names"]
    for k in range(len(d["images"])):
        disease = names[int(np.argmax(d["labels"][k]))]
        stem = f"{disease}_az_{d['patient_id'][k]}_{d['view'][k]}"
        cv2.imwrite(str(root / f"{stem}.png"), d["images"][k][..., 0])
        chd.write_trace(root / f"{stem}.txt", d["heart_polygons"][k])
    return root


def _masks_raw(root):
    """A tiny ``heartcv prep masks`` folder: images/ and masks/heart/ of the phantom."""
    d = generate_chest_xrays(3, 2, 32, task="cardiomegaly", seed=1)
    for k in range(len(d["images"])):
        _png(root / "images" / f"p{k}.png", d["images"][k][..., 0])
        _png(root / "masks" / "heart" / f"p{k}.png", d["heart_masks"][k][..., 0] * 255)
    return root


ECG_FOLDERS = ("Normal Person test", "Abnormal Hearbeat test")  # published names, typos kept


def _ecg_raw(root, n=4):
    """Synthetic ECG printouts in two published class folders."""
    from heartcv.data.synthetic.ecg import generate_ecg_printouts

    sheets = generate_ecg_printouts(n, classes=("normal", "abnormal_heartbeat"), height=540,
                                    width=940, grid="grey", seed=5)
    for i, (img, label) in enumerate(zip(sheets["images"], sheets["labels"])):
        folder = root / ECG_FOLDERS[label]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"S({101 + i}).jpg"), img[..., ::-1])
    return root


def _cxr_as_ecg(root, n=2):
    """Chest radiographs in the ECG class folders (whole-sheet mode must not take them)."""
    d = generate_chest_xrays(n, 1, 128, task="cardiomegaly", seed=2)
    for k in range(n):
        _png(root / ECG_FOLDERS[k % 2] / f"cxr{k}.png", d["images"][k][..., 0])
    return root


# ----------------------------------------------------------------------------- patches


def _enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "somewhere")


def _imwrite_full(monkeypatch, ws):
    def full(path, *_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(cv2, "imwrite", full)


def _append_full(monkeypatch, ws):
    from heartcv.data.bundle import BundleWriter

    def full(self, *_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.temp_path))

    monkeypatch.setattr(BundleWriter, "append", full)


def _model_never_loaded(monkeypatch, ws):
    import heartcv.io

    def boom(*_a, **_k):
        raise AssertionError("the model was loaded before the image was checked")

    monkeypatch.setattr(heartcv.io, "load_model", boom)


# ----------------------------------------------------------------------------- the table


@dataclass
class Case:
    """One bad input: ``setup(ws, models)`` makes files and returns the argv (``{ws}`` is
    the folder); ``names`` must all be in the stderr line; ``allowed`` names (relative to
    the folder) may appear or change; ``readonly`` folders are reported not writable;
    ``patch(monkeypatch, ws)`` runs before the command."""

    id: str
    setup: Callable
    names: tuple
    allowed: tuple = ()
    readonly: tuple = ()
    patch: Callable | None = None
    extra: dict = field(default_factory=dict)


def _predict(*extra, image="img.png", model="m3", cmd="predict"):
    def setup(ws, m):
        return [cmd, str(ws / image), "--model", str(m[model]), *extra]
    return setup


def _with(prepare, argv):
    """Run ``prepare(ws, models)`` first, then build ``argv(ws, models)``."""
    def setup(ws, m):
        prepare(ws, m)
        return argv(ws, m)
    return setup


def _img(ws, m, name="img.png"):
    _png(ws / name)


def _synth(*extra):
    return lambda ws, m: ["prep", "synthetic", "--n-patients", "2", "--size", "32", *extra]


def _chd(*extra):
    def setup(ws, m):
        _chd_raw(ws / "raw")
        return ["prep", "chd", "--raw", str(ws / "raw"), "--size", "32", "--workers", "1",
                "--no-progress", *[e.format(ws=ws) for e in extra]]
    return setup


ILL_CASES = [
    # --- predict / explain: the output side
    Case("predict-out-is-a-file",
         _with(lambda ws, m: (_img(ws, m), (ws / "out.txt").write_text("x")),
               _predict("--out", "{ws}/out.txt")), ("out.txt", "not a folder")),
    Case("predict-out-below-a-file",
         _with(lambda ws, m: (_img(ws, m), (ws / "out.txt").write_text("x")),
               _predict("--out", "{ws}/out.txt/sub")), ("out.txt", "not a folder")),
    Case("predict-out-read-only",
         _with(lambda ws, m: (_img(ws, m), (ws / "ro").mkdir()), _predict("--out", "{ws}/ro")),
         ("ro", "not writable"), readonly=("ro",)),
    Case("predict-out-missing-in-read-only",
         _with(lambda ws, m: (_img(ws, m), (ws / "ro").mkdir()),
               _predict("--out", "{ws}/ro/new")), ("ro/new", "not writable"), readonly=("ro",)),
    Case("predict-overlay-name-is-a-folder",
         _with(lambda ws, m: (_img(ws, m), (ws / "out" / "img.overlay.png").mkdir(parents=True)),
               _predict("--out", "{ws}/out")), ("img.overlay.png", "is a directory")),
    Case("predict-disk-full-overlay",
         _with(_img, _predict("--out", "{ws}/out")),
         ("img.overlay.png", "no space left on device writing"),
         allowed=("out",), patch=_imwrite_full),
    Case("explain-disk-full-overlay",
         _with(_img, _predict("--out", "{ws}/out", cmd="explain")),
         ("img.overlay.png", "no space left on device writing"), allowed=("out",),
         patch=_imwrite_full),
    # --- predict / explain: arguments
    Case("explain-alpha-7", _with(_img, _predict("--alpha", "7", cmd="explain")),
         ("alpha", "[0, 1]", "alpha=7.0")),
    Case("explain-alpha-nan", _with(_img, _predict("--alpha", "nan", cmd="explain")),
         ("alpha", "alpha=nan")),
    Case("explain-alpha-negative", _with(_img, _predict("--alpha", "-0.1", cmd="explain")),
         ("alpha", "alpha=-0.1")),
    # --- predict / explain: images
    Case("predict-1x1-image",
         _with(lambda ws, m: _png(ws / "img.png", np.full((1, 1), 128, np.uint8)), _predict()),
         ("img.png", "too small", "1×1")),
    Case("explain-saliency-1x1-image",
         _with(lambda ws, m: _png(ws / "img.png", np.full((1, 1), 128, np.uint8)),
               _predict("--method", "saliency", cmd="explain")), ("img.png", "1×1")),
    Case("predict-5x40-image",
         _with(lambda ws, m: _png(ws / "img.png", np.full((5, 40), 128, np.uint8)), _predict()),
         ("img.png", "40×5")),
    Case("predict-3-page-tiff",
         _with(lambda ws, m: _tiff_pages(ws / "img.tif"), _predict(image="img.tif")),
         ("img.tif", "multi-page TIFF (3 pages)")),
    Case("predict-all-nan-tiff",
         _with(lambda ws, m: _nan_tiff(ws / "img.tif"), _predict(image="img.tif")),
         ("img.tif", "no finite pixel")),
    Case("predict-fully-transparent-png",
         _with(lambda ws, m: _transparent(ws / "img.png"), _predict()),
         ("img.png", "fully transparent")),
    Case("predict-empty-image",
         _with(lambda ws, m: (ws / "img.png").write_bytes(b""), _predict()), ("img.png", "empty")),
    Case("predict-corrupt-image-model-not-loaded",
         _with(lambda ws, m: (ws / "img.png").write_bytes(b"\x89PNG broken"), _predict()),
         ("img.png", "corrupt"), patch=_model_never_loaded),
    Case("predict-image-is-a-folder",
         _with(lambda ws, m: (ws / "img.png").mkdir(), _predict()), ("img.png", "directory")),
    # --- predict / explain: models and cards
    Case("predict-13-channel-model", _with(_img, _predict(model="m13")),
         ("m13.h5", "13-lead", "img.png")),
    Case("predict-2-channel-model", _with(_img, _predict(model="m2")),
         ("m2.h5", "2-channel", "img.png")),
    Case("explain-13-channel-model", _with(_img, _predict(model="m13", cmd="explain")),
         ("m13.h5", "13-lead")),
    Case("predict-truncated-keras",
         _with(lambda ws, m: (_img(ws, m), (ws / "cut.keras").write_bytes(
             m["m3k"].read_bytes()[:2000])),
             lambda ws, m: ["predict", str(ws / "img.png"), "--model", str(ws / "cut.keras")]),
         ("cut.keras", "is not a readable Keras model")),
    Case("predict-garbage-h5",
         _with(lambda ws, m: (_img(ws, m), (ws / "junk.h5").write_bytes(b"not hdf5")),
               lambda ws, m: ["predict", str(ws / "img.png"), "--model", str(ws / "junk.h5")]),
         ("junk.h5", "is not a readable Keras model")),
    Case("predict-truncated-card",
         _with(lambda ws, m: (_img(ws, m), (ws / "m.h5").write_bytes(m["m3"].read_bytes()),
                              (ws / "m.card.json").write_text('{"class_names": ["a",')),
               lambda ws, m: ["predict", str(ws / "img.png"), "--model", str(ws / "m.h5")]),
         ("m.card.json", "not a readable model card")),
    Case("predict-binary-card",
         _with(lambda ws, m: (_img(ws, m), (ws / "m.h5").write_bytes(m["m3"].read_bytes()),
                              (ws / "model.card.json").write_bytes(b"\xff\xfe\x00\x01")),
               lambda ws, m: ["predict", str(ws / "img.png"), "--model", str(ws / "m.h5")]),
         ("model.card.json", "not a readable model card")),
    # --- prep synthetic
    Case("synthetic-existing-bundle",
         _with(lambda ws, m: (ws / "b.h5").write_bytes(b"old"), _synth("--out", "{ws}/b.h5")),
         ("b.h5", "already exists", "--overwrite")),
    Case("synthetic-out-is-a-folder",
         _with(lambda ws, m: (ws / "b.h5").mkdir(), _synth("--out", "{ws}/b.h5", "--overwrite")),
         ("b.h5", "is a directory")),
    Case("synthetic-out-read-only",
         _with(lambda ws, m: (ws / "ro").mkdir(), _synth("--out", "{ws}/ro/b.h5")),
         ("ro", "not writable"), readonly=("ro",)),
    Case("synthetic-out-below-a-file",
         _with(lambda ws, m: (ws / "f").write_text("x"), _synth("--out", "{ws}/f/b.h5")),
         ("f", "not a folder")),
    Case("synthetic-disk-full",
         _synth("--out", "{ws}/b.h5"), ("b.h5", "no space left on device writing"),
         patch=_append_full),
    # --- prep chd
    Case("chd-out-existing-dir-overwrite",
         _with(lambda ws, m: (ws / "c.h5").mkdir(), _chd("--out", "{ws}/c.h5", "--overwrite")),
         ("c.h5", "is a directory"), allowed=("raw",)),
    Case("chd-existing-bundle",
         _with(lambda ws, m: (ws / "c.h5").write_bytes(b"old"), _chd("--out", "{ws}/c.h5")),
         ("c.h5", "already exists", "pass --overwrite (overwrite=True in Python)"),
         allowed=("raw",)),
    Case("chd-out-read-only",
         _with(lambda ws, m: (ws / "ro").mkdir(), _chd("--out", "{ws}/ro/c.h5")),
         ("ro", "not writable"), allowed=("raw",), readonly=("ro",)),
    Case("chd-disk-full",
         _chd("--out", "{ws}/c.h5"), ("c.h5", "no space left on device writing"), allowed=("raw",),
         patch=_append_full),
    Case("chd-binary-trace",
         _with(lambda ws, m: None, lambda ws, m: _binary_trace(ws)),
         ("Trace file", ".txt", "not text"), allowed=("raw", "masks")),
    # --- prep masks / jsrt / ecg_khan / contours / mitbih
    Case("masks-out-is-a-folder",
         _with(lambda ws, m: (_masks_raw(ws / "raw"), (ws / "m.h5").mkdir()),
               lambda ws, m: ["prep", "masks", "--raw", str(ws / "raw"), "--out",
                              str(ws / "m.h5"), "--overwrite"]),
         ("m.h5", "is a directory"), allowed=("raw",)),
    Case("masks-out-below-a-file",
         _with(lambda ws, m: (_masks_raw(ws / "raw"), (ws / "f").write_text("x")),
               lambda ws, m: ["prep", "masks", "--raw", str(ws / "raw"), "--out",
                              str(ws / "f" / "m.h5")]),
         ("f", "not a folder"), allowed=("raw",)),
    Case("jsrt-out-is-a-folder",
         _with(lambda ws, m: ((ws / "raw").mkdir(), (ws / "j.h5").mkdir()),
               lambda ws, m: ["prep", "jsrt", "--raw", str(ws / "raw"), "--out",
                              str(ws / "j.h5"), "--overwrite"]),
         ("j.h5", "is a directory")),
    Case("ecg-khan-whole-sheets-all-radiographs",
         _with(lambda ws, m: _cxr_as_ecg(ws / "raw"),
               lambda ws, m: ["prep", "ecg_khan", "--raw", str(ws / "raw"), "--out",
                              str(ws / "e.h5"), "--size", "64", "--workers", "1",
                              "--no-progress"]),
         ("e.log.csv", "not an ECG sheet"), allowed=("e.log.csv",)),
    Case("ecg-khan-leads-existing-bundle",
         _with(lambda ws, m: ((ws / "raw").mkdir(), (ws / "e.h5").write_bytes(b"old")),
               lambda ws, m: ["prep", "ecg_khan", "--raw", str(ws / "raw"), "--out",
                              str(ws / "e.h5"), "--leads"]),
         ("e.h5", "already exists")),
    Case("contours-traces-out-is-a-file",
         _with(lambda ws, m: ((ws / "imgs").mkdir(), (ws / "traces.txt").write_text("x"),
                              (ws / "rows.csv").write_text("image,top_row,bottom_row\n")),
               lambda ws, m: ["prep", "contours", "--images", str(ws / "imgs"), "--rows",
                              str(ws / "rows.csv"), "--traces-out", str(ws / "traces.txt")]),
         ("traces.txt", "not a folder")),
    Case("mitbih-out-is-a-folder",
         _with(lambda ws, m: ((ws / "raw").mkdir(), (ws / "b.h5").mkdir()),
               lambda ws, m: ["prep", "mitbih", "--raw", str(ws / "raw"), "--out",
                              str(ws / "b.h5"), "--overwrite"]),
         ("b.h5", "is a directory")),
    # --- report / evaluate: run files
    Case("report-truncated-metrics",
         _with(lambda ws, m: _run_dir(ws, '{"task": "binary", "auroc": 0.'),
               lambda ws, m: ["report", str(ws / "run")]),
         ("metrics.json", "not a readable metrics file")),
    Case("report-binary-metrics",
         _with(lambda ws, m: _run_dir(ws, b"\x00\xff\xfe binary"),
               lambda ws, m: ["report", str(ws / "run")]),
         ("metrics.json", "not a readable metrics file")),
    Case("report-metrics-not-an-object",
         _with(lambda ws, m: _run_dir(ws, "[1, 2]"), lambda ws, m: ["report", str(ws / "run")]),
         ("metrics.json", "expected a JSON object")),
    Case("report-binary-expected-csv",
         _with(lambda ws, m: (_run_dir(ws, '{"task": "binary", "auroc": 0.9}'),
                              (ws / "expected.csv").write_bytes(b"\xff\xfe\x00table")),
               lambda ws, m: ["report", str(ws / "run"), "--expected", str(ws / "expected.csv")]),
         ("expected.csv", "not a text CSV")),
    Case("evaluate-truncated-keras",
         _with(lambda ws, m: (_synthetic_bundle(ws / "b.h5"), (ws / "cut.keras").write_bytes(
             m["m3k"].read_bytes()[:2000])),
             lambda ws, m: ["evaluate", str(ws / "cut.keras"), "--data", str(ws / "b.h5"),
                            "--out", str(ws / "ev")]),
         ("cut.keras", "is not a readable Keras model")),
    Case("evaluate-truncated-card",
         _with(lambda ws, m: (_synthetic_bundle(ws / "b.h5"),
                              (ws / "m.h5").write_bytes(m["m3"].read_bytes()),
                              (ws / "m.card.json").write_text("{")),
               lambda ws, m: ["evaluate", str(ws / "m.h5"), "--data", str(ws / "b.h5"),
                              "--out", str(ws / "ev")]),
         ("m.card.json", "not a readable model card")),
]


def _binary_trace(ws):
    raw = _chd_raw(ws / "raw")
    trace = sorted(raw.glob("*.txt"))[0]
    trace.write_bytes(b"\x89\xff\x00 binary \xfe")
    return ["prep", "chd", "--raw", str(raw), "--out", str(ws / "c.h5"), "--masks",
            str(ws / "masks"), "--size", "32", "--workers", "1", "--no-progress"]


def _run_dir(ws, content):
    run = ws / "run"
    run.mkdir()
    path = run / "metrics.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())


def _snapshot(folder):
    return {str(p.relative_to(folder)): (p.is_dir(), p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(folder.rglob("*"))}


def _allowed(name, allowed):
    return any(name == a or name.startswith(a.rstrip("/") + "/") for a in allowed)


def _temp_names(folder):
    return [str(p) for p in folder.rglob("*")
            if ".tmp" in p.name or ".partial" in p.name]


@pytest.mark.parametrize("case", ILL_CASES, ids=[c.id for c in ILL_CASES])
def test_ill_case_exits_2_with_one_line(case, models, tmp_path, monkeypatch, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()
    argv = [a.format(ws=ws) for a in case.setup(ws, models)]
    capsys.readouterr()
    if case.readonly:
        denied = {os.path.abspath(ws / r) for r in case.readonly}
        real_access = os.access

        def access(path, mode, *a, **k):
            if os.path.abspath(path) in denied and mode & os.W_OK:
                return False
            return real_access(path, mode, *a, **k)

        monkeypatch.setattr(os, "access", access)
    if case.patch is not None:
        case.patch(monkeypatch, ws)
    before = _snapshot(ws)
    code = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (code, out, err)
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for name in case.names:
        assert name in lines[0], (name, lines[0])
    after = _snapshot(ws)
    changed = sorted(k for k in set(before) | set(after)
                     if before.get(k) != after.get(k) and not _allowed(k, case.allowed))
    assert not changed, changed
    assert not _temp_names(ws), _temp_names(ws)


# ----------------------------------------------------------------------------- what works


def test_ill_cases_cover_each_command():
    commands = {c.id.split("-")[0] for c in ILL_CASES}
    assert {"predict", "explain", "synthetic", "chd", "masks", "jsrt", "ecg", "contours",
            "mitbih", "report", "evaluate"} <= commands
    assert len(ILL_CASES) >= 35


def test_synthetic_overwrite_replaces_the_bundle(tmp_path, capsys):
    out = tmp_path / "b.h5"
    out.write_bytes(b"old")
    assert _synthetic_bundle(out) == 2
    assert out.read_bytes() == b"old"
    assert main(["prep", "synthetic", "--out", str(out), "--n-patients", "2", "--size", "32",
                 "--overwrite"]) == 0
    from heartcv.data.bundle import read_bundle

    assert len(read_bundle(out).images) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.h5"]


def test_predict_creates_a_missing_out_folder(models, tmp_path, capsys):
    image = _png(tmp_path / "img.png")
    out = tmp_path / "a" / "b"
    assert main(["predict", str(image), "--model", str(models["m3"]), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["img.overlay.png", "img.prediction.json"]


def test_prep_chd_skips_bad_images_with_reasons(tmp_path, capsys):
    """1×1, multi-page, all-NaN and fully transparent images are logged, not written."""
    import pandas as pd
    from heartcv.data.bundle import read_bundle

    raw = _chd_raw(tmp_path / "raw")
    cv2.imwrite(str(raw / "VSD_az_X1_frontal.png"), np.full((1, 1), 9, np.uint8))
    _tiff_pages(raw / "VSD_az_X2_frontal.tif")
    _nan_tiff(raw / "VSD_az_X3_frontal.tif")
    _transparent(raw / "VSD_az_X4_frontal.png")
    out = tmp_path / "c.h5"
    assert main(["prep", "chd", "--raw", str(raw), "--out", str(out), "--size", "32",
                 "--workers", "1", "--no-progress"]) == 0
    log = pd.read_csv(tmp_path / "c.log.csv")
    notes = dict(zip(log.loc[log.status == "skipped", "image_id"].str.extract(r"(X\d)")[0],
                     log.loc[log.status == "skipped", "note"]))
    assert "too small (1×1" in notes["X1"]
    assert "multi-page TIFF (3 pages)" in notes["X2"]
    assert "no finite pixel" in notes["X3"]
    assert "fully transparent" in notes["X4"]
    assert len(read_bundle(out).images) == 8
    assert not _temp_names(tmp_path)


def test_prep_ecg_khan_whole_sheets_skip_a_radiograph(tmp_path, capsys):
    import pandas as pd
    from heartcv.data.bundle import read_bundle

    _ecg_raw(tmp_path / "raw")
    _cxr_as_ecg(tmp_path / "raw", n=1)
    out = tmp_path / "e.h5"
    assert main(["prep", "ecg_khan", "--raw", str(tmp_path / "raw"), "--out", str(out),
                 "--size", "64", "--workers", "1", "--no-progress"]) == 0
    assert "skipped: 1 (not an ECG sheet: 1" in capsys.readouterr().out
    log = pd.read_csv(tmp_path / "e.log.csv")
    skipped = log[log.status == "skipped"]
    assert list(skipped.path.map(lambda p: Path(p).name)) == ["cxr0.png"]
    assert skipped.note.iloc[0].startswith("not an ECG sheet (")
    assert len(read_bundle(out).images) == 4


def test_conversion_sweeps_only_its_own_old_temp_files(tmp_path, capsys):
    raw = _chd_raw(tmp_path / "raw")
    out = tmp_path / "c.h5"
    old = [tmp_path / "c.h5.tmp-999999999", tmp_path / ".c.abc123.tmp.h5",
           tmp_path / ".c.log.x1y2.tmp.csv"]
    keep = [tmp_path / "other.h5.tmp-999999999", tmp_path / "notes.tmp", tmp_path / "c.h5.bak"]
    for f in old + keep:
        f.write_text("x")
        os.utime(f, (1, 1))  # long before this run
    assert main(["prep", "chd", "--raw", str(raw), "--out", str(out), "--size", "32",
                 "--workers", "1", "--no-progress"]) == 0
    assert not any(f.exists() for f in old)
    assert all(f.exists() for f in keep)


def test_atomic_write_disk_full_names_the_path_and_leaves_nothing(tmp_path, monkeypatch):
    from heartcv.files import OutputPathError, atomic_write_image

    _imwrite_full(monkeypatch, tmp_path)
    with pytest.raises(OutputPathError, match=r"no space left on device writing .*x\.png") as info:
        atomic_write_image(tmp_path / "x.png", _grey())
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, ValueError)
    assert list(tmp_path.iterdir()) == []


def test_write_bundle_disk_full_removes_its_temp_file(tmp_path, monkeypatch):
    from heartcv.data.bundle import write_bundle
    from heartcv.files import OutputPathError

    _append_full(monkeypatch, tmp_path)
    with pytest.raises(OutputPathError, match=r"no space left on device writing .*b\.h5"):
        write_bundle(tmp_path / "b.h5", np.zeros((2, 8, 8, 1), np.uint8), patient_id=["a", "b"],
                     labels=np.zeros((2, 1), np.float32), class_names=["x"], task="binary",
                     source="t")
    assert list(tmp_path.iterdir()) == []


def test_predict_disk_full_on_the_json_leaves_neither_file(models, tmp_path, monkeypatch,
                                                           capsys):
    image = _png(tmp_path / "img.png")
    out = tmp_path / "out"
    real = Path.write_text

    def full(self, *a, **k):
        if ".prediction." in self.name:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    assert main(["predict", str(image), "--model", str(models["m3"]), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no space left on device writing" in err[0] \
        and "img.prediction.json" in err[0]
    assert list(out.iterdir()) == []  # the overlay was not published either


@pytest.mark.parametrize("alpha", [7, -0.1, float("nan"), float("inf"), True, "0.2", None])
def test_alpha_checks(alpha):
    from heartcv.explain import figures
    from heartcv.predict import check_alpha

    with pytest.raises(ValueError, match=r"Expected `alpha`"):
        check_alpha(alpha)
    if not isinstance(alpha, str) and alpha is not None:
        with pytest.raises(ValueError, match=r"Expected `alpha` in \[0, 1\]"):
            figures.check_alpha(alpha)


def test_explain_refuses_non_finite_images(models):
    from heartcv.explain._common import prepare_images

    model = heartcv.load_model(models["m3"])
    x = np.zeros((1, 32, 32, 3), np.float32)
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"Expected finite `images`.*1 NaN or infinite"):
        prepare_images(model, x)

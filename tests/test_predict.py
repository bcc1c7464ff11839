"""heartcv predict / explain: probabilities and overlays for PNG/JPG/RGBA/16-bit/DICOM images."""

import json

import cv2
import numpy as np
import pytest

import heartcv
from heartcv.cli import main


@pytest.fixture(scope="module")
def cxa_model(tmp_path_factory):
    """An (untrained) Cardio-XAttentionNet saved as .h5 with a result card beside it."""
    folder = tmp_path_factory.mktemp("model")
    path = heartcv.save_model(heartcv.build_model("cxa_densenet121"), folder / "cxa.h5")
    path.with_suffix(".card.json").write_text(json.dumps({"class_names": ["No Finding", "Cardiomegaly"]}))
    return path


def _image(kind, tmp_path, size=96):
    rng = np.random.default_rng(0)
    base = (rng.random((size, size)) * 200).astype(np.uint8)
    if kind == "grey.png":
        img = base
    elif kind == "rgb.jpg":
        img = np.dstack([base] * 3)
    elif kind == "rgba.png":
        img = np.dstack([base] * 3 + [np.full_like(base, 255)])
    elif kind == "16bit.png":
        img = base.astype(np.uint16) * 250
    path = tmp_path / kind
    cv2.imwrite(str(path), img)
    return path


@pytest.mark.parametrize("kind", ["grey.png", "rgb.jpg", "rgba.png", "16bit.png"])
def test_predict_formats_write_overlay(kind, cxa_model, tmp_path, capsys):
    image = _image(kind, tmp_path)
    out = tmp_path / "out"
    assert main(["predict", str(image), "--model", str(cxa_model), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Cardiomegaly:" in printed
    stem = image.stem
    overlay = cv2.imread(str(out / f"{stem}.overlay.png"))
    assert overlay.shape == (96, 96, 3)  # at the image's own size
    result = json.loads((out / f"{stem}.prediction.json").read_text())
    assert result["heatmap"]["method"] == "AMM attention" and result["heatmap"]["overlay_alpha"] == 0.2
    assert 0 <= result["probabilities"]["Cardiomegaly"] <= 1


def test_predict_full_size_real_nih_image(cxa_model, nih_dir, tmp_path):
    """Trained at any size, the fully convolutional model predicts a 1024×1024 radiograph."""
    from heartcv.predict import predict_image

    image = nih_dir / "images" / "00000284_000.png"  # 1024×1024 (00000001_000 is 512)
    result = predict_image(image, cxa_model, out_dir=tmp_path)
    assert result["image_shape"] == [1024, 1024] and result["model_input"] == [1024, 1024]
    assert result["heatmap"]["shape"] == [1024, 1024]  # W (32×32 at 1024) upsampled
    assert cv2.imread(result["written"][1]).shape == (1024, 1024, 3)


def test_predict_dicom(cxa_model, tmp_path):
    pytest.importorskip("pydicom")
    from tests.data.test_images import _write_dicom

    ramp = np.tile(np.linspace(0, 4000, 64).astype(np.uint16), (64, 1))
    path = _write_dicom(tmp_path / "cxr.dcm", ramp, "MONOCHROME1", window=(2000, 4000))
    assert main(["predict", str(path), "--model", str(cxa_model), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "cxr.overlay.png").is_file()


def test_predict_bad_inputs(cxa_model, tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for path in (text, empty, tmp_path / "missing.png"):
        assert main(["predict", str(path), "--model", str(cxa_model)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and path.name in err, err


def test_explain_methods(cxa_model, tmp_path, capsys):
    image = _image("grey.png", tmp_path)
    gap = heartcv.save_model(heartcv.build_model("small_cnn", input_shape=(64, 64, 3)), tmp_path / "s.h5")
    for model, method, label in ((cxa_model, "attention", "AMM attention"), (gap, "auto", "Grad-CAM"),
                                 (gap, "gradcam++", "Grad-CAM++"), (gap, "saliency", "saliency")):
        assert main(["explain", str(image), "--model", str(model), "--method", method,
                     "--out", str(tmp_path / method)]) == 0
        assert label in capsys.readouterr().out
        assert (tmp_path / method / "grey.overlay.png").is_file()
    assert main(["explain", str(image), "--model", str(gap), "--method", "attention"]) == 2
    assert "cxa_" in capsys.readouterr().err

"""heartcv predict / explain: probabilities and overlays for PNG/JPG/RGBA/16-bit/DICOM images."""

import json
from pathlib import Path

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


# ------------------------------------------------------------------ input size (model card)


@pytest.fixture(scope="module")
def trained_96(tmp_path_factory):
    """A fully convolutional small_cnn trained for two epochs at 96 px by heartcv.train (card)."""
    from heartcv.config import load_config
    from heartcv.train import train

    out = tmp_path_factory.mktemp("runs")
    cfg = load_config(None, [
        "data.source=synthetic", "data.image_size=96", "data.n_patients=40", "data.channels=1",
        "model.name=small_cnn", "model.params={input_shape: [null, null, 1], filters: [8, 16, 32]}",
        "train.epochs=2", "train.verbose=0", "train.tensorboard_images=false",
        "eval.bootstrap=10", f"output_dir={out}", "name=r96"])
    result = train(cfg)
    assert json.loads(result.paths["card"].read_text())["input_size"] == 96
    return result.model_path


@pytest.fixture(scope="module")
def phantom_1024(tmp_path_factory):
    """Two phantom radiographs rendered at 1024 px and their 96-px versions (resize_image)."""
    from heartcv.data.images import resize_image
    from heartcv.data.synthetic import generate_chest_xrays

    folder = tmp_path_factory.mktemp("phantom")
    d = generate_chest_xrays(2, 1, 1024, seed=5)
    pairs = []
    for i, img in enumerate(d["images"]):
        img = img[..., 0] if img.ndim == 3 else img
        big, small = folder / f"big{i}.png", folder / f"small{i}.png"
        cv2.imwrite(str(big), img)
        cv2.imwrite(str(small), resize_image(img, 96))
        pairs.append((big, small))
    return pairs


def _prediction(out, image):
    return json.loads((out / f"{image.stem}.prediction.json").read_text())


def test_predict_follows_the_card_input_size(trained_96, phantom_1024, tmp_path, capsys):
    """Trained at 96 px: a 1024-px image gives the probability of its 96-px version."""
    out = tmp_path / "p"
    for big, small in phantom_1024:
        for image in (big, small):
            assert main(["predict", str(image), "--model", str(trained_96), "--out", str(out)]) == 0
        assert "input size: 96x96 (card)" in capsys.readouterr().out
        p_big, p_small = _prediction(out, big), _prediction(out, small)
        assert p_big["image_size"] == p_big["model_input"] == [96, 96]
        assert p_big["image_size_source"] == p_small["image_size_source"] == "card"
        assert p_big["image_shape"] == [1024, 1024]
        assert p_big["probabilities"]["Cardiomegaly"] == pytest.approx(
            p_small["probabilities"]["Cardiomegaly"], abs=0.01)
        assert cv2.imread(str(out / f"{big.stem}.overlay.png")).shape == (1024, 1024, 3)


def test_image_size_option_and_full(trained_96, phantom_1024, tmp_path, capsys):
    big = phantom_1024[0][0]
    for option, size in (("64", [64, 64]), ("full", [1024, 1024])):
        out = tmp_path / option
        assert main(["predict", str(big), "--model", str(trained_96), "--out", str(out),
                     "--image-size", option]) == 0
        pred = _prediction(out, big)
        assert pred["image_size"] == pred["model_input"] == size
        assert pred["image_size_source"] == "option"
    out = tmp_path / "explain"
    assert main(["explain", str(big), "--model", str(trained_96), "--out", str(out)]) == 0
    assert "Grad-CAM map (96, 96)" in capsys.readouterr().out
    pred = _prediction(out, big)
    assert pred["image_size_source"] == "card"
    assert cv2.imread(str(out / f"{big.stem}.overlay.png")).shape == (1024, 1024, 3)


def test_image_size_refused_for_a_fixed_input_model(tmp_path, capsys):
    model = heartcv.save_model(heartcv.build_model("small_cnn", input_shape=(64, 64, 3),
                                                   filters=(4,)), tmp_path / "fixed.h5")
    image = _image("grey.png", tmp_path)
    for command in ("predict", "explain"):
        assert main([command, str(image), "--model", str(model), "--image-size", "full",
                     "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "fully convolutional" in err[0] and "64x64" in err[0], err
    assert main(["predict", str(image), "--model", str(model), "--image-size", "32"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "takes only 64x64 images" in err[0], err
    for bad in ("0", "big"):
        assert main(["predict", str(image), "--model", str(model), "--image-size", bad]) == 2
        assert "--image-size" in capsys.readouterr().err
    assert not (tmp_path / "grey.prediction.json").exists()


def test_image_size_source_without_a_card(tmp_path):
    """No card: the model's fixed input size, else the image's own size."""
    from heartcv.predict import predict_image

    image = _image("grey.png", tmp_path, size=80)
    fixed = heartcv.save_model(heartcv.build_model("small_cnn", input_shape=(64, 64, 1),
                                                   filters=(4,)), tmp_path / "fixed.h5")
    free = heartcv.save_model(heartcv.build_model("small_cnn", input_shape=(None, None, 1),
                                                  filters=(4,)), tmp_path / "free.h5")
    for model, size, source in ((fixed, [64, 64], "model"), (free, [80, 80], "image")):
        result = predict_image(image, model, out_dir=tmp_path / source)
        assert result["image_size"] == size and result["image_size_source"] == source
        saved = json.loads(Path(result["written"][0]).read_text())
        assert saved["image_size_source"] == source


RESOLVE_CASES = [  # (input_shape, card, image_size, expected)
    ((None, None, None, 1), {"input_size": 96}, None, ((96, 96), "card")),
    ((None, None, None, 1), {"input_size": [96, 128]}, None, ((96, 128), "card")),
    ((None, 64, 64, 1), {"input_size": 64}, None, ((64, 64), "card")),
    ((None, 64, 64, 1), {"input_size": 96}, None, ((64, 64), "model")),  # the model decides
    ((None, 64, 64, 1), {}, None, ((64, 64), "model")),
    ((None, None, None, 1), {}, None, ((300, 200), "image")),
    ((None, None, None, 1), {"input_size": 96}, 128, ((128, 128), "option")),
    ((None, None, None, 1), {"input_size": 96}, "full", ((300, 200), "option")),
    ((None, 64, 64, 1), {}, 64, ((64, 64), "option")),
]


@pytest.mark.parametrize("input_shape, card, image_size, expected", RESOLVE_CASES)
def test_resolve_input_size(input_shape, card, image_size, expected):
    from heartcv.predict import resolve_input_size

    assert resolve_input_size(input_shape, card, (300, 200), image_size) == expected


ILL_SIZE_CASES = [  # (input_shape, image_size, message)
    ((None, 64, 64, 1), "full", r"--image-size full needs a fully convolutional model"),
    ((None, 64, 64, 1), 32, r"takes only 64x64 images. Received: image_size=32"),
    ((None, None, None, 1), 0, r"Expected `image_size` as a positive int, 'full' or None"),
    ((None, None, None, 1), "half", r"Received: image_size='half'"),
    ((None, None, None, 1), True, r"Received: image_size=True"),
]


@pytest.mark.parametrize("input_shape, image_size, message", ILL_SIZE_CASES)
def test_resolve_input_size_ill(input_shape, image_size, message):
    from heartcv.predict import resolve_input_size

    with pytest.raises(ValueError, match=message):
        resolve_input_size(input_shape, {}, (300, 200), image_size)


# ------------------------------------------------------------------ segmentation models


def test_segmentation_predict_writes_mask_overlay_areas_and_ctr(tmp_path, capsys):
    model = heartcv.save_model(heartcv.build_model("unet", input_shape=(64, 64, 1), base_filters=4,
                                                   depth=2, num_classes=3), tmp_path / "unet.h5")
    image = tmp_path / "cxr.png"
    cv2.imwrite(str(image), (np.random.default_rng(2).random((100, 120)) * 255).astype(np.uint8))
    out = tmp_path / "out"
    assert main(["predict", str(image), "--model", str(model), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "input size: 64x64 (model)" in printed and "CTR" in printed and "left_lung:" in printed
    assert cv2.imread(str(out / "cxr.overlay.png")).shape == (100, 120, 3)
    result = _prediction(out, image)
    assert result["task"] == "segmentation" and result["image_size_source"] == "model"
    assert result["structure_names"] == ["heart", "left_lung", "right_lung"]
    for s in result["structures"].values():
        assert 0 <= s["area_px"] <= 100 * 120
        assert s["area_fraction"] == pytest.approx(s["area_px"] / (100 * 120))
    assert "ctr" in result and set(result["ctr"]) >= {"value", "cardiomegaly", "flags"}
    assert not list(out.glob(".*tmp*"))  # atomic writes leave no temporary files


def test_segmentation_names_from_the_card_and_no_ctr_without_lungs(tmp_path, capsys):
    unet = heartcv.build_model("unet", input_shape=(None, None, 1), base_filters=4, depth=2)
    model = heartcv.save_model(unet, tmp_path / "heart.h5")
    model.with_suffix(".card.json").write_text(json.dumps(
        {"task": "segmentation", "class_names": ["cardiac silhouette"], "input_size": 32}))
    image = _image("grey.png", tmp_path, size=48)
    assert main(["predict", str(image), "--model", str(model), "--out", str(tmp_path)]) == 0
    assert "CTR: not measured" in capsys.readouterr().out
    result = _prediction(tmp_path, image)
    assert result["structure_names"] == ["cardiac silhouette"] and result["ctr"] is None
    assert result["image_size"] == [32, 32] and result["image_size_source"] == "card"


@pytest.mark.parametrize("card, k, names", [
    ({}, 1, ["heart"]),
    ({}, 3, ["heart", "left_lung", "right_lung"]),
    ({}, 2, ["structure_0", "structure_1"]),
    ({"class_names": ["heart"]}, 3, ["heart", "left_lung", "right_lung"]),  # wrong count: ignored
    ({"mask_names": ["a", "b"], "class_names": ["c", "d"]}, 2, ["a", "b"]),
])
def test_structure_names(card, k, names):
    from heartcv.predict import structure_names

    assert structure_names(card, k) == names


def test_segmentation_ctr_measured_at_the_image_size_matches_the_phantom():
    """Masks predicted at 64 px, measured on the 256-px image: the phantom's own CTR."""
    from heartcv.ctr import ctr_from_masks
    from heartcv.data.images import resize_mask
    from heartcv.data.synthetic import generate_chest_xrays
    from heartcv.predict import segmentation_result

    d = generate_chest_xrays(2, 1, 256, seed=3)
    for img, heart, lungs in zip(d["images"], d["heart_masks"], d["lung_masks"]):
        _, labels, stats, _ = cv2.connectedComponentsWithStats(lungs.astype(np.uint8))
        two = 1 + np.argsort(stats[1:, cv2.CC_STAT_AREA])[-2:]
        # the patient's right lung is on the image's left
        right, left = sorted(two, key=lambda k: stats[k, cv2.CC_STAT_LEFT])
        full = np.dstack([heart, labels == left, labels == right]).astype(np.uint8)
        truth = ctr_from_masks(*(full[..., i] for i in range(3)))["ctr"]
        pred = resize_mask(full, 64).astype(np.float32)
        fields, overlay = segmentation_result(img, pred, ["heart", "left_lung", "right_lung"])
        assert overlay.shape == (256, 256, 3)
        assert fields["ctr"]["value"] == pytest.approx(truth, abs=0.03)
        assert fields["ctr"]["cardiomegaly"] == (fields["ctr"]["value"] > 0.5)
        heart_area = fields["structures"]["heart"]["area_px"]
        assert heart_area == pytest.approx(int(heart.astype(bool).sum()), rel=0.1)


@pytest.mark.parametrize("hw, side, size", [
    ((1024, 1024), 512, (512, 512)), ((1024, 800), 512, (512, 400)), ((300, 200), 512, (300, 200)),
    ((2000, 3000), 512, (341, 512)), ((1024, 1024), None, (1024, 1024))])
def test_measure_size(hw, side, size):
    from heartcv.predict import measure_size

    assert measure_size(hw, side) == size


def test_a_1024_px_film_is_measured_at_512_and_scaled_back():
    """Areas and widths in the film's pixels, the CTR within 0.005 of the 1024-px one."""
    from heartcv.ctr import ctr_from_prediction
    from heartcv.data.images import resize_image, resize_mask
    from heartcv.data.synthetic import generate_chest_xrays
    from heartcv.predict import segmentation_result

    d = generate_chest_xrays(1, 1, 256, seed=5)
    heart, lungs = d["heart_masks"][0], d["lung_masks"][0]
    _, labels, stats, _ = cv2.connectedComponentsWithStats(lungs.astype(np.uint8))
    right, left = sorted(1 + np.argsort(stats[1:, cv2.CC_STAT_AREA])[-2:],
                         key=lambda k: stats[k, cv2.CC_STAT_LEFT])
    pred = resize_mask(np.dstack([heart, labels == left, labels == right]).astype(np.uint8),
                       64).astype(np.float32)
    film = resize_image(d["images"][0], 1024)
    names = ["heart", "left_lung", "right_lung"]
    full = np.clip(resize_image(pred, 1024), 0, 1)
    ref = ctr_from_prediction(full, names)
    fields, overlay = segmentation_result(film, pred, names, draw=True)
    assert fields["measure_size"] == [512, 512] and overlay.shape == (1024, 1024, 3)
    ctr = fields["ctr"]
    assert ctr["value"] == pytest.approx(ref["ctr"], abs=0.005)
    assert ctr["heart_width_px"] == pytest.approx(ref["heart_width_px"], abs=3)
    assert ctr["thorax_width_px"] == pytest.approx(ref["thorax_width_px"], abs=3)
    for i, name in enumerate(names):
        area = int((full[..., i] > 0.5).sum())
        assert fields["structures"][name]["area_px"] == pytest.approx(area, rel=0.01)
        assert fields["structures"][name]["area_fraction"] == pytest.approx(area / 1024 ** 2,
                                                                            rel=0.01)

"""The released heart + lungs segmenter's quality control, one test per kind of input built
to fail, on real JSRT test films (../shared/data; skipped without it) and the phantom.

The whole measurement (50 test films per kind, 320 built-to-fail inputs) is
`scripts/qc_built_to_fail.py`; its numbers are in experiments/chd_xray_vgg_unet/README.md.
These tests take four films per kind through `heartcv.predict.predict_batch` and check that
QC flags them, that the untouched films pass, and that a flagged film gets no call.
"""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

MODEL = Path(__file__).resolve().parents[3] / "models" / "jsrt_heart_lungs_vgg16_unet.h5"
# JSRT test patients (seeded split of `heartcv prep jsrt`), none of them used in training
FILMS = ("JPCLN008", "JPCLN013", "JPCLN020", "JPCLN024")


def _films(jsrt_dir):
    return {n: cv2.imread(str(jsrt_dir / "png" / f"{n}.png"), cv2.IMREAD_GRAYSCALE) for n in FILMS}


def _predict(tmp_path, images: dict, kind: str) -> pd.DataFrame:
    from heartcv.predict import predict_batch

    folder = tmp_path / kind
    folder.mkdir()
    for name, img in images.items():
        cv2.imwrite(str(folder / f"{name}.png"), np.ascontiguousarray(img))
    predict_batch(sorted(folder.glob("*.png")), MODEL, out_dir=tmp_path / f"{kind}_out",
                  progress=False)
    return pd.read_csv(tmp_path / f"{kind}_out" / "predictions.csv", keep_default_na=False)


def _assert_flagged(d: pd.DataFrame, at_least: int):
    flagged = d["qc"] != "ok"
    assert flagged.sum() >= at_least, d[["path", "ctr", "qc", "qc_reasons"]].to_string()
    # a failed film is never called
    assert (d.loc[d["qc"] == "fail", "cardiomegaly"] == "").all()


def test_untouched_films_pass(jsrt_dir, tmp_path):
    d = _predict(tmp_path, _films(jsrt_dir), "untouched")
    assert (d["qc"] == "ok").all(), d[["path", "qc", "qc_reasons"]].to_string()
    assert (d["ctr_low"].astype(float) <= d["ctr"].astype(float)).all()
    assert (d["ctr"].astype(float) <= d["ctr_high"].astype(float)).all()


@pytest.mark.parametrize("kind", ["rotated_90", "inverted", "half_top", "half_side"])
def test_films_built_to_fail_are_flagged(jsrt_dir, tmp_path, kind):
    films = _films(jsrt_dir)
    make = {
        "rotated_90": lambda i, img: np.rot90(img, 1 if i % 2 else -1),
        "inverted": lambda i, img: 255 - img,
        "half_top": lambda i, img: img[: img.shape[0] // 2],
        "half_side": lambda i, img: img[:, : img.shape[1] // 2] if i % 2 else img[:, img.shape[1] // 2:],
    }[kind]
    d = _predict(tmp_path, {n: make(i, img) for i, (n, img) in enumerate(films.items())}, kind)
    _assert_flagged(d, at_least=4)


def test_flipped_films_are_flagged(jsrt_dir, tmp_path):
    films = _films(jsrt_dir)
    d = _predict(tmp_path, {n: img[:, ::-1] for n, img in films.items()}, "flipped")
    _assert_flagged(d, at_least=3)


def test_lateral_views_and_pictures_that_are_not_chests_are_flagged(tmp_path):
    from heartcv.data.synthetic import generate_chest_xrays

    lateral = generate_chest_xrays(4, 1, 512, task="cardiomegaly", view="lateral", seed=7)["images"]
    pictures = {f"lateral_{i}": img[..., 0] for i, img in enumerate(lateral)}
    rng = np.random.default_rng(0)
    pictures["noise"] = rng.integers(0, 256, (512, 512)).astype(np.uint8)
    pictures["grey"] = np.full((512, 512), 128, np.uint8)
    d = _predict(tmp_path, pictures, "not_frontal")
    _assert_flagged(d, at_least=len(pictures))

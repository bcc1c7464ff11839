"""The released heart + lungs segmenter (models/jsrt_heart_lungs_vgg16_unet.h5) through
`heartcv predict` on a real JSRT radiograph enlarged to 1024 px and on a dimmed copy.

JPCLN008 is in the bundle's test split (seeded 72/8/20 split of `heartcv prep jsrt`), so
the model never saw it. Over all 50 test images the same check gives |CTR error| mean
0.018, 44 of 50 within 0.03 (43 of 50 dimmed): scripts/jsrt_predict_ctr.py, numbers in
experiments/chd_xray_vgg_unet/README.md.
"""

import json
from pathlib import Path

import cv2
import numpy as np

MODEL = Path(__file__).resolve().parents[3] / "models" / "jsrt_heart_lungs_vgg16_unet.h5"


def test_predict_ctr_holds_at_1024_px_and_dimmed(jsrt_dir, tmp_path, capsys):
    from heartcv.cli import main
    from heartcv.data.datasets.jsrt import heart_width, read_mask, thorax_width

    name = "JPCLN008"
    grey = cv2.imread(str(jsrt_dir / "png" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    masks = {s: read_mask(jsrt_dir / "mask" / s / f"{name}.png")
             for s in ("heart", "left_lung", "right_lung")}
    ref = heart_width(masks["heart"]) / thorax_width(masks["left_lung"], masks["right_lung"])
    big = cv2.resize(grey, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    dim = np.round(big.astype(np.float32) * 0.45).astype(np.uint8)
    assert dim.max() <= 0.46 * 255
    for tag, image in (("1024", big), ("dim45", dim)):
        path = tmp_path / f"{name}_{tag}.png"
        cv2.imwrite(str(path), image)
        assert main(["predict", str(path), "--model", str(MODEL), "--out", str(tmp_path)]) == 0
        assert "CTR:" in capsys.readouterr().out
        result = json.loads((tmp_path / f"{name}_{tag}.prediction.json").read_text())
        assert result["image_size_source"] == "card"
        assert list(result["image_size"]) == [256, 256]
        assert abs(result["ctr"]["value"] - ref) <= 0.03, (tag, result["ctr"], ref)
        assert result["ctr"]["cardiomegaly"] is (result["ctr"]["value"] > 0.5)
        assert (tmp_path / f"{name}_{tag}.overlay.png").is_file()

"""Predict one image with a saved model (``heartcv predict IMAGE --model FILE``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np


def read_card(model_path) -> dict:
    """The result card written beside a model (``model.card.json`` or ``<stem>.card.json``)."""
    model_path = Path(model_path)
    for cand in (model_path.with_suffix(".card.json"), model_path.parent / "model.card.json"):
        if cand.is_file():
            return json.loads(cand.read_text())
    return {}


def prepare_image(image: np.ndarray, input_shape) -> np.ndarray:
    """Grey/RGB uint8 image → (1, H, W, C) float32 in [0, 255] at the model's input size."""
    import cv2

    _, h, w, c = input_shape
    img = image if image.ndim == 3 else image[..., None]
    if h is not None and w is not None and img.shape[:2] != (h, w):
        interp = cv2.INTER_AREA if img.shape[0] > h else cv2.INTER_LINEAR
        img = cv2.resize(img, (w, h), interpolation=interp)
        img = img if img.ndim == 3 else img[..., None]
    c = c or 3
    if img.shape[-1] != c:
        img = np.repeat(img[..., :1], c, axis=-1)
    return img[None].astype(np.float32)


def predict_image(image_path, model_path, *, out_dir=".") -> dict:
    """Probabilities per class for one image; writes ``<image>.prediction.json`` in ``out_dir``."""
    from heartcv.data.images import read_image
    from heartcv.io import load_model

    model = load_model(model_path)
    card = read_card(model_path)
    image = read_image(image_path, grey=True)
    x = prepare_image(image, model.input_shape)
    out = model.predict(x, verbose=0)
    probs = np.asarray(out[0] if isinstance(out, (list, tuple)) else out, np.float32)[0]
    names = card.get("class_names") or [f"class_{i}" for i in range(len(probs))]
    if len(probs) == 1 and len(names) == 2:
        names = names[1:]
    result = {"image": str(image_path), "model": str(model_path),
              "probabilities": {n: float(p) for n, p in zip(names, probs.ravel())}}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{Path(image_path).stem}.prediction.json"
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, path)
    result["written"] = [str(path)]
    return result

"""Predict one image with a saved model (``heartcv predict IMAGE --model FILE``)."""

from __future__ import annotations

import json
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


def heatmap_for(model, x: np.ndarray, method: str = "auto") -> tuple[str, np.ndarray]:
    """(method name, (H, W) map in [0, 1]) for one prepared image ``x`` (1, H, W, C).

    ``auto``: the AMM attention map for Cardio-XAttentionNet models, else Grad-CAM.
    """
    from heartcv import explain
    from heartcv.models.blocks import ATTENTION_LAYER

    has_attention = any(layer.name == ATTENTION_LAYER for layer in model.layers)
    if method == "auto":
        method = "attention" if has_attention else "gradcam"
    if method == "attention":
        if not has_attention:
            raise ValueError("--method attention needs a Cardio-XAttentionNet (cxa_*) model.")
        return "AMM attention", explain.attention_maps(model, x)[1][0]
    if method in ("gradcam", "gradcam++"):
        return ("Grad-CAM++" if method == "gradcam++" else "Grad-CAM",
                explain.gradcam(model, x, plus=method == "gradcam++")[0])
    if method == "saliency":
        return "saliency", explain.saliency(model, x)[0]
    if method == "deep_taylor":
        return "deep Taylor", explain.deep_taylor(model, x)[0]
    raise ValueError(f"Expected `method` in ('auto', 'attention', 'gradcam', 'gradcam++', "
                     f"'saliency', 'deep_taylor'). Received: method={method!r}")


def predict_image(image_path, model_path, *, out_dir=".", method="auto", alpha=0.2) -> dict:
    """Probabilities for one image, and its heatmap overlaid on the image at ``alpha``.

    Writes ``<image>.prediction.json`` and ``<image>.overlay.png`` (the AMM attention map for
    Cardio-XAttentionNet models, Grad-CAM otherwise, at the image's own resolution) in
    ``out_dir``. Images: PNG/JPG/BMP/TIFF (grey, RGB, RGBA, 8 or 16 bit) and DICOM.
    """
    from heartcv.callbacks import overlay_heatmap
    from heartcv.files import atomic_write_image, atomic_write_json
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
    label, heat = heatmap_for(model, x, method)
    result = {"image": str(image_path), "model": str(model_path),
              "image_shape": list(image.shape[:2]), "model_input": list(x.shape[1:3]),
              "probabilities": {n: float(p) for n, p in zip(names, probs.ravel())},
              "heatmap": {"method": label, "shape": list(heat.shape), "overlay_alpha": alpha}}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(image_path).stem
    picture = overlay_heatmap(image, heat, alpha=alpha)  # resized to the image's own size
    overlay_path = atomic_write_image(out_dir / f"{stem}.overlay.png", picture[..., ::-1])
    json_path = atomic_write_json(out_dir / f"{stem}.prediction.json", result)
    result["written"] = [str(json_path), str(overlay_path)]
    return result

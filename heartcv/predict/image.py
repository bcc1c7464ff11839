"""One image through a saved model (``heartcv predict IMAGE --model FILE``): a heatmap for a
classifier, masks and the CTR for a segmentation model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import heartcv.io
from heartcv import explain
from heartcv.callbacks import overlay_heatmap
from heartcv.data.images import check_min_size, read_image
from heartcv.files import atomic_path, check_output_dir, check_output_file, write_image
from heartcv.models.blocks import ATTENTION_LAYER
from heartcv.predict.card import (check_alpha, check_ctr_threshold, check_image_size,
                                  check_model_channels, check_view, dicom_view, prepare_image,
                                  read_card, resolve_input_size)
from heartcv.predict.masks import has_ctr_structures, segmentation_result, structure_names
from heartcv.qc import tta_ctr_interval, tta_inputs


def heatmap_for(model, x: np.ndarray, method: str = "auto") -> tuple[str, np.ndarray]:
    """(method name, (H, W) map in [0, 1]) for one prepared image ``x`` (1, H, W, C).

    ``auto``: the AMM attention map for Cardio-XAttentionNet models, else Grad-CAM.
    """
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


def grey_model_input(x):
    """The ``(h, w)`` grey image of a prepared model input ``(1, h, w, C)``."""
    x = np.asarray(x, np.float32)[0]
    return x[..., 0] if x.shape[-1] == 1 else x.mean(axis=-1)


def _classification(model, x, out, card, method, alpha, image):
    """(result fields, overlay RGB) for one classifier output."""
    probs = np.asarray(out, np.float32)[0]
    names = card.get("class_names") or [f"class_{i}" for i in range(len(probs))]
    if len(probs) == 1 and len(names) == 2:
        names = names[1:]
    label, heat = heatmap_for(model, x, method)
    fields = {"probabilities": {n: float(p) for n, p in zip(names, probs.ravel())},
              "heatmap": {"method": label, "shape": list(heat.shape), "overlay_alpha": alpha}}
    return fields, overlay_heatmap(image, heat, alpha=alpha)  # resized to the image's size


def predict_image(image_path, model_path, *, out_dir=".", method="auto", alpha=0.2,
                  image_size=None, view=None, ctr_threshold=None, tta=True) -> dict:
    """Probabilities (or masks) for one image, drawn on the image at its own size.

    Writes ``<image>.prediction.json`` and ``<image>.overlay.png`` in ``out_dir``
    (atomically: both or neither; ``out_dir`` is created if missing). Classifiers: probabilities and a heatmap (the AMM attention map for
    Cardio-XAttentionNet models, else Grad-CAM, or ``method``) overlaid at ``alpha``.
    Segmentation models: the masks, each structure's area and, with heart and both lungs,
    the CTR (see the module docstring). Images: PNG/JPG/BMP/TIFF (grey, RGB, RGBA, 8 or
    16 bit) and DICOM.

    Args:
        alpha: heatmap overlay intensity in [0, 1] (:func:`check_alpha`).
        image_size: ``None`` (the card's input size, else the model's, else the image's),
            an int ``N`` (N×N) or ``"full"`` (the image's own size; fully convolutional
            models only). The result's ``image_size_source`` says which was used.
        view: ``"PA"``, ``"AP"`` or ``None`` (then the DICOM ``ViewPosition``, else unknown,
            read as PA); ctr_threshold: a CTR cut-off (see :func:`ctr_call`).
        tta: heart + lungs models: also predict the :data:`heartcv.qc.TTA_VIEWS` (one model
            call) for the CTR's interval.

    Raises:
        ValueError: a bad argument, an image that cannot be read or is smaller than 8×8, a
            model the image cannot be given to (see the module docstring), or an output
            folder that is a file or not writable (:class:`heartcv.files.OutputPathError`,
            also an ``OSError``; so is a failed write, e.g. a full disk).
        FileNotFoundError: the image or the model does not exist.
    """
    alpha = check_alpha(alpha)
    image_size = check_image_size(image_size)
    view = check_view(view) or dicom_view(image_path)
    ctr_threshold = check_ctr_threshold(ctr_threshold)
    out_dir = check_output_dir(out_dir)
    stem = Path(image_path).stem
    targets = (out_dir / f"{stem}.overlay.png", out_dir / f"{stem}.prediction.json")
    for target in targets:
        check_output_file(target)
    image = check_min_size(read_image(image_path, grey=True), image_path)
    card = read_card(model_path)
    model = heartcv.io.load_model(model_path)  # on the module: tests wrap it
    model_name = f"{Path(model_path).name} ({model.name})"
    check_model_channels(model.input_shape, image_path, model_name)
    size, source = resolve_input_size(model.input_shape, card, image.shape[:2], image_size,
                                      model_name=model_name)
    x = prepare_image(image, model.input_shape, size)
    names = structure_names(card, model.output_shape[-1]) \
        if len(model.output_shape) == 4 else None
    with_tta = bool(tta) and names is not None and has_ctr_structures(names)
    if with_tta:
        views = model.predict(tta_inputs(x), verbose=0)
        views = views[0] if isinstance(views, (list, tuple)) else views
        out, interval = views[:1], tta_ctr_interval(views, names, 1)[0]
    else:
        out = model.predict(x, verbose=0)
        out = out[0] if isinstance(out, (list, tuple)) else out
        interval = None
    result = {"image": str(image_path), "model": str(model_path),
              "image_shape": list(image.shape[:2]), "model_input": list(x.shape[1:3]),
              "image_size": list(size), "image_size_source": source}
    if np.ndim(out) == 4:
        if method not in ("auto", None):
            raise ValueError(f"{Path(model_path).name} is a segmentation model: it draws its "
                             f"masks, not a heatmap. Received: method={method!r}")
        fields, picture = segmentation_result(image, out[0],
                                              structure_names(card, np.shape(out)[-1]),
                                              model_image=grey_model_input(x), tta=interval,
                                              view=view, ctr_threshold=ctr_threshold)
    else:
        fields, picture = _classification(model, x, out, card, method, alpha, image)
    result.update(fields)
    result["written"] = [str(targets[1]), str(targets[0])]
    record = {k: v for k, v in result.items() if k != "written"}
    # both files or neither: each is renamed into place only when both were written
    with atomic_path(targets[0]) as tmp_png, atomic_path(targets[1]) as tmp_json:
        write_image(tmp_png, picture[..., ::-1], targets[0])
        tmp_json.write_text(json.dumps(record, indent=2, default=float), encoding="utf-8")
    return result

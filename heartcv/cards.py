"""A model's result card (``model.card.json`` beside it): what it is, what it was trained on,
what it scored, with its paths made portable."""

from __future__ import annotations

import os
from pathlib import Path

from heartcv import __version__
from heartcv.config import RunConfig, config_to_dict
from heartcv.files import atomic_write_json

__all__ = ["portable_path", "write_card"]


def portable_path(value, base=None):
    """A path as a model card keeps it: an absolute path below ``base`` (the folder training
    ran in, the current one by default) relative to it, any other absolute path as its file
    name alone (no training machine's folders in a shipped card); relative paths and other
    values unchanged."""
    if not isinstance(value, str) or not os.path.isabs(value):
        return value
    base = Path.cwd() if base is None else Path(base)
    try:
        return Path(value).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return Path(value).name


def _portable_tree(node, base=None):
    if isinstance(node, dict):
        return {k: _portable_tree(v, base) for k, v in node.items()}
    if isinstance(node, list):
        return [_portable_tree(v, base) for v in node]
    return portable_path(node, base)


def write_card(path: Path, cfg: RunConfig, data, results: dict) -> Path:
    """The model's result card: what it is, what it was trained on, what it scored.

    Paths in it (``data_source``, the config's ``output_dir``, ``data.source``, a weights file
    in ``model.params``) are :func:`portable_path`: relative to the folder training ran in,
    else file names, so ``heartcv train`` with the card's config rebuilds the model on another
    machine once the bundle is there.
    """
    card = {"model": cfg.model.name, "task": data.task, "class_names": data.class_names,
            "input_size": cfg.data.image_size, "channels": cfg.data.channels,
            "input_range": "[0, 255]", "data_source": portable_path(data.source),
            "split_sizes": {k: len(v) for k, v in data.splits.items()},
            "test_metrics": _headline_numbers(results), "heartcv_version": __version__,
            "config": _portable_tree(config_to_dict(cfg))}
    return atomic_write_json(path, card)


def _headline_numbers(results: dict) -> dict:
    if results.get("task") == "segmentation":
        return {"dice": results["dice"]["mean"], "iou": results["iou"]["mean"]}
    out = {"accuracy": results.get("accuracy")}
    auc = results.get("auroc") or {}
    if isinstance(auc, dict) and "value" in auc:
        out["auroc"], out["auroc_ci"] = auc["value"], auc.get("ci")
    return out

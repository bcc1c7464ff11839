"""CPU recipes as YAML: the settings a ``--quick`` run, or the demo, puts over a config.

A recipe is a YAML mapping. Its ``config`` section holds config values laid out as in a config
YAML (``data:``, ``train:``, ...); :func:`config_overrides` turns it into ``(dotted key,
value)`` pairs, which :func:`heartcv.config.load_config` applies exactly as the ``--set
key=value`` strings they replace. Other top-level keys are the script's own settings (the
synthetic data's size, how many boxed images to score, ...).

``experiments/<key>/configs/quick.yaml`` is each paper's ``--quick`` recipe;
``demo.yaml`` beside this file is the demo's (package data: it installs with heartcv).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from heartcv.config import read_yaml_mapping

DEMO = Path(__file__).with_name("demo.yaml")


def read_recipe(path) -> dict:
    """The recipe in ``path`` as a dict.

    Raises:
        FileNotFoundError: no such file.
        heartcv.config.ConfigError: not YAML, or not a mapping at top level.
    """
    return read_yaml_mapping(path, "Recipe")


def config_overrides(tree: dict | None, prefix: str = "") -> list[tuple[str, Any]]:
    """``{"train": {"epochs": 6}}`` → ``[("train.epochs", 6)]``, in the file's order; a leaf is
    any value that is not a non-empty mapping."""
    pairs = []
    for key, value in (tree or {}).items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            pairs += config_overrides(value, f"{dotted}.")
        else:
            pairs.append((dotted, value))
    return pairs


def format_override(pair) -> str:
    """``("train.epochs", 6)`` → ``"train.epochs=6"`` (lists compact), for help texts and logs."""
    key, value = pair
    if isinstance(value, (list, dict, bool)) or value is None:
        return f"{key}={json.dumps(value, separators=(',', ':'))}"
    return f"{key}={value}"

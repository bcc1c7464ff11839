"""Run configuration: frozen dataclasses, YAML loading, dotted overrides.

A YAML file sets only what differs from the defaults below; ``--set train.epochs=3`` style
overrides are applied on top. Unknown keys are errors with a suggestion, values are checked
against the field types, and the resolved config is written into every run directory.

Example YAML::

    # heartcv train experiments/demo.yaml
    name: demo
    data: {source: synthetic, synthetic: cardiomegaly, image_size: 64}
    model: {name: small_cnn}
    train: {epochs: 3, optimizer: adam, learning_rate: 0.001}
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, Optional

import yaml
from heartcv.registry import did_you_mean


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names the key."""


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Online augmentation, named as Keras 2's ``ImageDataGenerator`` arguments."""

    enabled: bool = False
    rotation_range: float = 0.0  # degrees
    width_shift_range: float = 0.0  # fraction of width
    height_shift_range: float = 0.0  # fraction of height
    shear_range: float = 0.0  # degrees
    zoom_range: float = 0.0  # z -> [1 - z, 1 + z]
    horizontal_flip: bool = False
    vertical_flip: bool = False
    brightness_range: Optional[tuple[float, float]] = None  # multiplicative [lo, hi]
    fill_mode: str = "nearest"
    # Acquisition shifts (image only; None = off), see heartcv.data.augment.build_augmenter.
    gamma_range: Optional[tuple[float, float]] = None  # log-uniform gamma
    contrast_range: Optional[tuple[float, float]] = None  # factor about the image mean
    exposure_range: Optional[tuple[float, float]] = None  # multiplicative, e.g. [0.4, 1.2]
    noise_std_range: Optional[tuple[float, float]] = None  # Gaussian sigma, grey levels
    blur_sigma_range: Optional[tuple[float, float]] = None  # Gaussian blur sigma, pixels
    resolution_range: Optional[tuple[float, float]] = None  # downsample factor, >= 1


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where images come from and how they are fed.

    ``source`` is ``"synthetic"`` (the embedded phantom, kind chosen by ``synthetic``) or the
    path of an HDF5 bundle written by ``data_prep/``.
    """

    source: str = "synthetic"
    synthetic: str = "cardiomegaly"  # cardiomegaly | chd | findings | view
    n_patients: int = 300  # synthetic only
    images_per_patient: int = 2  # synthetic only
    # synthetic only: more generator arguments, e.g. {normal_ctr: [0.42, 0.49],
    # cardiomegaly_ctr: [0.51, 0.58]} for a harder cardiomegaly task
    synthetic_options: dict = dataclasses.field(default_factory=dict)
    image_size: int = 64
    channels: int = 3
    batch_size: int = 16
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    seed: int = 0
    cache: bool = True
    # segmentation bundles: the mask structures to train on, e.g. [heart, left_lung,
    # right_lung] (one sigmoid channel each); None = the bundle's first structure only
    mask_structures: Optional[tuple[str, ...]] = None
    augment: AugmentConfig = AugmentConfig()


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """A registry key and the builder arguments that differ from its defaults."""

    name: str = "small_cnn"
    params: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation, callbacks, distribution and cross-validation."""

    epochs: int = 10
    optimizer: str = "adam"  # adam | sgd
    learning_rate: float = 1e-3
    momentum: float = 0.9  # sgd only
    loss: str = "auto"  # auto | binary_crossentropy | categorical_crossentropy | weighted_bce | dice | bce_dice
    class_weight: Optional[str] = None  # None | balanced (single-label tasks only)
    monitor: str = "val_loss"
    reduce_lr_factor: float = 0.3
    reduce_lr_patience: int = 15
    min_lr: float = 1e-7
    early_stopping_patience: Optional[int] = 40
    # BatchNorm momentum for layers trained from scratch; "auto" = 0.9 when the backbone has
    # no pretrained weights (Keras' 0.99 lags far behind in short runs), else unchanged.
    bn_momentum: Optional[float | str] = "auto"
    strategy: str = "auto"  # auto | default | mirrored | multiworker
    mixed_precision: bool = False
    # XLA compilation of the train step: "auto" (Keras' choice), true or false. On a CPU,
    # compiling a DenseNet with XLA costs minutes before the first step.
    jit_compile: bool | str = "auto"
    seed: int = 0
    folds: int = 0  # k > 1: k-fold cross-validation by patient
    steps_per_epoch: Optional[int] = None
    tensorboard_images: bool = True
    verbose: int = 1


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Evaluation on the held-out test split."""

    bootstrap: int = 1000
    ci: float = 0.95
    prevalence: Optional[float] = None  # PPV/NPV at this prevalence (binary)
    threshold: str = "youden"  # youden | f1 | fixed ; chosen on validation data
    fixed_threshold: float = 0.5
    # Evaluate at another input size than training (fully convolutional models): the
    # Cardio-XAttentionNet paper trains at 224 and tests on full-size images. None = same.
    image_size: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything one run needs; ``output_dir/name`` is the run directory."""

    name: str = "run"
    output_dir: str = "runs"
    table: str = ""  # which paper table this run reproduces (for the report)
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name


# ----------------------------------------------------------------------------- loading


def _type_ok(value, tp) -> tuple[bool, Any]:
    """Check ``value`` against annotation ``tp``; returns (ok, coerced value)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return True, value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is type(None):
                if value is None:
                    return True, None
                continue
            ok, v = _type_ok(value, arg)
            if ok:
                return True, v
        return False, value
    if origin is tuple and typing.get_args(tp)[-1:] == (Ellipsis,):  # tuple[X, ...]
        item = typing.get_args(tp)[0]
        if not isinstance(value, (list, tuple)):
            return False, value
        checked = [_type_ok(v, item) for v in value]
        return all(ok for ok, _ in checked), tuple(v for _, v in checked)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            return False, value
        out = []
        for v, a in zip(value, args):
            ok, v = _type_ok(v, a)
            if not ok:
                return False, value
            out.append(v)
        return True, tuple(out)
    if tp is dict or origin is dict:
        return isinstance(value, dict), value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        if isinstance(value, str):  # YAML 1.1 reads `1e-4` (no dot) as a string
            try:
                return True, float(value)
            except ValueError:
                pass
        return False, value
    if tp is str:
        return isinstance(value, str), value
    return isinstance(value, tp), value


def _from_dict(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"Expected a mapping at `{where or 'top level'}`. Received: {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        dotted = f"{where}.{key}" if where else str(key)
        if key not in fields:
            prefix = f"{where}." if where else ""
            hint = did_you_mean(prefix + str(key), [prefix + f for f in fields], quote="`")
            raise ConfigError(f"Unknown config key `{dotted}`.{hint}")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _from_dict(tp, value or {}, dotted)
            continue
        ok, coerced = _type_ok(value, tp)
        if not ok:
            raise ConfigError(
                f"Config key `{dotted}` expects {_type_name(tp)}. Received: {dotted}={value!r}"
            )
        kwargs[key] = coerced
    return cls(**kwargs)


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _set_dotted(tree: dict, dotted: str, value) -> None:
    keys = dotted.split(".")
    node = tree
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ConfigError(f"Cannot set `{dotted}`: `{k}` is not a section.")
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.epochs=3"`` → ``("train.epochs", 3)``; the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"Expected an override as key=value. Received: {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"Expected an override as key=value. Received: {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, (dict, list)) and not raw.strip().startswith(("{", "[")):
        value = raw  # "table=Demo: a title" is text, not a block mapping
    return key, value


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _read_yaml_tree(path: Path, seen) -> dict:
    """A YAML file as a dict; ``base: other.yaml`` (relative to the file) is read first."""
    if not path.is_file():
        raise FileNotFoundError(f"Config file not found: {path}")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: `base` files form a cycle")
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: expected a mapping at top level, got {type(tree).__name__}")
    base = tree.pop("base", None)
    if base is None:
        return tree
    if not isinstance(base, str):
        raise ConfigError(f"{path}: `base` must be a file name. Received: base={base!r}")
    return _merge(_read_yaml_tree(path.parent / base, (*seen, path.resolve())), tree)


def load_config(path: str | os.PathLike | None = None, overrides=()) -> RunConfig:
    """Load a YAML run config (or the defaults) and apply dotted overrides.

    Args:
        path: YAML file, or None for the defaults. A top-level ``base: other.yaml`` key
            (relative to the file) reads that file first, so a table row sets only what
            differs from its paper's recipe.
        overrides: ``"section.key=value"`` strings (values parsed as YAML), applied in order.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ConfigError: malformed YAML, unknown keys (with a suggestion) or wrong types.
    """
    tree: dict = {}
    if path is not None:
        path = Path(path)
        tree = _read_yaml_tree(path, seen=())
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        _set_dotted(tree, key, value)
    try:
        return _from_dict(RunConfig, tree, "")
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}" if path else str(err)) from None


def config_to_dict(cfg) -> dict:
    """Plain nested dict (tuples as lists) of a config dataclass, ready for YAML/JSON."""

    def conv(v):
        if isinstance(v, tuple):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v

    return {k: conv(v) for k, v in dataclasses.asdict(cfg).items()}


def save_config(cfg: RunConfig, path: str | os.PathLike) -> Path:
    """Write the resolved config as YAML (temp file, then rename)."""
    from heartcv.files import atomic_write_text

    return atomic_write_text(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def replace(cfg, **changes):
    """``dataclasses.replace`` accepting dotted keys: ``replace(cfg, **{"train.epochs": 2})``."""
    tree = config_to_dict(cfg)
    for key, value in changes.items():
        _set_dotted(tree, key, value)
    return _from_dict(type(cfg), tree, "")

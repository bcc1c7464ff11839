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
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, Optional

import yaml
from heartcv.files import atomic_write_text
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
    # anatomy-aware (segmentation masks needed): heart scale s and thorax width scale t,
    # heartcv.layers.RandomCardiacEnlargement; the heart is rescaled with this probability
    heart_scale_range: Optional[tuple[float, float]] = None
    thorax_scale_range: Optional[tuple[float, float]] = None
    heart_scale_probability: float = 0.5


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
    # synthetic only: more generator arguments (docs/phantom.md), e.g. {label_noise: 0.0,
    # ap_prob: 0.0} or {ctr_distribution: bands} for the easy cardiomegaly task
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
    # partial labels: a mask structure the bundle lacks is trained where labelled (its loss
    # and Dice left out for the images without it) instead of being an error
    allow_missing_structures: bool = False
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
    # Keras' fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch; "auto" is 1 on a
    # terminal and 2 when stdout is a file or a pipe (a log holds no redrawn bars).
    verbose: int | str = "auto"


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
        return _union_ok(value, typing.get_args(tp))
    if origin is tuple and typing.get_args(tp)[-1:] == (Ellipsis,):  # tuple[X, ...]
        return _tuple_of_ok(value, typing.get_args(tp)[0])
    if origin is tuple:
        return _tuple_ok(value, typing.get_args(tp))
    if tp is dict or origin is dict:
        return isinstance(value, dict), value
    if tp is float:
        return _float_ok(value)
    if tp in _SCALAR_OK:
        return _SCALAR_OK[tp](value), value
    return isinstance(value, tp), value


def _union_ok(value, args) -> tuple[bool, Any]:
    for arg in args:
        if arg is type(None):
            if value is None:
                return True, None
            continue
        ok, v = _type_ok(value, arg)
        if ok:
            return True, v
    return False, value


def _tuple_of_ok(value, item) -> tuple[bool, Any]:
    """``tuple[item, ...]``: a list or tuple of any length."""
    if not isinstance(value, (list, tuple)):
        return False, value
    checked = [_type_ok(v, item) for v in value]
    return all(ok for ok, _ in checked), tuple(v for _, v in checked)


def _tuple_ok(value, args) -> tuple[bool, Any]:
    """``tuple[A, B]``: a list or tuple of exactly these items."""
    if not isinstance(value, (list, tuple)) or len(value) != len(args):
        return False, value
    out = []
    for v, a in zip(value, args):
        ok, v = _type_ok(v, a)
        if not ok:
            return False, value
        out.append(v)
    return True, tuple(out)


def _float_ok(value) -> tuple[bool, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True, float(value)
    if isinstance(value, str):  # YAML 1.1 reads `1e-4` (no dot) as a string
        try:
            return True, float(value)
        except ValueError:
            pass
    return False, value


# bool is an int in Python; a YAML `true` is no int here
_SCALAR_OK = {
    bool: lambda v: isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    str: lambda v: isinstance(v, str),
}


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


def read_yaml_mapping(path, what: str = "Config") -> dict:
    """The YAML mapping in ``path`` as a dict (an empty file is ``{}``).

    Raises:
        FileNotFoundError: no such file (``"{what} file not found: …"``).
        ConfigError: not YAML, or not a mapping at top level.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: expected a mapping at top level, got {type(tree).__name__}")
    return tree


def _read_yaml_tree(path: Path, seen) -> dict:
    """A YAML file as a dict; ``base: other.yaml`` (relative to the file) is read first."""
    if not path.is_file():
        raise FileNotFoundError(f"Config file not found: {path}")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: `base` files form a cycle")
    tree = read_yaml_mapping(path)
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
        ConfigError: malformed YAML, unknown keys (with a suggestion), wrong types or values
            out of range (:func:`validate`).
    """
    tree: dict = {}
    if path is not None:
        path = Path(path)
        tree = _read_yaml_tree(path, seen=())
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else item
        _set_dotted(tree, key, value)
    try:
        return validate(_from_dict(RunConfig, tree, ""))
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
    return atomic_write_text(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def replace(cfg, **changes):
    """``dataclasses.replace`` accepting dotted keys: ``replace(cfg, **{"train.epochs": 2})``."""
    tree = config_to_dict(cfg)
    for key, value in changes.items():
        _set_dotted(tree, key, value)
    return _from_dict(type(cfg), tree, "")


# ----------------------------------------------------------------------------- validation

_CHOICES = {
    "data.synthetic": ("cardiomegaly", "chd", "findings", "view", "segmentation"),
    "data.augment.fill_mode": ("nearest", "constant", "reflect", "wrap"),
    "train.optimizer": ("adam", "sgd"),
    "train.loss": ("auto", "binary_crossentropy", "categorical_crossentropy", "weighted_bce",
                   "dice", "bce_dice"),
    "train.class_weight": (None, "balanced"),
    "train.strategy": ("auto", "default", "mirrored", "multiworker"),
    "train.verbose": ("auto", 0, 1, 2),
    "eval.threshold": ("youden", "f1", "fixed"),
}


def _plain_run_name(name) -> bool:
    """``name`` keeps the run inside ``output_dir``: ``/``-joined parts, none of them empty,
    ``.`` or ``..``, no backslash, NUL or surrounding blanks, not absolute."""
    name = str(name)
    if not name.strip() or name != name.strip() or "\\" in name or "\0" in name:
        return False
    parts = name.split("/")
    return all(part and part.strip() == part and part not in (".", "..") for part in parts)


def _check(ok: bool, key: str, expected: str, value) -> None:
    if not ok:
        raise ConfigError(f"Expected `{key}` {expected}. Received: {key}={value!r}")


def _check_range_pair(key: str, value, *, low: float, low_open=False, high=None) -> None:
    """An optional ``[lo, hi]`` pair with ``low <= lo <= hi`` (``low < lo`` if ``low_open``)."""
    if value is None:
        return
    lo, hi = value
    first = lo > low if low_open else lo >= low
    bound = f"> {low}" if low_open else f">= {low}"
    top = "" if high is None else f" and hi <= {high}"
    _check(first and lo <= hi and math.isfinite(hi) and (high is None or hi <= high), key,
           f"as [lo, hi] with lo {bound} and lo <= hi{top}", list(value))


def validate(cfg: RunConfig) -> RunConfig:
    """Check every value of a resolved config; returns it unchanged.

    Types are checked while loading; this checks ranges and choices, so a bad value fails
    before anything is written or trained.

    Raises:
        ConfigError: the first bad value, naming its key (Keras style:
            ``Expected `train.epochs` >= 1. Received: train.epochs=-3``).
    """
    for key, choices in _CHOICES.items():
        section, _, name = key.rpartition(".")
        node = cfg
        for part in section.split("."):
            node = getattr(node, part)
        value = getattr(node, name)
        _check(value in choices, key, f"in {choices}", value)
    _check(_plain_run_name(cfg.name), "name",
           "a non-empty run name inside output_dir: a plain name, or plain names joined by "
           "'/' (e.g. paper/row); no '..', '.', empty part, leading '/', backslash or NUL",
           cfg.name)
    _check(bool(str(cfg.output_dir).strip()), "output_dir", "a non-empty folder", cfg.output_dir)
    _validate_data(cfg.data)
    _validate_augment(cfg.data.augment)
    _check(bool(cfg.model.name.strip()), "model.name", "a registered model name", cfg.model.name)
    _validate_train(cfg.train)
    _validate_eval(cfg.eval)
    return cfg


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _validate_data(d: DataConfig) -> None:
    _check(bool(d.source.strip()), "data.source", "'synthetic' or a bundle path", d.source)
    _check(d.n_patients >= 2, "data.n_patients", ">= 2", d.n_patients)
    _check(d.images_per_patient >= 1, "data.images_per_patient", ">= 1", d.images_per_patient)
    _check(d.image_size >= 8, "data.image_size", ">= 8", d.image_size)
    _check(d.channels >= 1, "data.channels", ">= 1 (1 grey, 3 RGB, or the bundle's own)",
           d.channels)
    _check(d.batch_size >= 1, "data.batch_size", ">= 1", d.batch_size)
    for key in ("val_fraction", "test_fraction"):
        value = getattr(d, key)
        _check(_finite(value) and 0.0 <= value < 1.0, f"data.{key}", "in [0, 1)", value)
    _check(d.val_fraction + d.test_fraction < 1.0, "data.val_fraction + data.test_fraction",
           "< 1 (some patients must be left to train on)", d.val_fraction + d.test_fraction)
    _check(d.seed >= 0, "data.seed", ">= 0", d.seed)
    _check(d.mask_structures is None or len(d.mask_structures) >= 1, "data.mask_structures",
           "null or a non-empty list", d.mask_structures)


def _validate_augment(a: AugmentConfig) -> None:
    _check(_finite(a.rotation_range) and 0 <= a.rotation_range <= 180,
           "data.augment.rotation_range", "in [0, 180] (degrees)", a.rotation_range)
    for key in ("width_shift_range", "height_shift_range", "zoom_range"):
        value = getattr(a, key)
        _check(_finite(value) and 0 <= value < 1, f"data.augment.{key}", "in [0, 1)", value)
    _check(_finite(a.shear_range) and 0 <= a.shear_range < 90, "data.augment.shear_range",
           "in [0, 90) (degrees)", a.shear_range)
    for key in ("brightness_range", "gamma_range", "contrast_range", "exposure_range"):
        _check_range_pair(f"data.augment.{key}", getattr(a, key), low=0.0, low_open=True)
    _check_range_pair("data.augment.noise_std_range", a.noise_std_range, low=0.0)
    _check_range_pair("data.augment.blur_sigma_range", a.blur_sigma_range, low=0.0)
    _check_range_pair("data.augment.resolution_range", a.resolution_range, low=1.0)
    _check_range_pair("data.augment.heart_scale_range", a.heart_scale_range, low=0.85, high=1.5)
    _check_range_pair("data.augment.thorax_scale_range", a.thorax_scale_range, low=0.8, high=1.25)
    _check(_finite(a.heart_scale_probability) and 0 <= a.heart_scale_probability <= 1,
           "data.augment.heart_scale_probability", "in [0, 1]", a.heart_scale_probability)


def _validate_train(t: TrainConfig) -> None:
    _check(t.epochs >= 1, "train.epochs", ">= 1", t.epochs)
    _check(_finite(t.learning_rate) and t.learning_rate > 0, "train.learning_rate", "> 0",
           t.learning_rate)
    _check(_finite(t.momentum) and 0 <= t.momentum < 1, "train.momentum", "in [0, 1)", t.momentum)
    _check(bool(t.monitor.strip()), "train.monitor", "a metric name such as 'val_loss'", t.monitor)
    _check(_finite(t.reduce_lr_factor) and 0 < t.reduce_lr_factor < 1, "train.reduce_lr_factor",
           "in (0, 1)", t.reduce_lr_factor)
    _check(t.reduce_lr_patience >= 0, "train.reduce_lr_patience", ">= 0", t.reduce_lr_patience)
    _check(_finite(t.min_lr) and t.min_lr >= 0, "train.min_lr", ">= 0", t.min_lr)
    _check(t.early_stopping_patience is None or t.early_stopping_patience >= 0,
           "train.early_stopping_patience", "null or >= 0", t.early_stopping_patience)
    bn = t.bn_momentum
    _check(bn in (None, "auto") or (not isinstance(bn, str) and _finite(bn) and 0 <= bn < 1),
           "train.bn_momentum", "null, 'auto' or in [0, 1)", bn)
    _check(isinstance(t.jit_compile, bool) or t.jit_compile == "auto", "train.jit_compile",
           "true, false or 'auto'", t.jit_compile)
    _check(t.seed >= 0, "train.seed", ">= 0", t.seed)
    _check(t.folds >= 0, "train.folds", ">= 0 (0 or 1: no cross-validation, k: k-fold)", t.folds)
    _check(t.steps_per_epoch is None or t.steps_per_epoch >= 1, "train.steps_per_epoch",
           "null or >= 1", t.steps_per_epoch)


def _validate_eval(e: EvalConfig) -> None:
    _check(e.bootstrap >= 0, "eval.bootstrap", ">= 0 (0: no confidence intervals)", e.bootstrap)
    _check(_finite(e.ci) and 0 < e.ci < 1, "eval.ci", "in (0, 1)", e.ci)
    _check(e.prevalence is None or (_finite(e.prevalence) and 0 < e.prevalence < 1),
           "eval.prevalence", "null or in (0, 1)", e.prevalence)
    _check(_finite(e.fixed_threshold) and 0 <= e.fixed_threshold <= 1, "eval.fixed_threshold",
           "in [0, 1]", e.fixed_threshold)
    _check(e.image_size is None or e.image_size >= 8, "eval.image_size", "null or >= 8",
           e.image_size)

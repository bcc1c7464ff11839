"""One registry of model builders: ``register_model``, ``build_model``, ``list_models``.

Configs and the CLI name models only by registry key. A builder is a function taking
keyword arguments (each with a default) and returning a ``keras.Model`` whose last layer is
named ``predictions``. ``register_model`` records the builder with fixed keyword arguments, so
thin variants (``densenet121_gap`` → ``gap_classifier(backbone="densenet121")``) cost one line.

Example:
    >>> import heartcv
    >>> heartcv.list_models("cxa_*")                       # doctest: +SKIP
    >>> model = heartcv.build_model("small_cnn", input_shape=(64, 64, 3))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import inspect
from typing import Any, Callable, Mapping

TASKS = ("binary", "multiclass", "multilabel", "segmentation")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one model.

    Attributes:
        name: registry key.
        builder: the function that builds it.
        task: one of ``TASKS``; decides default loss, metrics and evaluation.
        defaults: keyword arguments fixed for this variant (overridable in ``build_model``).
        paper: short key of the paper it reproduces (``"cardio-xattentionnet-amm"``), or None.
        description: one line for ``heartcv list-models``.
    """

    name: str
    builder: Callable[..., Any]
    task: str
    defaults: Mapping[str, Any]
    paper: str | None = None
    description: str = ""

    def parameters(self) -> dict[str, Any]:
        """Builder keyword arguments with their effective defaults for this variant."""
        params = {
            k: p.default
            for k, p in inspect.signature(self.builder).parameters.items()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }
        params.update(self.defaults)
        return params


_REGISTRY: dict[str, ModelSpec] = {}


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" Did you mean: {', '.join(close)}?" if close else ""


def register_model(
    name: str | None = None,
    *,
    task: str,
    paper: str | None = None,
    description: str = "",
    **defaults: Any,
):
    """Decorator registering a builder under ``name`` (default: the function's name).

    Stack it to register several variants of one builder with different fixed arguments.

    Raises:
        ValueError: for an unknown task, a name already taken, or a default that the
            builder does not accept.
    """
    if task not in TASKS:
        raise ValueError(f"Expected `task` in {TASKS}. Received: task={task!r}")

    def decorator(builder):
        key = name or builder.__name__
        if key in _REGISTRY and _REGISTRY[key].builder is not builder:
            raise ValueError(f"Model name {key!r} is already registered.")
        accepted = inspect.signature(builder).parameters
        for arg in defaults:
            if arg not in accepted:
                raise ValueError(
                    f"Builder {builder.__name__} has no argument {arg!r} "
                    f"(registering {key!r}). Received: {arg}={defaults[arg]!r}"
                )
        desc = description or (inspect.getdoc(builder) or "").split("\n")[0]
        _REGISTRY[key] = ModelSpec(key, builder, task, dict(defaults), paper, desc)
        return builder

    return decorator


def get_spec(name: str) -> ModelSpec:
    """The ``ModelSpec`` registered as ``name``.

    Raises:
        ValueError: for an unknown name, with close matches suggested.
    """
    _ensure_registered()
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(
            f"Unknown model {name!r}.{_did_you_mean(str(name), _REGISTRY)} "
            f"See `heartcv list-models` for the {len(_REGISTRY)} registered models."
        )
    return _REGISTRY[name]


def build_model(name: str, **overrides: Any):
    """Build the registered model ``name``; keyword arguments override its defaults.

    Raises:
        ValueError: unknown model name.
        TypeError: an override the builder does not take (with suggestions).
    """
    spec = get_spec(name)
    accepted = inspect.signature(spec.builder).parameters
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    for arg, value in overrides.items():
        if arg not in accepted and not takes_kwargs:
            raise TypeError(
                f"Model {name!r} has no argument {arg!r}.{_did_you_mean(arg, accepted)} "
                f"Received: {arg}={value!r}"
            )
    kwargs = {**spec.defaults, **overrides}
    return spec.builder(**kwargs)


def list_models(pattern: str = "*", task: str | None = None) -> list[str]:
    """Sorted registry keys matching a shell-style ``pattern`` and, if given, a ``task``."""
    _ensure_registered()
    if task is not None and task not in TASKS:
        raise ValueError(f"Expected `task` in {TASKS} or None. Received: task={task!r}")
    return sorted(
        k for k, s in _REGISTRY.items()
        if fnmatch.fnmatchcase(k, pattern) and (task is None or s.task == task)
    )


def _ensure_registered() -> None:
    # Builders register themselves when heartcv.models is imported.
    import heartcv.models  # noqa: F401

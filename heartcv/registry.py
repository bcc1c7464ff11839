"""The registries: model builders, papers and datasets.

``register_model`` / ``build_model`` / ``list_models`` for models; ``register_paper`` /
``get_paper`` / ``list_papers`` for the papers (one ``Paper`` record each, registered from
``heartcv/papers/<key>/__init__.py``); ``register_dataset`` / ``get_dataset`` /
``list_datasets`` for the raw datasets ``heartcv prep`` converts (registered from
``heartcv/data/datasets/<name>.py``, or from a paper's ``prep.py`` where a paper owns the
conversion). This module imports nothing of heartcv: the entries register themselves when
their modules are imported (``import heartcv`` imports them all).

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
        paper: key of the paper it reproduces (``"cardio_xattentionnet"``, the name of its
            ``heartcv/papers/`` and ``experiments/`` folders), or None.
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


def did_you_mean(name, choices, *, quote: str = "'", cutoff: float = 0.5,
                 ignore_case: bool = False) -> str:
    """`` Did you mean 'x'?`` for the choice closest to ``name``, or ``""`` when none is close.

    The one did-you-mean helper of heartcv: every unknown-name error appends it (config keys
    quote with backticks, `` Did you mean `train.epochs`?``). With ``ignore_case`` the
    comparison is on lower case and the choice is named as written.
    """
    choices = [str(c) for c in choices]
    if ignore_case:
        by_lower = {c.lower(): c for c in choices}
        close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=cutoff)
        close = [by_lower[c] for c in close]
    else:
        close = difflib.get_close_matches(str(name), choices, n=1, cutoff=cutoff)
    return f" Did you mean {quote}{close[0]}{quote}?" if close else ""


_did_you_mean = did_you_mean


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


def list_models(pattern: str = "*", task: str | None = None, paper: str | None = None) -> list[str]:
    """Sorted registry keys matching a shell-style ``pattern`` and, if given, a ``task`` and a
    ``paper`` key."""
    if task is not None and task not in TASKS:
        raise ValueError(f"Expected `task` in {TASKS} or None. Received: task={task!r}")
    if paper is not None and paper not in _PAPERS:
        raise ValueError(f"Unknown paper {paper!r}.{did_you_mean(paper, _PAPERS)} "
                         f"Expected one of {sorted(_PAPERS)}. Received: paper={paper!r}")
    return sorted(
        k for k, s in _REGISTRY.items()
        if fnmatch.fnmatchcase(k, pattern) and (task is None or s.task == task)
        and (paper is None or s.paper == paper)
    )


# ----------------------------------------------------------------------------- papers


@dataclasses.dataclass(frozen=True)
class Paper:
    """One reproduced paper: its key, title and citation (written once, here), and what
    heartcv builds for it.

    Attributes:
        key: the name of its ``heartcv/papers/``, ``experiments/`` and ``tests/papers/``
            folders (``"chd_xray_vgg_unet"``); registry entries' ``paper=`` field.
        title: the paper's title.
        citation: authors, venue, year (and an identifier where there is one).
        text: file name of its text in ``shared/papers/``.
        datasets: the ``heartcv prep`` datasets its experiments use.
        backbones: the keys of ``heartcv.models.backbones.BACKBONES`` it uses.
        summary: one line on what heartcv reproduces.
    """

    key: str
    title: str
    citation: str
    text: str = ""
    datasets: tuple[str, ...] = ()
    backbones: tuple[str, ...] = ()
    summary: str = ""

    @property
    def models(self) -> list[str]:
        """The registered models whose ``paper`` is this key."""
        return list_models(paper=self.key)


_PAPERS: dict[str, Paper] = {}


def register_paper(paper: Paper) -> Paper:
    """Record ``paper`` under its key (idempotent for the same record)."""
    if not isinstance(paper, Paper):
        raise TypeError(f"Expected a Paper. Received: paper={paper!r}")
    old = _PAPERS.get(paper.key)
    if old is not None and old != paper:
        raise ValueError(f"Paper key {paper.key!r} is already registered.")
    _PAPERS[paper.key] = paper
    return paper


def get_paper(key: str) -> Paper:
    """The ``Paper`` registered as ``key``; unknown keys raise with close matches."""
    if key not in _PAPERS:
        raise ValueError(f"Unknown paper {key!r}.{did_you_mean(key, _PAPERS)} "
                         f"Expected one of {sorted(_PAPERS)}. Received: paper={key!r}")
    return _PAPERS[key]


def list_papers() -> list[str]:
    """Sorted keys of the registered papers."""
    return sorted(_PAPERS)


# ----------------------------------------------------------------------------- datasets


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A raw dataset that ``heartcv prep NAME`` converts to an HDF5 bundle.

    Attributes:
        name: the ``heartcv prep`` name.
        main: ``main(argv, prog) -> exit code``: parses the dataset's own options and converts.
        build_parser: ``build_parser(prog) -> argparse.ArgumentParser`` (its options, for help).
        reader: the function reading the raw layout into an index, or None (generated data).
        description: one line for ``heartcv prep --help``.
        module: the module that registered it.
    """

    name: str
    main: Callable[..., int]
    build_parser: Callable[..., Any]
    reader: Callable[..., Any] | None = None
    description: str = ""
    module: str = ""


_DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(name: str, *, main, build_parser, reader=None, description: str = "",
                     module: str = "") -> DatasetSpec:
    """Record a ``heartcv prep`` dataset (called once, from the module that converts it)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"Expected `name` as an identifier. Received: name={name!r}")
    old = _DATASETS.get(name)
    if old is not None and old.module != module:
        raise ValueError(f"Dataset {name!r} is already registered by {old.module}.")
    spec = DatasetSpec(name, main, build_parser, reader, description, module)
    _DATASETS[name] = spec
    return spec


def unregister_dataset(name: str) -> None:
    """Remove a registered dataset (tests that register a toy one clean up with this)."""
    _DATASETS.pop(name, None)


def registered_datasets() -> dict[str, DatasetSpec]:
    """The datasets registered so far (``heartcv.data.datasets.list_datasets`` imports their
    modules first)."""
    return dict(_DATASETS)


def unregister_model(name: str) -> None:
    """Remove a registered model (tests that register a toy one clean up with this)."""
    _REGISTRY.pop(name, None)

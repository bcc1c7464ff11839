"""One package per reproduced paper, keyed by its ``experiments/`` folder name.

``heartcv/papers/<key>/__init__.py`` registers the paper's ``Paper`` record (light: no Keras)
and names its model modules in ``MODEL_MODULES``; :func:`import_models` imports those (what
``import heartcv`` does), so the builders register themselves. ``<key>/experiment.py`` holds
the logic its ``experiments/<key>/run.py`` calls; ``<key>/prep.py``, where present, registers
the ``heartcv prep`` conversions the paper owns. Shared code never imports a paper.
"""

import argparse
import importlib
import importlib.util
import pkgutil


def paper_keys() -> list[str]:
    """The paper packages under ``heartcv/papers`` (found on disk, not listed by hand)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg)


def import_papers() -> list:
    """Import every paper package (registers the ``Paper`` records); returns the modules."""
    return [importlib.import_module(f"{__name__}.{key}") for key in paper_keys()]


def import_models() -> None:
    """Import every paper's model modules, so their builders are registered."""
    for package in import_papers():
        for module in getattr(package, "MODEL_MODULES", ()):
            importlib.import_module(f"{package.__name__}.{module}")


def import_prep_modules() -> None:
    """Import the ``prep`` module of every paper that has one (registers its datasets)."""
    for key in paper_keys():
        name = f"{__name__}.{key}.prep"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def experiment_parser(doc: str, *, set_help="override any config value (repeatable)",
                      set_metavar="KEY=VALUE"):
    """The arguments every ``experiments/<paper>/run.py`` shares: ``--output-dir``, ``--set``,
    ``--debug``.

    The description is the first paragraph of the script's ``doc``; each script adds its own
    arguments (``--data``, ``--quick``, ...) to the returned parser. Its ``main`` passes
    ``debug=args.debug`` to :func:`heartcv.register_all` once the arguments are parsed.
    """
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output-dir", default="runs", help="where runs go (default: runs)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar=set_metavar,
                   help=set_help)
    p.add_argument("--debug", action="store_true",
                   help="show TensorFlow's start-up log lines (also: HEARTCV_DEBUG=1)")
    return p

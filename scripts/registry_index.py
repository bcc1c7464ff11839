"""Write heartcv/_registry_index.py: the models, papers and datasets the registries hold.

    python scripts/registry_index.py           # rewrite it after adding a model or a dataset
    python scripts/registry_index.py --check   # exit 1 if it differs from the live registries

``heartcv list-models`` and ``heartcv prep --help`` read that file instead of importing the
model code (TensorFlow) and the dataset readers (pandas, OpenCV); ``tests/test_registry_index.py``
fails when it is out of date.
"""

import argparse
import sys
from pathlib import Path

INDEX = Path(__file__).resolve().parents[1] / "heartcv" / "_registry_index.py"

HEADER = '''"""The registries at a glance, for the ``heartcv`` command (generated: do not edit).

Written by ``python scripts/registry_index.py`` from the live registries;
``tests/test_registry_index.py`` fails when it is out of date. ``heartcv list-models`` and
``heartcv prep --help`` read it, so they import no model code (TensorFlow) and no dataset
reader (pandas, OpenCV).
"""
# flake8: noqa
'''


def live_index() -> dict:
    """``{"models": ((name, task, paper, description), ...), "papers": (key, ...),
    "datasets": ((name, description), ...)}`` from the registries (imports TensorFlow)."""
    import heartcv
    from heartcv.data.datasets import list_datasets
    from heartcv.registry import registered_datasets

    heartcv.register_all()
    specs = [heartcv.get_spec(n) for n in heartcv.list_models()]
    names = list_datasets()  # imports the dataset modules, which register themselves
    datasets = registered_datasets()
    return {"models": tuple((s.name, s.task, s.paper, s.description) for s in specs),
            "papers": tuple(heartcv.list_papers()),
            "datasets": tuple((n, datasets[n].description) for n in names)}


def render(index: dict) -> str:
    """The text of heartcv/_registry_index.py for ``index`` (see :func:`live_index`)."""
    lines = [HEADER, "#: (name, task, paper, description) of every registered model, by name.",
             "MODELS = ("]
    lines += [f"    {row!r}," for row in index["models"]]
    lines += [")", "", "#: the registered papers' keys.", "PAPERS = ("]
    lines += [f"    {key!r}," for key in index["papers"]]
    lines += [")", "", "#: (name, description) of every ``heartcv prep`` dataset, by name.",
              "DATASETS = ("]
    lines += [f"    {row!r}," for row in index["datasets"]]
    lines += [")", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true",
                   help="only compare: exit 1 (and name the file) if it is out of date")
    args = p.parse_args(argv)
    text = render(live_index())
    if args.check:
        if INDEX.read_text() != text:
            print(f"{INDEX} is out of date: run python scripts/registry_index.py", file=sys.stderr)
            return 1
        return 0
    tmp = INDEX.with_suffix(".py.tmp")
    tmp.write_text(text)
    tmp.replace(INDEX)
    print(f"wrote {INDEX}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``heartcv list-models``: the registered models, read from the static index
(heartcv/_registry_index.py: no model code, so no TensorFlow, is imported)."""

from fnmatch import fnmatchcase

from heartcv._registry_index import MODELS, PAPERS
from heartcv.commands import EXIT_OK
from heartcv.registry import did_you_mean, get_spec, list_models, list_papers


def model_index() -> tuple[dict, set]:
    """``({name: (task, paper, description)}, paper keys)`` from the static index, with the
    models and papers registered in this process on top."""
    rows = {name: (task, paper, desc) for name, task, paper, desc in MODELS}
    for name in list_models():
        spec = get_spec(name)
        rows[name] = (spec.task, spec.paper, spec.description)
    return rows, set(PAPERS) | set(list_papers())


def run(args) -> int:
    rows, papers = model_index()
    if args.paper is not None and args.paper not in papers:
        raise ValueError(f"Unknown paper {args.paper!r}.{did_you_mean(args.paper, papers)} "
                         f"Expected one of {sorted(papers)}. Received: paper={args.paper!r}")
    names = sorted(n for n, (task, paper, _) in rows.items()
                   if fnmatchcase(n, args.pattern) and args.task in (None, task)
                   and args.paper in (None, paper))
    if not names:
        print(f"no registered model matches {args.pattern!r}")
        return EXIT_OK
    width = max(len(n) for n in names)
    for n in names:
        task, _, desc = rows[n]
        print(f"{n:<{width}}  {task:<12}  {desc}")
    return EXIT_OK

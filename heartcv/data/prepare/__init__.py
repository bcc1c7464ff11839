"""Raw dataset → HDF5 bundle, one module per dataset (``heartcv prep DATASET …``).

Each module has ``build_parser(prog)`` and ``main(argv, prog) -> exit code``; the scripts in
``data_prep/`` and the ``heartcv prep`` subcommand both call them, so the logic lives here.
"""

import importlib

DATASETS = ("synthetic", "cxr14", "jsrt", "chd", "ecg_khan", "mitbih", "contours")


def main(dataset: str, argv=None) -> int:
    """Run the preparation of ``dataset`` with its own command-line arguments."""
    if dataset not in DATASETS:
        import difflib

        close = difflib.get_close_matches(dataset, DATASETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown dataset {dataset!r}.{hint} Expected one of {DATASETS}.")
    module = importlib.import_module(f"heartcv.data.prepare.{dataset}")
    return module.main(argv, prog=f"heartcv prep {dataset}")

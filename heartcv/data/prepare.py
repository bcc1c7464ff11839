"""``heartcv prep DATASET …``: run a registered dataset's conversion with its own options.

The datasets are those of the registry (``heartcv.data.datasets.list_datasets()``): each
``heartcv/data/datasets/<name>.py`` (and a paper's ``prep.py`` where a paper owns the
conversion) registers its reader and ``heartcv prep`` options with
``heartcv.registry.register_dataset``; nothing here lists them by hand.
"""

from heartcv.data.datasets import get_dataset


def main(dataset: str, argv=None) -> int:
    """Run the preparation of ``dataset`` with its own command-line arguments."""
    return get_dataset(dataset).main(argv, prog=f"heartcv prep {dataset}")

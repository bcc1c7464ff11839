"""``heartcv prep DATASET …``: a registered dataset's conversion with its own options."""

from heartcv.data import prepare


def run(args) -> int:
    try:
        return prepare.main(args.dataset, args.args)
    except SystemExit as exc:  # the dataset's own argparse: --help or a usage error
        return int(exc.code or 0)

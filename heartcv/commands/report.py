"""``heartcv report RUN_DIR``: rewrite a run's tables from its metrics.json."""

from heartcv.commands import EXIT_OK
from heartcv.report import rewrite_run_report


def run(args) -> int:
    paths = rewrite_run_report(args.run_dir, expected_csv=args.expected)
    for p in paths.values():
        print(f"wrote {p}")
    return EXIT_OK

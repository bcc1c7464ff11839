"""``heartcv leakage SOURCE``: is a patient in two splits? (exit 1 if one is)."""

from heartcv.commands import EXIT_LEAKAGE, EXIT_OK
from heartcv.data.splits import format_leakage, leakage_check


def run(args) -> int:
    report = leakage_check(args.source, by=args.by, split_column=args.split_column)
    print(format_leakage(report))
    return EXIT_LEAKAGE if report["leaking"] else EXIT_OK

"""``heartcv demo``: the main job on generated data (minutes on a CPU)."""

from heartcv.commands import EXIT_OK
from heartcv.demo import run_demo


def run(args) -> int:
    run_demo(output_dir=args.output_dir, models_dir=args.models_dir, quick=args.quick,
             overrides=args.overrides)
    return EXIT_OK

"""``heartcv train [CONFIG] [--set KEY=VALUE …]``: one run directory from a YAML config.

The CLI loads the config (``args.config_loaded``) before TensorFlow is imported, so a bad
config is one error line without it.
"""

import sys

from heartcv.commands import EXIT_OK
from heartcv.config import load_config
from heartcv.summary import print_summary
from heartcv.train import train


def run(args) -> int:
    cfg = getattr(args, "config_loaded", None) or load_config(args.config, args.overrides)
    result = train(cfg, overwrite=getattr(args, "overwrite", False))
    if result.already_complete:
        print(f"heartcv train: run {result.run_dir} is already complete "
              f"({result.paths['metrics_json']}); pass --overwrite to train it again",
              file=sys.stderr)
        return EXIT_OK
    print_summary(result)
    return EXIT_OK

"""``heartcv train``'s check before TensorFlow is imported: the config loads and validates, so
a missing file, an unknown key or a bad value is one error line without TensorFlow. The
loaded config goes to :mod:`heartcv.commands.train` as ``args.config_loaded``."""

from heartcv.config import load_config


def check(args) -> None:
    args.config_loaded = load_config(args.config, args.overrides)

"""heartcv's own exception types, in a module that imports nothing (the CLI catches them
before TensorFlow is loaded)."""


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be found locally nor downloaded."""

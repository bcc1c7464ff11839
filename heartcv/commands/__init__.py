"""What each ``heartcv`` command does, one module per command; ``heartcv.cli`` parses the
arguments and imports the module of the command given (and no other), so ``heartcv --help``
imports none of them.

A command module has ``run(args) -> exit code``; the CLI registers the models (imports
TensorFlow) before it imports the module, except for ``list-models``, ``prep`` and
``leakage``, which need none. A command whose inputs are checked before TensorFlow is imported
names a check module in the CLI's table (``train_config`` for ``train``; ``predict`` for
``predict`` and ``explain``): its ``check(args)`` runs first, its ``finish(args)`` (if any)
last, whatever happened; so a check module imports no Keras at the top.
"""

EXIT_OK, EXIT_LEAKAGE, EXIT_BAD_INPUT = 0, 1, 2


class CLIError(ValueError):
    """Bad command-line input; printed as one line, exit code 2."""

"""Old import paths kept for one release after the per-paper layout (issue 11).

A shim module calls :func:`alias` with its own name and the new module's: the old name then
refers to the *same* module object (private names included), so ``isinstance`` checks and
module state are not duplicated. Saved models do not depend on module paths (layers are
registered by their ``heartcv>`` names), so they load either way.
"""

import importlib
import sys
import warnings


def alias(old: str, new: str):
    """Make ``old`` an alias of the module ``new``; warns once that the path moved."""
    module = importlib.import_module(new)
    sys.modules[old] = module
    warnings.warn(f"{old} moved to {new}; the old path is kept for one release.",
                  DeprecationWarning, stacklevel=3)
    return module

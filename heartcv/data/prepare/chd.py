"""Moved to :mod:`heartcv.data.datasets.chd` (this path works for one release)."""

from heartcv._compat import alias

alias(__name__, "heartcv.data.datasets.chd")

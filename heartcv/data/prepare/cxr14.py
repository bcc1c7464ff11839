"""Moved to :mod:`heartcv.data.datasets.cxr14` (this path works for one release)."""

from heartcv._compat import alias

alias(__name__, "heartcv.data.datasets.cxr14")

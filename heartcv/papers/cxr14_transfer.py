"""Moved to :mod:`heartcv.papers.cxr14_transfer_learning.experiment` (this path works for one release)."""

from heartcv._compat import alias

alias(__name__, "heartcv.papers.cxr14_transfer_learning.experiment")

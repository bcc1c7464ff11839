"""Moved to :mod:`heartcv.papers.cardio_xattentionnet.models` (this path works for one release)."""

from heartcv._compat import alias

alias(__name__, "heartcv.papers.cardio_xattentionnet.models")

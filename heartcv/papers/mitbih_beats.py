"""Moved to :mod:`heartcv.papers.mitbih_ecg_beats.experiment` (this path works for one release)."""

from heartcv._compat import alias

alias(__name__, "heartcv.papers.mitbih_ecg_beats.experiment")

"""Moved to :mod:`heartcv.papers.ecg_images_5class.attention_vgg` (this path works for one release)."""

from heartcv._compat import alias

alias(__name__, "heartcv.papers.ecg_images_5class.attention_vgg")

"""Moved to :mod:`heartcv.papers.chd_xray_vgg_unet.contours.folder` (this path works for one release)."""

from heartcv._compat import alias

alias(__name__, "heartcv.papers.chd_xray_vgg_unet.contours.folder")

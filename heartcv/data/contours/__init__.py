"""Moved to :mod:`heartcv.papers.chd_xray_vgg_unet.contours` (this path works for one release).

A package of shims rather than one alias, so ``heartcv.data.contours.<module>`` finds the
shim files beside this one (each an alias of the moved module) instead of loading a copy.
"""

import warnings

from heartcv.papers.chd_xray_vgg_unet import contours as _moved

warnings.warn("heartcv.data.contours moved to heartcv.papers.chd_xray_vgg_unet.contours; the "
              "old path is kept for one release.", DeprecationWarning, stacklevel=2)


def __getattr__(name):
    return getattr(_moved, name)

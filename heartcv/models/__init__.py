"""Shared model building blocks: the backbone table (``backbones``), blocks and a small CNN.

Each paper's builders live in ``heartcv/papers/<key>/``; ``import heartcv`` registers them.
"""

from heartcv.models import classifiers  # noqa: F401  (registers small_cnn)
from heartcv.models.backbones import BACKBONES, set_bn_momentum  # noqa: F401
from heartcv.models.blocks import ATTENTION_LAYER, attention_model  # noqa: F401

_MOVED = {  # old submodules of heartcv.models, now in their paper's package (one release)
    "attention": "heartcv.papers.cardio_xattentionnet.models",
    "chd": "heartcv.papers.chd_xray_vgg_unet.models",
    "segmentation": "heartcv.papers.chd_xray_vgg_unet.segmentation",
    "cxr14": "heartcv.papers.cxr14_transfer_learning.models",
    "ecg": "heartcv.papers.ecg_images_5class.models",
    "ecg_attention": "heartcv.papers.ecg_images_5class.attention_vgg",
    "mitbih": "heartcv.papers.mitbih_ecg_beats.models",
}


def __getattr__(name):
    import importlib

    if name in _MOVED:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

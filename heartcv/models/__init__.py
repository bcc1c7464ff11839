"""Shared model building blocks: the backbone table (``backbones``), blocks and a small CNN.

Each paper's builders live in ``heartcv/papers/<key>/``; ``import heartcv`` registers them.
"""

from heartcv.models import classifiers  # noqa: F401  (registers small_cnn)
from heartcv.models.backbones import BACKBONES, set_bn_momentum  # noqa: F401
from heartcv.models.blocks import ATTENTION_LAYER, attention_model  # noqa: F401

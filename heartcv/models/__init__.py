"""Model builders; importing this package registers every model."""

from heartcv.models import attention, chd, classifiers, cxr14, ecg, mitbih, segmentation  # noqa: F401
from heartcv.models.attention import attention_model  # noqa: F401
from heartcv.models.backbones import BACKBONES, set_bn_momentum  # noqa: F401

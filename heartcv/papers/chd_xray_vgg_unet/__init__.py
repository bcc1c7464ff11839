"""Deep Mask for X-ray based heart disease classification: OpenCV heart outlines, U-Net /
VGG16-U-Net segmenters, VGG16 fine-tuning, VGG+Mask, 10-fold CV, saliency and deep Taylor.

Modules: ``models`` (``vgg16_finetune``, ``vgg16_view``, ``MaskBackground`` chains:
``mask_images``, ``chain_mask_classifier``), ``segmentation`` (``unet``, ``vgg16_unet``),
``contours`` (the paper's OpenCV outline pipeline and ``.txt`` traces), ``prep``
(``heartcv prep contours``), ``experiment`` (segmenters, k-fold VGG vs VGG+Mask, heart
attention shares; called by ``experiments/chd_xray_vgg_unet/run.py``).
"""

from heartcv.registry import Paper, register_paper

PAPER = register_paper(Paper(
    key="chd_xray_vgg_unet",
    title="Deep Mask For X-ray Based Heart Disease Classification",
    citation="Chen X, Shi B. arXiv:1808.08277 (2018)",
    text="chd-xray-vgg-unet.txt",
    datasets=("chd", "jsrt", "contours", "synthetic"),
    backbones=("vgg16",),
    summary="VGG16 fine-tuning, OpenCV heart outlines, U-Net / VGG16-U-Net, VGG+Mask",
))
MODEL_MODULES = ("models", "segmentation")

# The experiment's rows (light, so run.py's --help needs no TensorFlow)
SETTINGS = {"Normal vs VSD": ("normal", "VSD"), "Normal vs VSD vs ASD": ("normal", "VSD", "ASD")}
MODELS = {"vgg": "VGG", "vgg_mask": "VGG+Mask"}

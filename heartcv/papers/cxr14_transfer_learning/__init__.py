"""ChestX-ray14 14-label transfer learning: frozen DenseNet121 / ResNet50 → GAP → 14 sigmoids,
weighted loss, leakage check, per-label ROC, Grad-CAM.

Modules: ``models`` (``cxr14_densenet121``, ``cxr14_resnet50``), ``experiment`` (Tables 1–2,
ROC, top-4 Grad-CAM, box scores; called by ``experiments/cxr14_transfer_learning/run.py``).
"""

from heartcv.registry import Paper, register_paper

PAPER = register_paper(Paper(
    key="cxr14_transfer_learning",
    title="Transfer learning with DenseNet121 and ResNet50 for 14 lung-related conditions "
          "on ChestX-ray14",
    citation="cxr14 transfer-learning paper (shared/papers/cxr14-transfer-learning.txt); "
             "labels: Wang X et al., ChestX-ray8, CVPR 2017",
    text="cxr14-transfer-learning.txt",
    datasets=("cxr14", "synthetic"),
    backbones=("densenet121", "resnet50"),
    summary="frozen ImageNet backbones, weighted BCE, per-label AUROC, Grad-CAM",
))
MODEL_MODULES = ("models",)

# The experiment's rows (light, so run.py's --help needs no TensorFlow)
ROWS = ("densenet121_no_da", "densenet121_da", "resnet50_da")  # the order of Tables 1 and 2

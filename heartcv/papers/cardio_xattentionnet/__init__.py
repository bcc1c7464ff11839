"""Cardio-XAttentionNet: the Attention Mapping Mechanism (AMM) head over DenseNet121/201,
ResNet50 and InceptionResNetV2 vs global-average-pooling heads; cardiomegaly on ChestX-ray14.

Modules: ``models`` (the ``cxa_*`` AMM models and the ``*_gap`` baselines, one variant of each
per backbone of ``heartcv.models.backbones.BACKBONES``), ``experiment`` (Tables 4–5, ROC,
DeLong, attention localization; called by ``experiments/cardio_xattentionnet/run.py`` and the
demo). Importing this package registers only the ``Paper`` record; ``import heartcv`` imports
the model modules.
"""

from heartcv.registry import Paper, register_paper

PAPER = register_paper(Paper(
    key="cardio_xattentionnet",
    title="A convolutional attention mapping deep neural network for classification and "
          "localization of cardiomegaly on chest X-rays",
    citation="Innat M, Hossain MF, Mader K, Kouzani AZ. Sci Rep 13 (2023)",
    text="cardio-xattentionnet-amm.txt",
    datasets=("cxr14", "synthetic"),
    backbones=("densenet121", "densenet201", "resnet50", "inceptionresnetv2"),
    summary="AMM head vs GAP head over four backbones; cardiomegaly, from scratch",
))
MODEL_MODULES = ("models",)

# The experiment's rows (light, so run.py's --help needs no TensorFlow)
AMM_MODELS = ("cxa_densenet121", "cxa_densenet201", "cxa_resnet50", "cxa_inceptionresnetv2")
BASELINES = {"cxa_densenet121": "densenet121_gap", "cxa_densenet201": "densenet201_gap",
             "cxa_resnet50": "resnet50_gap", "cxa_inceptionresnetv2": "inceptionresnetv2_gap"}
MODELS = tuple(m for amm in AMM_MODELS for m in (BASELINES[amm], amm))  # Table 5's row order

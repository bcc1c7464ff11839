"""Classification of ECG images by deep learning: a VGG16-style classifier of MIT-BIH
single-beat images (intra- and inter-patient protocols).

Modules: ``models`` (``mitbih_vgg16``, Table 2's parameter counts), ``experiment``
(intra-patient and DS1→DS2 reports; called by ``experiments/mitbih_ecg_beats/run.py``).
"""

from heartcv.registry import Paper, register_paper

PAPER = register_paper(Paper(
    key="mitbih_ecg_beats",
    title="Classification of ECG images by deep learning to support the diagnosis of "
          "cardiovascular diseases",
    citation="Le XV, Le XV, Vu HT. Quy Nhon University Journal of Science (2021)",
    text="mitbih-ecg-beat-images.txt",
    datasets=("mitbih",),
    backbones=("vgg16",),
    summary="VGG16-style classifier of MIT-BIH single-beat images",
))
MODEL_MODULES = ("models",)

# The experiment's rows (light, so run.py's --help needs no TensorFlow)
VALIDATION = ("test", "none")

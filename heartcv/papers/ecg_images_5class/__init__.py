"""Heart condition classification from ECG images: the 13 lead crops of a 12-lead printout
into six architectures (CNN3D, CNN2D, attention LSTM, hybrid, time-distributed CNN,
Learn-to-Pay-Attention VGG).

Modules: ``models`` and ``attention_vgg`` (the six ``ecg_*`` builders), ``layout`` (the
13-lead crop boxes of the Khan et al. printouts, ``remove_grid``), ``leads``
(``lead_volume``), ``detect`` (finding the
layout on re-saved sheets), ``figures`` (synthetic-sheet figures), ``prep``
(``heartcv prep ecg_khan``, whole sheets or ``--leads`` volumes), ``experiment`` (the
Performance Report tables, bagging, ECGs sharing a crop kept in one split; called by
``experiments/ecg_images_5class/run.py``), ``shortcut`` (the trace-free shortcut probe and
background-shifted test crops).
"""

from heartcv.registry import Paper, register_paper

PAPER = register_paper(Paper(
    key="ecg_images_5class",
    title="Heart Condition Classification based on ECG Images",
    citation="Paul, Azad. CSE 472 report, BUET; data: Khan, Hussain & Malik, Mendeley Data "
             "doi:10.17632/gwbz3fsgp8 (Data in Brief 2021)",
    text="ecg-images-5class.txt",
    datasets=("ecg_khan",),
    backbones=(),
    summary="13-lead crops of 12-lead printouts into six architectures",
))
MODEL_MODULES = ("models", "attention_vgg")

# The experiment's rows (light, so run.py's --help needs no TensorFlow)
MODELS = ("ecg_cnn3d", "ecg_cnn2d", "ecg_hybrid", "ecg_timedistributed_cnn", "ecg_attn_lstm",
          "ecg_attention_vgg")
BGNORM = "_bgnorm"

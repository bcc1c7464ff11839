"""The registries at a glance, for the ``heartcv`` command (generated: do not edit).

Written by ``python scripts/registry_index.py`` from the live registries;
``tests/test_registry_index.py`` fails when it is out of date. ``heartcv list-models`` and
``heartcv prep --help`` read it, so they import no model code (TensorFlow) and no dataset
reader (pandas, OpenCV).
"""
# flake8: noqa

#: (name, task, paper, description) of every registered model, by name.
MODELS = (
    ('cxa_densenet121', 'binary', 'cardio_xattentionnet', 'Cardio-XAttentionNet: DenseNet121 + Attention Mapping Mechanism'),
    ('cxa_densenet201', 'binary', 'cardio_xattentionnet', 'Cardio-XAttentionNet: DenseNet201 + Attention Mapping Mechanism'),
    ('cxa_inceptionresnetv2', 'binary', 'cardio_xattentionnet', 'Cardio-XAttentionNet: InceptionResNetV2 + Attention Mapping Mechanism'),
    ('cxa_resnet50', 'binary', 'cardio_xattentionnet', 'Cardio-XAttentionNet: ResNet50 + Attention Mapping Mechanism'),
    ('cxr14_densenet121', 'multilabel', 'cxr14_transfer_learning', 'DenseNet121 (frozen ImageNet features) → GAP → Dense(14, sigmoid)'),
    ('cxr14_resnet50', 'multilabel', 'cxr14_transfer_learning', 'ResNet50 (frozen ImageNet features) → GAP → Dense(14, sigmoid)'),
    ('densenet121_gap', 'binary', 'cardio_xattentionnet', 'DenseNet121 → GAP → Dense(128, ELU) → sigmoid (Cardio-XAttentionNet baseline)'),
    ('densenet201_gap', 'binary', 'cardio_xattentionnet', 'DenseNet201 → GAP → Dense(128, ELU) → sigmoid (Cardio-XAttentionNet baseline)'),
    ('ecg_attention_vgg', 'multiclass', 'ecg_images_5class', 'ECG images: VGG + 3 attention estimators (Learn to Pay Attention, Arch. 6)'),
    ('ecg_attn_lstm', 'multiclass', 'ecg_images_5class', 'ECG images: 13 leads as LSTM steps + temporal attention (Arch. 3)'),
    ('ecg_cnn2d', 'multiclass', 'ecg_images_5class', 'ECG images: leads as channels, 2 Conv2D blocks, Dense 64 (Arch. 2)'),
    ('ecg_cnn3d', 'multiclass', 'ecg_images_5class', 'ECG images: leads as depth, 4 Conv3D blocks, Dense 128-64 (Arch. 1)'),
    ('ecg_hybrid', 'multiclass', 'ecg_images_5class', 'ECG images: 2-D CNN then attention LSTM, Dense 64 (Arch. 4)'),
    ('ecg_timedistributed_cnn', 'multiclass', 'ecg_images_5class', 'ECG images: one 2-D CNN shared by the 13 leads, Dense 64 (Arch. 5)'),
    ('inceptionresnetv2_gap', 'binary', 'cardio_xattentionnet', 'InceptionResNetV2 → GAP → Dense(128, ELU) → sigmoid (Cardio-XAttentionNet baseline)'),
    ('mitbih_beat_cnn', 'multiclass', 'mitbih_ecg_beats', 'compact beat-image CNN: 4 x (Conv-BN-ReLU, max-pool), Flatten, Dense (beyond the paper; CPU-trainable)'),
    ('mitbih_beat_rr', 'multiclass', 'mitbih_ecg_beats', 'beat image + RR-interval features (pre/post/local/record RR) as a second input (beyond the paper; de Chazal-style inter-patient)'),
    ('mitbih_vgg16', 'multiclass', 'mitbih_ecg_beats', 'VGG16 base (frozen) → Flatten → fc1/fc2 4096 → 5-way softmax (Le et al. 2021, Table 2)'),
    ('resnet50_gap', 'binary', 'cardio_xattentionnet', 'ResNet50 → GAP → Dense(128, ELU) → sigmoid (Cardio-XAttentionNet baseline)'),
    ('small_cnn', 'binary', None, '4-block Conv-BN-ReLU CNN, GAP head (CPU-sized)'),
    ('unet', 'segmentation', 'chd_xray_vgg_unet', 'U-Net (CHD paper Fig. 6 / Ronneberger 2015), sigmoid mask'),
    ('vgg16_finetune', 'multiclass', 'chd_xray_vgg_unet', 'VGG16 (ImageNet, block5 fine-tuned) → Flatten → FC 256 ×2 → softmax (CHD paper: normal/VSD/ASD)'),
    ('vgg16_unet', 'segmentation', 'chd_xray_vgg_unet', 'VGG16 encoder (skips block1_conv2…block5_conv3) + U-Net decoder'),
    ('vgg16_view', 'multiclass', 'chd_xray_vgg_unet', 'VGG16 fine-tuned as vgg16_finetune: frontal vs lateral view (softmax)'),
)

#: the registered papers' keys.
PAPERS = (
    'cardio_xattentionnet',
    'chd_xray_vgg_unet',
    'cxr14_transfer_learning',
    'ecg_images_5class',
    'mitbih_ecg_beats',
)

#: (name, description) of every ``heartcv prep`` dataset, by name.
DATASETS = (
    ('chd', 'congenital heart disease X-rays (file-name convention) + heart traces'),
    ('contours', "the CHD paper's OpenCV heart outlines of a folder (.txt traces, masks, Dice)"),
    ('cxr14', 'NIH ChestX-ray14: 14 labels or the cardiomegaly view'),
    ('ecg_khan', 'Khan et al. ECG printouts: whole sheets or --leads 13-lead volumes'),
    ('jsrt', 'JSRT radiographs + SCR heart/lung masks (segmentation, CTR)'),
    ('masks', 'your own images + masks folder (external validation; CTR)'),
    ('mitbih', 'MIT-BIH Arrhythmia Database: AAMI counts and single-beat images'),
    ('synthetic', 'the synthetic chest-radiograph phantom (no download)'),
)

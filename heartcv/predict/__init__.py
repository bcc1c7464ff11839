"""Predict one image with a saved model (``heartcv predict IMAGE --model FILE``), or many.

Many images (``heartcv predict PATH... --model FILE``: files, folders, globs, a CSV of
paths, a bundle split) go through :func:`collect_inputs` and :func:`predict_batch`: one
model load, parallel reading, batched prediction, ``predictions.csv`` and ``skipped.csv``.

Input size. A model runs at the size it was trained at unless told otherwise, because a
classifier trained at 96 px and run on a 1024-px radiograph sees structures ten times larger
than any it learnt (the demo model, trained at 96 px, was reported at AUROC 0.998 on
phantom images at 96 px and 0.585 at 1024 px). The size is, in order: ``image_size`` (``N`` for N×N, or ``"full"``: the image's own
size, for fully convolutional models only), the ``input_size`` on the model card
(``<model>.card.json`` beside the model, written by :func:`heartcv.cards.write_card`), the
model's fixed input size, else the image's own size. The result says which
(``image_size_source``: ``"option"``, ``"card"``, ``"model"`` or ``"image"``). Images are
resized with :func:`heartcv.data.images.resize_image` (``INTER_AREA`` when shrinking), the
function ``heartcv prep`` uses to bring images to a bundle's size; heatmaps and masks are
resized back up and drawn on the image at its own size.

Segmentation models (a ``(1, H, W, K)`` sigmoid output) give masks instead of
probabilities: the overlay shows each structure in a colour, the JSON holds each structure's
area in the image's pixels (measured with the longer side at most :data:`MEASURE_SIDE` = 512
px and scaled: :func:`measure_size`) and, when the model segments the heart and both lungs, the
cardiothoracic ratio (:func:`heartcv.ctr.ctr_from_prediction`) with an interval from
test-time augmentation (:data:`heartcv.qc.TTA_VIEWS`, predicted in the same model call), a
quality-control status (:func:`heartcv.qc.check_anatomy`: ``ok`` / ``review`` / ``fail`` and
the reasons) and the cardiomegaly call (:func:`ctr_call`): ``CTR > 0.5`` on PA films; no call
when QC fails, when the heart is wider than the thorax, or on AP films (the AP projection
magnifies the heart, so the PA cut-off overestimates it) unless a cut-off is given. The view
comes from ``view`` (``--view``), a ``view`` column of ``--csv``, or the DICOM
``ViewPosition``; unknown is read as PA and said so.

Checks, in this order, before any work: the arguments (``alpha`` in [0, 1], ``image_size``),
the output folder (a folder, or one that can be created, and writable:
:func:`heartcv.files.check_output_dir`; it is created only when the results are written),
the image (read, at least 8×8 pixels, no multi-page TIFF or all-NaN pixels:
:mod:`heartcv.data.images`), and only then the model (loading takes seconds) and whether the
image can be given to it (:func:`check_model_channels`).
"""

from heartcv.predict.card import (FULL, SIZE_SOURCES, VIEWS, check_alpha, check_ctr_threshold,
                                  check_image_size, check_model_channels, check_view, dicom_view,
                                  prepare_image, read_card, resolve_input_size)
from heartcv.predict.masks import (DEFAULT_STRUCTURES, MASK_ALPHA, MASK_THRESHOLD, MEASURE_SIDE,
                                   QC_COLOURS, STRUCTURE_COLOURS, ctr_call, ctr_line, draw_legend,
                                   measure_size, overlay_masks, segmentation_result,
                                   structure_colour, structure_names)
from heartcv.predict.image import heatmap_for, predict_image
from heartcv.predict.inputs import CSV_FOLDER, DUPLICATE, collect_inputs, csv_views
from heartcv.predict.batch import (DEFAULT_BATCH_SIZE, DEFAULT_THRESHOLD, PREDICTIONS_CSV,
                                   SKIPPED_CSV, predict_batch)

__all__ = ["CSV_FOLDER", "DEFAULT_BATCH_SIZE", "DEFAULT_STRUCTURES", "DEFAULT_THRESHOLD",
           "DUPLICATE", "FULL", "MASK_ALPHA", "MASK_THRESHOLD", "MEASURE_SIDE", "PREDICTIONS_CSV",
           "QC_COLOURS", "SIZE_SOURCES", "SKIPPED_CSV", "STRUCTURE_COLOURS", "VIEWS",
           "check_alpha", "check_ctr_threshold", "check_image_size",
           "check_model_channels", "check_view", "collect_inputs", "csv_views", "ctr_call",
           "ctr_line", "dicom_view", "draw_legend", "has_ctr_structures",
           "heatmap_for", "measure_size", "overlay_masks", "predict_batch",
           "predict_image", "prepare_image", "read_card", "resolve_input_size",
           "segmentation_result", "structure_colour", "structure_names"]

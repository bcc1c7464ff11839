"""Semi-automatic heart outline from two marked rows: the CHD paper's OpenCV pipeline.

The CHD paper had no heart annotations, so a person marked only the upper and lower heart
boundaries (two rows) on each frontal radiograph and OpenCV did the rest: "binarization",
"expansion and corrosion" (dilation/erosion, opening/closing), "fill and area selection"
(flood fill of the connected region) and "polygon fitting" (``cv2.approxPolyDP``); each
image got a ``.txt`` file of polygon vertices ("traces"), turned back into masks to train a
U-Net. The paper gives no parameter values. :func:`extract_heart_outline` implements those
steps with every parameter in :class:`OutlineParams`:

1. **Enhance** (working copy resized to ``work_width`` pixels wide): CLAHE, Gaussian blur.
2. **Binarize**: bright (heart, mediastinum, bone, abdomen) versus dark (aerated lung), at
   Otsu's level computed on the band between the two rows over the central columns (or at a
   fixed grey level).
3. **Morphology**: opening (erosion then dilation) removes thin bright vessels and ribs that
   bridge into the lung; closing (dilation then erosion) shuts dark gaps inside the heart.
4. **Flood fill**: the bright region connected to a seed inside the heart (the central column
   with most bright pixels in the band, on the middle row), confined to the band; its holes
   are filled.
5. **Area selection**: the lung fields are the largest dark regions left and right of the
   seed (by area within the band). On each row the heart spans the filled region between the
   inner edges of the two lungs.
6. **Shape completion** (not described in the paper): a radiograph shows no heart edge
   where no lung borders it -- above (great vessels) and below the cardiophrenic angles (the
   heart sits on the diaphragm, and the SCR reference outlines continue behind it). A border
   that turns sharply outward (slope above ``junction_slope_*`` pixels per row going down, or
   ``top_slope`` going up from the middle row) is taken to have left the heart there; the
   rest is median-smoothed; the missing bottom is completed by quarter-ellipses from each
   side's last bordered row to an apex on ``bottom_row``, and the top ``top_round`` of the
   band by quarter-ellipses to an apex on ``top_row``.
7. **Polygon fit**: the outer contour of the resulting region, ``cv2.approxPolyDP`` with
   ``epsilon = epsilon_fraction x perimeter``, vertices mapped back to the original pixels.

"Left" and "right" are image sides (on a PA film the image left is the patient's right).
Defaults were tuned (:func:`tune_outline_params`) on half of the 247 JSRT images -- positions
0, 2, 4, ... of the sorted names (``--subset even``: JPCLN001, JPCLN003, ...) -- with the
rows taken from the SCR heart masks; on the other 123 images the traces reach Dice
0.943 +- 0.019 (min 0.869) against the SCR masks (details and commands in
``experiments/chd_xray_vgg_unet/CONTOURS_RESULTS.md``). Traces are read and written by
:mod:`heartcv.data.datasets.chd` (``read_trace``, ``write_trace``, ``trace_to_mask``).

Reference:
    "We build a deep learning model to detect and classify heart disease using X-ray"
    (the project's ``chd-xray-vgg-unet`` paper), section "Preprocessing and Labeling".
"""

from heartcv.papers.chd_xray_vgg_unet.contours.figure import save_outline_figure
from heartcv.papers.chd_xray_vgg_unet.contours.folder import (
    ROWS_COLUMNS,
    SUBSETS,
    list_images,
    load_marked,
    marked_images,
    outline_folder,
    read_rows_csv,
    summarize_outlines,
    write_rows_csv,
)
from heartcv.papers.chd_xray_vgg_unet.contours.outline import (
    OutlineResult,
    dice,
    extract_heart_outline,
    rows_from_mask,
)
from heartcv.papers.chd_xray_vgg_unet.contours.params import IMAGE_PARAMS, OutlineParams, make_params
from heartcv.papers.chd_xray_vgg_unet.contours.tune import DEFAULT_GRID, tune_outline_params

__all__ = [
    "DEFAULT_GRID",
    "IMAGE_PARAMS",
    "ROWS_COLUMNS",
    "SUBSETS",
    "OutlineParams",
    "OutlineResult",
    "dice",
    "extract_heart_outline",
    "list_images",
    "load_marked",
    "make_params",
    "marked_images",
    "outline_folder",
    "read_rows_csv",
    "rows_from_mask",
    "save_outline_figure",
    "summarize_outlines",
    "tune_outline_params",
    "write_rows_csv",
]

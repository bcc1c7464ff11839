"""One printout → the 13-lead volume: layout detection, crops and preprocessing in a chain.

Kept apart from :mod:`~heartcv.papers.ecg_images_5class.layout` (boxes, crops, drawing) and
:mod:`~heartcv.papers.ecg_images_5class.detect` (finding the boxes), which it combines, so
that neither of those imports the other's caller.
"""

import numpy as np

from heartcv.papers.ecg_images_5class.detect import detect_layout
from heartcv.papers.ecg_images_5class.layout import crop_leads, preprocess_lead
from heartcv.papers.ecg_images_5class.layout import remove_grid as _remove_grid


def lead_volume(sheet, size=64, dilate_kernel=3, *, layout=None, name=None, remove_grid=False):
    """One ECG sheet as the 13-channel lead image of the five-class ECG paper.

    Finds the lead grid (:func:`heartcv.papers.ecg_images_5class.detect.detect_layout`, unless ``layout`` is
    given), cuts the 13 leads (:func:`crop_leads`), preprocesses each (:func:`preprocess_lead`:
    greyscale, invert, dilate, resize) and stacks them as channels in :data:`LEAD_NAMES` order.

    Args:
        sheet: ``(H, W)`` grey or ``(H, W, 3)`` RGB uint8, one whole printout.
        size: Output side in pixels (the paper: 64; 28 and 96 also tried).
        dilate_kernel: Side of the square dilation kernel (1 = none).
        layout: Boxes already found on this sheet (skips detection).
        name: What to call the sheet in errors (e.g. its file).
        remove_grid: whiten the sheet's grid first (:func:`~heartcv.papers.ecg_images_5class.
            layout.remove_grid`, Otsu on the whole sheet; beyond the paper), so the crops
            hold the trace on a black background.

    Returns:
        uint8 array ``(size, size, 13)``: bright trace on black, channel ``i`` = lead
        ``LEAD_NAMES[i]``.

    Raises:
        heartcv.papers.ecg_images_5class.detect.LayoutError: the sheet is not a 3 x 4 + 1 ECG.

    Reference:
        Paul, P., & Azad, M. T. Heart Condition Classification based on ECG Images (CSE 472
        report, BUET): preprocessing steps 1-5.
    """
    if layout is None:
        layout = detect_layout(sheet, name=name)
    crops = crop_leads(_remove_grid(sheet) if remove_grid else sheet, layout)
    return np.stack([preprocess_lead(c, size, dilate_kernel) for c in crops], axis=-1)

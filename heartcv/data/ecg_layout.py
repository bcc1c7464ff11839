"""Lead-crop geometry of the Khan et al. 12-lead ECG sheet, in coordinates relative to the sheet.

The ECG Images dataset of Cardiac and COVID-19 Patients (Khan, Hussain & Malik, Data in Brief
2021) holds scanned 12-lead printouts of about 2213 x 1572 pixels. The published lead crop
(used by the five-class ECG-image paper, which cuts every sheet into 13 lead images) is given on
the sheet resized to 1572 rows x 2213 columns:

* row bands ``300:600``, ``600:900``, ``900:1200``, each split into the columns ``150:643``,
  ``646:1135``, ``1140:1625``, ``1630:2125``, holding the leads
  ``I, aVR, V1, V4`` / ``II, aVL, V2, V5`` / ``III, aVF, V3, V6``;
* the lead-II rhythm strip at rows ``1250:1480``, columns ``150:2125``.

This module stores those boxes as fractions of the reference sheet so that the same crop fits a
sheet of any size (the real copies re-saved at about 940 x 540 and the synthetic sheets of
:mod:`heartcv.data.synthetic.ecg` alike), and gives the per-lead preprocessing of the paper
(greyscale, invert, dilate, resize).

Reference:
    Khan, A. H., Hussain, M., & Malik, M. K. (2021). ECG Images dataset of Cardiac and COVID-19
    Patients. Data in Brief, 34, 106762. Mendeley Data doi:10.17632/gwbz3fsgp8.
"""

import cv2
import numpy as np

#: Size (rows, columns) of the sheet on which the crop boxes were defined.
REFERENCE_SHAPE = (1572, 2213)

#: The 13 lead crops, in the order they are cut from a sheet (row by row, then the rhythm strip).
LEAD_NAMES = (
    "I",
    "aVR",
    "V1",
    "V4",
    "II",
    "aVL",
    "V2",
    "V5",
    "III",
    "aVF",
    "V3",
    "V6",
    "rhythm(II)",
)

_ROW_BANDS = ((300, 600), (600, 900), (900, 1200))
_COLUMNS = ((150, 643), (646, 1135), (1140, 1625), (1630, 2125))
_RHYTHM_BOX = (1250, 1480, 150, 2125)


def _reference_boxes():
    boxes = [(y0, y1, x0, x1) for (y0, y1) in _ROW_BANDS for (x0, x1) in _COLUMNS]
    boxes.append(_RHYTHM_BOX)
    return tuple(boxes)


#: Boxes ``(y0, y1, x0, x1)`` in pixels on the reference sheet, in :data:`LEAD_NAMES` order.
REFERENCE_BOXES = _reference_boxes()

#: The same boxes as fractions ``(y0, y1, x0, x1)`` of the sheet's height and width.
RELATIVE_BOXES = tuple(
    (y0 / REFERENCE_SHAPE[0], y1 / REFERENCE_SHAPE[0], x0 / REFERENCE_SHAPE[1],
     x1 / REFERENCE_SHAPE[1])
    for (y0, y1, x0, x1) in REFERENCE_BOXES
)


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"Expected `{name}` to be an int. Received: {name}={value!r}")
    if value < 16:
        raise ValueError(f"Expected `{name}` >= 16 pixels. Received: {name}={value}")
    return int(value)


def lead_boxes(height, width):
    """Pixel boxes of the 13 lead crops on a sheet of the given size.

    Args:
        height: Sheet height in pixels (rows).
        width: Sheet width in pixels (columns).

    Returns:
        A list of 13 tuples ``(name, y0, y1, x0, x1)`` of ints, in :data:`LEAD_NAMES` order;
        ``sheet[y0:y1, x0:x1]`` is the crop. On a 1572 x 2213 sheet these are exactly the
        published boxes.
    """
    height = _check_size("height", height)
    width = _check_size("width", width)
    boxes = []
    for name, (fy0, fy1, fx0, fx1) in zip(LEAD_NAMES, RELATIVE_BOXES):
        y0, y1 = int(round(fy0 * height)), int(round(fy1 * height))
        x0, x1 = int(round(fx0 * width)), int(round(fx1 * width))
        boxes.append((name, y0, max(y1, y0 + 1), x0, max(x1, x0 + 1)))
    return boxes


def crop_leads(sheet):
    """Cut the 13 lead images out of one ECG sheet.

    Args:
        sheet: Array of shape ``(H, W)`` or ``(H, W, C)`` (any dtype), one whole printout.

    Returns:
        A list of 13 arrays (views into ``sheet``), in :data:`LEAD_NAMES` order.
    """
    sheet = np.asarray(sheet)
    if sheet.ndim not in (2, 3):
        raise ValueError(
            "Expected `sheet` of shape (H, W) or (H, W, C). "
            f"Received: sheet.shape={sheet.shape}"
        )
    height, width = sheet.shape[:2]
    return [sheet[y0:y1, x0:x1] for (_, y0, y1, x0, x1) in lead_boxes(height, width)]


def preprocess_lead(crop, size=64, dilate_kernel=3):
    """Greyscale, invert, dilate and resize one lead crop, as in the five-class ECG paper.

    The paper lists the steps (crop into 13 leads, greyscale, invert, dilate, resize to 64 x 64)
    without the dilation kernel; a 3 x 3 square, one iteration, is used here. The trace thus
    becomes bright on a dark background.

    Args:
        crop: Array ``(h, w)`` or ``(h, w, 3)`` (RGB) or ``(h, w, 1)``, uint8 or float in [0, 255].
        size: Output side in pixels (int or ``(height, width)``).
        dilate_kernel: Side of the square dilation kernel; 1 disables dilation.

    Returns:
        uint8 array of shape ``(size, size)``.

    Reference:
        Paul, P., & Azad, M. T. Heart Condition Classification based on ECG Images (CSE 472
        report, BUET): preprocessing steps 1-5.
    """
    crop = np.asarray(crop)
    if crop.ndim == 3 and crop.shape[2] == 1:
        crop = crop[..., 0]
    if crop.ndim == 3 and crop.shape[2] == 3:
        grey = cv2.cvtColor(np.ascontiguousarray(crop).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    elif crop.ndim == 2:
        grey = crop.astype(np.uint8)
    else:
        raise ValueError(
            "Expected `crop` of shape (h, w), (h, w, 1) or (h, w, 3). "
            f"Received: crop.shape={crop.shape}"
        )
    if crop.size == 0:
        raise ValueError(f"Expected a non-empty `crop`. Received: crop.shape={crop.shape}")
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        out_h = out_w = int(size)
    else:
        try:
            out_h, out_w = (int(s) for s in size)
        except (TypeError, ValueError):
            raise TypeError(
                f"Expected `size` to be an int or (height, width). Received: size={size!r}"
            ) from None
    if out_h < 1 or out_w < 1:
        raise ValueError(f"Expected `size` >= 1. Received: size={size!r}")
    if not isinstance(dilate_kernel, (int, np.integer)) or dilate_kernel < 1:
        raise ValueError(
            f"Expected `dilate_kernel` to be an int >= 1. Received: dilate_kernel={dilate_kernel!r}"
        )
    inverted = 255 - grey
    if dilate_kernel > 1:
        kernel = np.ones((int(dilate_kernel), int(dilate_kernel)), np.uint8)
        inverted = cv2.dilate(inverted, kernel, iterations=1)
    return cv2.resize(inverted, (out_w, out_h), interpolation=cv2.INTER_AREA).astype(np.uint8)

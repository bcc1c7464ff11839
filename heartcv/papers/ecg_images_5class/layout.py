"""Lead-crop geometry of the Khan et al. 12-lead ECG sheet, in coordinates relative to the sheet.

The ECG Images dataset of Cardiac and COVID-19 Patients (Khan, Hussain & Malik, Data in Brief
2021) holds scanned 12-lead printouts of about 2213 x 1572 pixels. The published lead crop
(used by the five-class ECG-image paper, which cuts every sheet into 13 lead images) is given on
the sheet resized to 1572 rows x 2213 columns:

* row bands ``300:600``, ``600:900``, ``900:1200``, each split into the columns ``150:643``,
  ``646:1135``, ``1140:1625``, ``1630:2125``, holding the leads
  ``I, aVR, V1, V4`` / ``II, aVL, V2, V5`` / ``III, aVF, V3, V6``;
* the lead-II rhythm strip at rows ``1250:1480``, columns ``150:2125``.

This module stores those boxes as fractions of the reference sheet (:func:`lead_boxes`), so
that they fit a sheet drawn in the reference layout at any size (the synthetic sheets of
:mod:`heartcv.data.synthetic.ecg`). Copies cropped before being re-saved (the real printouts
under ``../shared/data/ecg_khan``, about 940 x 540) have their grid elsewhere; for those
:func:`heartcv.papers.ecg_images_5class.detect.detect_layout` measures the grid on the sheet and returns boxes
placed on it (the published ones where they agree). :func:`heartcv.papers.ecg_images_5class.leads.lead_volume` does the whole chain of
the paper on one sheet: detect, crop into 13 leads, greyscale, invert, dilate, resize, and
stack the 13 leads as the channels of one ``(size, size, 13)`` image. :func:`draw_layout`
draws the boxes on a sheet for a person to check.

Reference:
    Khan, A. H., Hussain, M., & Malik, M. K. (2021). ECG Images dataset of Cardiac and COVID-19
    Patients. Data in Brief, 34, 106762. Mendeley Data doi:10.17632/gwbz3fsgp8.
"""

import cv2
import numpy as np

from heartcv.data.datasets.ecg_khan import (  # noqa: F401  (the published sheet geometry)
    LEAD_NAMES,
    REFERENCE_BOXES,
    REFERENCE_SHAPE,
    RELATIVE_BOXES,
)
from heartcv.data.images import hw_pair


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


def _check_boxes(layout, height, width):
    boxes = getattr(layout, "boxes", layout)
    try:
        boxes = [(str(n), int(y0), int(y1), int(x0), int(x1)) for n, y0, y1, x0, x1 in boxes]
    except (TypeError, ValueError):
        raise TypeError("Expected `layout` to be a SheetLayout or 13 (name, y0, y1, x0, x1) "
                        f"boxes. Received: layout={layout!r}") from None
    if len(boxes) != len(LEAD_NAMES):
        raise ValueError(f"Expected {len(LEAD_NAMES)} boxes in `layout`. Received: "
                         f"{len(boxes)} boxes")
    for n, y0, y1, x0, x1 in boxes:
        if not (0 <= y0 < y1 <= height and 0 <= x0 < x1 <= width):
            raise ValueError(f"Expected every box inside the {height} x {width} sheet. "
                             f"Received: box {n}=({y0}, {y1}, {x0}, {x1})")
    return boxes


def crop_leads(sheet, layout=None):
    """Cut the 13 lead images out of one ECG sheet.

    Args:
        sheet: Array of shape ``(H, W)`` or ``(H, W, C)`` (any dtype), one whole printout.
        layout: None for the reference boxes (:func:`lead_boxes`: sheets drawn in the reference
            layout), or the boxes found on this sheet: a
            :class:`heartcv.papers.ecg_images_5class.detect.SheetLayout` or 13 ``(name, y0, y1, x0, x1)``.

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
    boxes = lead_boxes(height, width) if layout is None else _check_boxes(layout, height, width)
    return [sheet[y0:y1, x0:x1] for (_, y0, y1, x0, x1) in boxes]


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
    pair = hw_pair(size)
    if pair is None:
        raise TypeError(f"Expected `size` to be an int or (height, width). Received: size={size!r}")
    out_h, out_w = pair
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


def remove_grid(sheet, threshold=None, min_area=6):
    """Whole ECG sheet → grey uint8 with the grid (and anything lighter than the trace) white.

    Printouts carry a grid of light grey dots or lines (the Khan et al. test sheets: paper
    about 245, grid 170-230, trace below 100) or a coloured (red/pink) grid. The lightness
    used is each pixel's brightest channel, so a saturated coloured grid is as light as the
    paper while the black trace stays dark; pixels lighter than ``threshold`` become paper
    white (255), the others keep their grey level. The default threshold is Otsu's on the
    sheet's lightness (142-146 on the Khan test sheets), which splits the dark trace from
    the light paper and grid; grid dots that JPEG left darker than the threshold are
    removed as dark specks: 8-connected dark components of fewer than ``min_area`` pixels
    (the trace and the lead labels are larger). Apply it to the whole sheet before cutting leads
    (:func:`heartcv.papers.ecg_images_5class.leads.lead_volume` with ``remove_grid=True``),
    so every lead crop shares one threshold.

    Args:
        sheet: ``(H, W)`` grey or ``(H, W, 3)`` RGB uint8 (or float in [0, 255]).
        threshold: grey level in [0, 255]; None for Otsu's.
        min_area: dark specks smaller than this (pixels) are whitened too; 0 keeps them.

    Returns:
        uint8 ``(H, W)``: the grey sheet, grid removed.
    """
    sheet = np.asarray(sheet)
    if sheet.ndim == 3 and sheet.shape[2] == 1:
        sheet = sheet[..., 0]
    if sheet.ndim == 3 and sheet.shape[2] == 3:
        rgb = np.clip(sheet, 0, 255).astype(np.uint8)
        grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        light = rgb.max(axis=2)
    elif sheet.ndim == 2:
        grey = light = np.clip(sheet, 0, 255).astype(np.uint8)
    else:
        raise ValueError("Expected `sheet` of shape (H, W), (H, W, 1) or (H, W, 3). "
                         f"Received: sheet.shape={sheet.shape}")
    if sheet.size == 0:
        raise ValueError(f"Expected a non-empty `sheet`. Received: sheet.shape={sheet.shape}")
    if threshold is None:
        threshold, _ = cv2.threshold(np.ascontiguousarray(light), 0, 255,
                                     cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    elif (isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number))
          or not 0 <= threshold <= 255):
        raise ValueError(f"Expected `threshold` in [0, 255] or None. Received: "
                         f"threshold={threshold!r}")
    if isinstance(min_area, bool) or not isinstance(min_area, (int, np.integer)) or min_area < 0:
        raise ValueError(f"Expected `min_area` as an int >= 0. Received: min_area={min_area!r}")
    ink = (light <= threshold).astype(np.uint8)
    if min_area > 0:
        n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
        small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < min_area)
        ink[np.isin(labels, small[small > 0])] = 0
    return np.where(ink > 0, grey, 255).astype(np.uint8)


def draw_layout(sheet, layout=None, *, scale=1.0, thickness=1):
    """A copy of ``sheet`` (RGB) with the 13 lead boxes drawn and named, for a person to check.

    Args:
        sheet: ``(H, W)`` or ``(H, W, 3)`` uint8.
        layout: as in :func:`crop_leads` (None: the reference boxes).
        scale: Resize factor of the returned picture.
        thickness: Line width in pixels of the returned picture.

    Returns:
        uint8 RGB array; lead rows in alternating colours, the rhythm strip in blue.
    """
    sheet = np.asarray(sheet, dtype=np.uint8)
    rgb = np.repeat(sheet[..., None], 3, axis=2) if sheet.ndim == 2 else sheet[..., :3].copy()
    height, width = rgb.shape[:2]
    boxes = lead_boxes(height, width) if layout is None else _check_boxes(layout, height, width)
    if scale != 1.0:
        rgb = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                         interpolation=cv2.INTER_AREA)
    colours = ((220, 30, 30), (20, 150, 40), (230, 120, 0), (30, 60, 220))
    for i, (lead, y0, y1, x0, x1) in enumerate(boxes):
        colour = colours[3] if i == 12 else colours[(i // 4 + i % 4) % 3]
        p0 = (int(round(x0 * scale)), int(round(y0 * scale)))
        p1 = (int(round((x1 - 1) * scale)), int(round((y1 - 1) * scale)))
        cv2.rectangle(rgb, p0, p1, colour, thickness)
        cv2.putText(rgb, lead, (p0[0] + 3, p1[1] - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1,
                    cv2.LINE_AA)
    return rgb

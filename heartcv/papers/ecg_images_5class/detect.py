"""Find the 3 x 4 + 1 lead grid on a 12-lead ECG sheet and place the 13 lead boxes on it.

The published crop boxes (:data:`heartcv.papers.ecg_images_5class.layout.REFERENCE_BOXES`) fit the sheets
drawn in the reference layout (the original ~2213 x 1572 Khan et al. scans, the synthetic
sheets of :mod:`heartcv.data.synthetic.ecg`), but not copies that were cropped before being
re-saved: on the 30 printouts of ``../shared/data/ecg_khan`` (about 940 x 540) the lead
baselines sit near 0.14 / 0.39 / 0.64 / 0.89 of the height and the column separators near
0.27 / 0.51 / 0.75 of the width, instead of 0.30 / 0.49 / 0.68 / 0.88 and 0.29 / 0.51 / 0.74.
:func:`detect_layout` therefore measures the grid on each sheet:

1. *Ink*: grey < ``ink_threshold`` (the trace is near black; grid dots and lines are lighter),
   ignoring a thin border.
2. *Trace rows*: the share of columns with ink within +-1 % of the height of each row; a trace
   baseline covers most of the width, text and grid do not. Runs above half the best share are
   rows; the baseline is the row of most ink in the run. Exactly four are required, three
   about equally spaced and the rhythm strip below them.
3. *Column separators*: three vertical lines (ink in one column, at least half a row pitch
   long, in at least two of the three lead rows) near a quarter, half and three quarters of the
   trace width; where a sheet has no lines, the widest ink-free gap across the three rows
   there. They must be about equally spaced, and the rhythm strip must not be split by them.
4. *Boxes*: from the baselines and separators, with the proportions of the published crop
   (a lead row spans 0.55 pitch above to 0.45 below its baseline, the rhythm strip 0.42 above
   to 0.345 below; the outer columns are as wide as the inner ones; the separator lines are
   left out). When the measured grid agrees with the reference layout (separators within 0.6 %
   of the width, baselines within the reference bands) the published boxes are used as they
   are, so reference sheets get exactly the published crop.
5. *Validation*: every one of the 13 boxes must hold a trace (ink in at least half of its
   columns).

Anything else raises :class:`LayoutError`, naming the file and what was wrong.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from heartcv.papers.ecg_images_5class.layout import LEAD_NAMES, REFERENCE_BOXES, REFERENCE_SHAPE, lead_boxes

__all__ = ["LayoutError", "SheetLayout", "detect_layout", "REFERENCE_BASELINES",
           "REFERENCE_SEPARATORS"]

#: Baseline rows of the three lead rows and the rhythm strip on the reference sheet (0.55 of
#: each published band, as drawn by :mod:`heartcv.data.synthetic.ecg`).
REFERENCE_BASELINES = tuple(y0 + 0.55 * (y1 - y0) for (y0, y1, _, _) in REFERENCE_BOXES[::4])
#: Column-separator positions on the reference sheet (middle of each published column gap).
REFERENCE_SEPARATORS = tuple((REFERENCE_BOXES[c][3] + REFERENCE_BOXES[c + 1][2]) / 2
                             for c in range(3))

_PITCH = (REFERENCE_BASELINES[2] - REFERENCE_BASELINES[0]) / 2
_ROW_ABOVE = (REFERENCE_BASELINES[0] - REFERENCE_BOXES[0][0]) / _PITCH  # 0.55
_ROW_BELOW = (REFERENCE_BOXES[0][1] - REFERENCE_BASELINES[0]) / _PITCH  # 0.45
_RHYTHM_ABOVE = (REFERENCE_BASELINES[3] - REFERENCE_BOXES[12][0]) / _PITCH  # 0.42
_RHYTHM_BELOW = (REFERENCE_BOXES[12][1] - REFERENCE_BASELINES[3]) / _PITCH  # 0.345
_SEPARATOR_TOL = 0.006  # of the width, for "agrees with the reference layout"
_MIN_TRACE_COVER = 0.5  # share of a box's columns holding ink
_MIN_ROW_COVER = 0.3  # share of the width a trace row must cover


class LayoutError(ValueError):
    """A sheet is not a readable 3 x 4 + 1 ECG; ``name`` is the file, ``problem`` the reason."""

    def __init__(self, name, problem):
        self.name = str(name)
        self.problem = problem
        super().__init__(f"{self.name}: not a 3x4+1 ECG sheet (3 rows of 4 leads and a rhythm "
                         f"strip): {problem}")


class SheetLayout(NamedTuple):
    """Lead grid found on one sheet (pixels of that sheet).

    ``boxes``: 13 ``(name, y0, y1, x0, x1)`` in :data:`~heartcv.papers.ecg_images_5class.layout.LEAD_NAMES`
    order; ``baselines``: 4 baseline rows (3 lead rows, rhythm strip); ``separators``: 3
    column-separator columns; ``source``: ``"reference"`` (the published boxes fit) or
    ``"detected"``; ``shape``: ``(H, W)`` of the sheet.
    """

    boxes: tuple
    baselines: tuple
    separators: tuple
    source: str
    shape: tuple


def _odd(x, minimum=3):
    return max(minimum, int(round(x)) // 2 * 2 + 1)


def _grey(sheet, name):
    sheet = np.asarray(sheet)
    if sheet.ndim == 3 and sheet.shape[2] == 1:
        sheet = sheet[..., 0]
    if sheet.ndim == 3 and sheet.shape[2] in (3, 4):
        sheet = cv2.cvtColor(np.ascontiguousarray(sheet[..., :3]).astype(np.uint8),
                             cv2.COLOR_RGB2GRAY)
    if sheet.ndim != 2:
        raise ValueError(f"Expected `sheet` of shape (H, W) or (H, W, 1|3|4) for {name}. "
                         f"Received: sheet.shape={sheet.shape}")
    if min(sheet.shape) < 64:
        raise LayoutError(name, f"the image is only {sheet.shape[1]} x {sheet.shape[0]} pixels "
                                "(need at least 64 x 64)")
    return sheet.astype(np.uint8)


def _runs(flags):
    """``(start, stop)`` of every run of True in a 1-D bool array."""
    d = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _find_rows(ink, name):
    h = ink.shape[0]
    cover = cv2.dilate(ink, np.ones((_odd(0.02 * h), 1), np.uint8)).mean(axis=1)
    best = float(cover.max())
    if best < _MIN_ROW_COVER:
        raise LayoutError(name, "no trace rows found (no horizontal band of ink covers "
                                f"{_MIN_ROW_COVER:.0%} of the width; the widest covers "
                                f"{best:.0%}): blank or not an ECG printout")
    counts = np.convolve(ink.sum(axis=1), np.ones(3), mode="same")
    rows = []
    for start, stop in _runs(cover >= max(_MIN_ROW_COVER, 0.5 * best)):
        y = float(start + np.argmax(counts[start:stop]))
        if rows and y - rows[-1] < 0.06 * h:  # one wandering trace split in two runs
            continue
        rows.append(y)
    if len(rows) != 4:
        where = ", ".join(f"{y / h:.2f}" for y in rows)
        raise LayoutError(name, f"found {len(rows)} trace row(s) (at {where} of the height), "
                                "expected 4 (three rows of leads and the rhythm strip)")
    p1, p2, p3 = np.diff(rows)
    pitch = (p1 + p2) / 2
    if abs(p1 - p2) > 0.25 * pitch or not 0.6 * pitch <= p3 <= 1.8 * pitch:
        raise LayoutError(name, "the four trace rows are not spaced as three lead rows and a "
                                f"rhythm strip (gaps {p1:.0f}, {p2:.0f}, {p3:.0f} px)")
    return rows, pitch


def _line_scores(ink, bands, length):
    """Per column: in how many bands a vertical ink line of ``length`` px runs, and its length."""
    wide = cv2.dilate(ink, np.ones((1, 3), np.uint8))  # tolerate a slight tilt
    kernel = np.ones((_odd(length), 1), np.uint8)
    hits = np.zeros(ink.shape[1], np.int32)
    total = np.zeros(ink.shape[1], np.int64)
    for y0, y1 in bands:
        opened = cv2.morphologyEx(wide[y0:y1], cv2.MORPH_OPEN, kernel)
        hits += opened.any(axis=0)
        total += opened.sum(axis=0, dtype=np.int64)
    return hits, total


def _find_separators(ink, rows, pitch, name):
    h, w = ink.shape
    bands = [(max(0, int(y - 0.45 * pitch)), min(h, int(y + 0.45 * pitch) + 1)) for y in rows]
    hits, total = _line_scores(ink, bands[:3], 0.5 * pitch)
    near = [(max(0, int(y - 0.3 * pitch)), min(h, int(y + 0.3 * pitch) + 1)) for y in rows[:3]]
    empty = ~np.any([ink[y0:y1].any(axis=0) for y0, y1 in near], axis=0)
    cols = np.flatnonzero(ink[bands[3][0]:bands[3][1]].any(axis=0))
    if cols.size < 0.3 * w:
        raise LayoutError(name, "the rhythm strip (lowest trace row) holds too little ink")
    xa, xb = int(cols[0]), int(cols[-1])
    quarter = (xb - xa) / 4
    seps, halves = [], []
    for k in (1, 2, 3):
        lo, hi = int(xa + (k - 1 / 3) * quarter), int(xa + (k + 1 / 3) * quarter) + 1
        top = hits[lo:hi].max()
        if top >= 2:
            groups = _runs(hits[lo:hi] == top)
            s, e = max(groups, key=lambda g: total[lo + g[0]:lo + g[1]].sum())
            seps.append(lo + (s + e - 1) / 2)
            halves.append(max(0.5, (e - s - 2) / 2))  # the 1x3 dilation widened it by 2
            continue
        gaps = [g for g in _runs(empty[lo:hi]) if g[1] - g[0] >= 2]
        if not gaps:
            raise LayoutError(name, f"no column separator (vertical line or gap) between lead "
                                    f"columns {k} and {k + 1} near x={(xa + k * quarter) / w:.2f} "
                                    f"of the width (lines lighter than the ink threshold are not "
                                    f"seen; a sheet {w} px wide may be too small)")
        s, e = max(gaps, key=lambda g: g[1] - g[0])
        seps.append(lo + (s + e - 1) / 2)
        halves.append(-1.0)  # a gap: no line to leave out
    d1, d2 = seps[1] - seps[0], seps[2] - seps[1]
    if abs(d1 - d2) > 0.15 * (d1 + d2) / 2:
        raise LayoutError(name, "the column separators found are not equally spaced (at "
                                + ", ".join(f"{s / w:.3f}" for s in seps) + " of the width)")
    rh, _ = _line_scores(ink, bands[3:], 0.5 * pitch)
    if sum(rh[max(0, int(s) - 2):int(s) + 3].any() for s in seps) >= 2:
        raise LayoutError(name, "the lowest row is split into columns like the lead rows: four "
                                "rows of leads and no rhythm strip")
    return seps, halves


def _matches_reference(rows, seps, h, w):
    ref_h, ref_w = REFERENCE_SHAPE
    for s, ref in zip(seps, REFERENCE_SEPARATORS):
        if abs(s / w - ref / ref_w) > _SEPARATOR_TOL:
            return False
    for y, (y0, y1, _, _) in zip(rows, REFERENCE_BOXES[::4]):
        if not y0 + 0.3 * (y1 - y0) <= y * ref_h / h <= y0 + 0.8 * (y1 - y0):
            return False
    return True


def _boxes(rows, pitch, seps, halves, h, w):
    width = (seps[2] - seps[0]) / 2
    edges = [seps[0] - width, *seps, seps[2] + width]
    margins = [0.0] + [half + 1 for half in halves] + [0.0]
    cols = []
    for c in range(4):
        x0 = int(np.ceil(edges[c] + margins[c]))
        x1 = int(np.floor(edges[c + 1] - margins[c + 1]))
        cols.append((min(max(x0, 0), w - 1), min(max(x1, 1), w)))
    boxes = []
    names = iter(LEAD_NAMES)
    for y in rows[:3]:
        y0, y1 = max(0, int(round(y - _ROW_ABOVE * pitch))), min(h, int(round(y + _ROW_BELOW
                                                                             * pitch)))
        boxes += [(next(names), y0, y1, x0, x1) for x0, x1 in cols]
    y0 = max(0, int(round(rows[3] - _RHYTHM_ABOVE * pitch)))
    y1 = min(h, int(round(rows[3] + _RHYTHM_BELOW * pitch)))
    boxes.append((next(names), y0, y1, cols[0][0], cols[3][1]))
    return boxes


def detect_layout(sheet, *, name=None, ink_threshold=128):
    """Find the 3 x 4 + 1 lead grid on one ECG sheet (see the module docstring).

    Args:
        sheet: ``(H, W)`` grey or ``(H, W, 3)`` RGB uint8, one whole printout.
        name: what to call the sheet in errors (e.g. its file); default ``"sheet"``.
        ink_threshold: grey level below which a pixel is trace ink (0-255).

    Returns:
        :class:`SheetLayout`.

    Raises:
        LayoutError: the sheet is not a 3 x 4 + 1 ECG (blank, other layout, no separators,
            a box without a trace); the message names ``name`` and the problem.
        ValueError: ``sheet`` is not an image array.
    """
    name = "sheet" if name is None else str(name)
    if not 0 < ink_threshold < 256:
        raise ValueError(f"Expected `ink_threshold` in (0, 256). Received: "
                         f"ink_threshold={ink_threshold!r}")
    grey = _grey(sheet, name)
    h, w = grey.shape
    ink = (grey < ink_threshold).astype(np.uint8)
    border = max(2, int(0.01 * min(h, w)))
    ink[:border], ink[-border:], ink[:, :border], ink[:, -border:] = 0, 0, 0, 0
    rows, pitch = _find_rows(ink, name)
    seps, halves = _find_separators(ink, rows, pitch, name)
    if _matches_reference(rows, seps, h, w):
        boxes, source = lead_boxes(h, w), "reference"
    else:
        boxes, source = _boxes(rows, pitch, seps, halves, h, w), "detected"
    for lead, y0, y1, x0, x1 in boxes:
        share = ink[y0:y1, x0:x1].any(axis=0).mean() if y1 > y0 and x1 > x0 else 0.0
        if share < _MIN_TRACE_COVER:
            raise LayoutError(name, f"the box of lead {lead} (rows {y0}:{y1}, columns "
                                    f"{x0}:{x1}) holds no trace (ink in {share:.0%} of its "
                                    f"columns, expected at least {_MIN_TRACE_COVER:.0%})")
    return SheetLayout(tuple(tuple(b) for b in boxes), tuple(float(y) for y in rows),
                       tuple(float(x) for x in seps), source, (h, w))

"""Lead-crop geometry of the Khan et al. ECG sheet (heartcv.data.ecg_layout)."""

import numpy as np
import pytest

from heartcv.data import ecg_layout
from heartcv.data.ecg_layout import (
    LEAD_NAMES,
    REFERENCE_SHAPE,
    crop_leads,
    lead_boxes,
    preprocess_lead,
)

# The published crop, written out independently of the module's tables (data/README.md).
README_BOXES = {
    "I": (300, 600, 150, 643), "aVR": (300, 600, 646, 1135),
    "V1": (300, 600, 1140, 1625), "V4": (300, 600, 1630, 2125),
    "II": (600, 900, 150, 643), "aVL": (600, 900, 646, 1135),
    "V2": (600, 900, 1140, 1625), "V5": (600, 900, 1630, 2125),
    "III": (900, 1200, 150, 643), "aVF": (900, 1200, 646, 1135),
    "V3": (900, 1200, 1140, 1625), "V6": (900, 1200, 1630, 2125),
    "rhythm(II)": (1250, 1480, 150, 2125),
}


def test_lead_names_order():
    assert REFERENCE_SHAPE == (1572, 2213)
    assert LEAD_NAMES == ("I", "aVR", "V1", "V4", "II", "aVL", "V2", "V5", "III", "aVF", "V3",
                          "V6", "rhythm(II)")


def test_reference_boxes_equal_readme_exactly():
    boxes = lead_boxes(1572, 2213)
    assert [b[0] for b in boxes] == list(LEAD_NAMES)
    for name, y0, y1, x0, x1 in boxes:
        assert (y0, y1, x0, x1) == README_BOXES[name], name
        assert all(isinstance(v, int) for v in (y0, y1, x0, x1))


def test_boxes_scale_to_small_sheet():
    h, w = 540, 940
    for name, y0, y1, x0, x1 in lead_boxes(h, w):
        ry0, ry1, rx0, rx1 = README_BOXES[name]
        assert abs(y0 - ry0 * h / 1572) <= 0.5 and abs(y1 - ry1 * h / 1572) <= 0.5
        assert abs(x0 - rx0 * w / 2213) <= 0.5 and abs(x1 - rx1 * w / 2213) <= 0.5
        assert 0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w
    assert lead_boxes(h, w)[0][1:] == (103, 206, 64, 273)


def test_crop_leads_shapes_and_views():
    sheet = np.arange(540 * 940 * 3, dtype=np.int64).reshape(540, 940, 3)
    crops = crop_leads(sheet)
    assert len(crops) == 13
    for crop, (_, y0, y1, x0, x1) in zip(crops, lead_boxes(540, 940)):
        assert crop.shape == (y1 - y0, x1 - x0, 3)
        assert crop[0, 0, 0] == sheet[y0, x0, 0]
    grey = crop_leads(np.zeros((1572, 2213), np.uint8))
    assert grey[12].shape == (230, 1975)


def test_preprocess_lead_inverts_dilates_resizes():
    crop = np.full((300, 493, 3), 255, np.uint8)
    crop[150, :] = 0  # a 1-pixel dark trace on white
    out = preprocess_lead(crop, size=64)
    assert out.shape == (64, 64) and out.dtype == np.uint8
    assert out[:20].max() == 0  # white paper -> black
    assert out[29:35].max() > 0  # trace -> bright
    # dilation thickens the trace before resizing: brighter than without it
    plain = preprocess_lead(crop, size=64, dilate_kernel=1)
    assert out.sum() > plain.sum()
    assert preprocess_lead(crop[..., 0], size=(28, 32)).shape == (28, 32)


ILL_CASES = [
    (lambda: lead_boxes(10, 940), ValueError, "height"),
    (lambda: lead_boxes(540.0, 940), TypeError, "height"),
    (lambda: crop_leads(np.zeros(5)), ValueError, "sheet"),
    (lambda: preprocess_lead(np.zeros((4, 4, 4), np.uint8)), ValueError, "crop"),
    (lambda: preprocess_lead(np.zeros((4, 4), np.uint8), size="x"), TypeError, "size"),
    (lambda: preprocess_lead(np.zeros((4, 4), np.uint8), dilate_kernel=0), ValueError, "dilate"),
]


@pytest.mark.parametrize("call,error,match", ILL_CASES)
def test_ill_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_relative_boxes_are_fractions():
    for fy0, fy1, fx0, fx1 in ecg_layout.RELATIVE_BOXES:
        assert 0 < fy0 < fy1 < 1 and 0 < fx0 < fx1 < 1

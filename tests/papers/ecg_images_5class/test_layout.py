"""Lead-crop geometry of the Khan et al. ECG sheet (heartcv.papers.ecg_images_5class.layout, ecg_detect)."""

import cv2
import numpy as np
import pytest

from heartcv.papers.ecg_images_5class import layout as ecg_layout
from heartcv.data.datasets import ecg_khan
from heartcv.papers.ecg_images_5class.detect import (
    REFERENCE_SEPARATORS,
    LayoutError,
    SheetLayout,
    detect_layout,
)
from heartcv.papers.ecg_images_5class.layout import (
    LEAD_NAMES,
    REFERENCE_SHAPE,
    crop_leads,
    draw_layout,
    lead_boxes,
    preprocess_lead,
)
from heartcv.papers.ecg_images_5class.leads import lead_volume
from heartcv.data.images import read_image
from heartcv.data.synthetic.ecg import generate_ecg_printouts

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


# --------------------------------------------------------------------------- layout detection

def _sheet(height=540, width=940, grid="pink", seed=0):
    return generate_ecg_printouts(1, height=height, width=width, grid=grid, seed=seed)["images"][0]


@pytest.fixture(scope="module")
def full_sheet():
    return _sheet(1572, 2213, seed=1)


def _has_trace(crop):
    grey = crop.mean(axis=2) if crop.ndim == 3 else crop
    return (grey < 128).any(axis=0).mean()


def test_real_sheets_detect_a_valid_layout(ecg_khan_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written anywhere
    index = ecg_khan.printouts_index(ecg_khan_dir)
    assert len(index) == 30
    for path in index["path"]:
        sheet = read_image(path, grey=False)
        h, w = sheet.shape[:2]
        layout = detect_layout(sheet, name=path)
        assert isinstance(layout, SheetLayout) and layout.shape == (h, w)
        # re-saved, cropped copies: not the reference grid (measured by hand on several)
        assert layout.source == "detected"
        assert np.allclose(np.array(layout.baselines) / h, [0.136, 0.388, 0.640, 0.893],
                           atol=0.015), path
        assert np.allclose(np.array(layout.separators) / w, [0.271, 0.508, 0.745],
                           atol=0.01), path
        assert [b[0] for b in layout.boxes] == list(LEAD_NAMES)
        crops = crop_leads(sheet, layout)
        for (lead, y0, y1, x0, x1), crop in zip(layout.boxes, crops):
            assert crop.shape[:2] == (y1 - y0, x1 - x0)
            assert _has_trace(crop) > 0.9, (path, lead)
            if lead != "rhythm(II)":  # each lead is 2.5 s of the 10 s strip: about a quarter
                assert 0.22 < (x1 - x0) / w < 0.25 and 0.2 < (y1 - y0) / h < 0.27
        for c in range(3):  # the separator lines themselves stay out of the crops
            assert layout.boxes[c][4] < layout.separators[c] < layout.boxes[c + 1][3]
        volume = lead_volume(sheet, layout=layout)
        assert volume.shape == (64, 64, 13) and volume.dtype == np.uint8
        assert (volume.reshape(-1, 13).max(axis=0) > 128).all()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("height,width,grid", [
    (1572, 2213, "pink"), (1100, 1549, "grey"), (786, 1106, "pink"), (540, 940, "grey"),
])
def test_synthetic_sheets_get_the_published_boxes(height, width, grid):
    sheet = _sheet(height, width, grid, seed=height)
    layout = detect_layout(sheet)
    assert layout.source == "reference"
    assert list(layout.boxes) == [tuple(b) for b in lead_boxes(height, width)]
    assert all(_has_trace(c) > 0.9 for c in crop_leads(sheet, layout))


def test_cropped_resaved_sheet_is_detected_where_it_is(full_sheet):
    """A reference sheet cut and re-saved smaller (like the real copies) is measured, not assumed:
    the boxes found land on the published boxes mapped into the new picture."""
    top, left, bottom, right = 230, 25, 1520, 2190
    cut = full_sheet[top:bottom, left:right]
    h, w = 560, 950
    small = cv2.resize(cut, (w, h), interpolation=cv2.INTER_AREA)
    layout = detect_layout(small)
    assert layout.source == "detected"
    sy, sx = h / (bottom - top), w / (right - left)
    for (lead, y0, y1, x0, x1), ref in zip(layout.boxes, lead_boxes(1572, 2213)):
        ry0, ry1, rx0, rx1 = ref[1:]
        assert abs(x0 - (rx0 - left) * sx) <= 4 and abs(x1 - (rx1 - left) * sx) <= 4, lead
        assert abs(y0 - (ry0 - top) * sy) <= 4 and abs(y1 - (ry1 - top) * sy) <= 4, lead


def test_lead_volume_is_the_paper_chain(full_sheet):
    volume = lead_volume(full_sheet, size=28)
    assert volume.shape == (28, 28, 13) and volume.dtype == np.uint8
    crops = crop_leads(full_sheet)
    for i in (0, 7, 12):
        assert np.array_equal(volume[..., i], preprocess_lead(crops[i], 28, 3))
    assert lead_volume(full_sheet, 96, 1).shape == (96, 96, 13)


def _blank_row(sheet, row):
    out = sheet.copy()
    y0, y1 = lead_boxes(*sheet.shape[:2])[4 * row][1:3]
    out[y0:y1] = 255
    return out


def _four_lead_rows(sheet):
    out = sheet.copy()
    (y0, y1), (r0, r1) = lead_boxes(*sheet.shape[:2])[8][1:3], lead_boxes(*sheet.shape[:2])[12][1:3]
    out[r0:r1] = 255
    out[r0:r0 + (y1 - y0)] = sheet[y0:y1]  # the third lead row again where the strip was
    return out


LAYOUT_ERRORS = [
    ("blank", lambda s: np.full_like(s, 255), "no trace rows found"),
    ("noise", lambda s: np.random.default_rng(0).integers(0, 256, s.shape, dtype=np.uint8),
     "found 1 trace row"),
    ("no rhythm strip", lambda s: _blank_row(s, 3), "found 3 trace row"),
    ("two lead rows", lambda s: _blank_row(s, 1), "found 3 trace row"),
    ("four lead rows", _four_lead_rows, "no rhythm strip"),
    ("tiny", lambda s: s[:40, :60], "only 60 x 40 pixels"),
]


@pytest.mark.parametrize("what,make,match", LAYOUT_ERRORS, ids=[c[0] for c in LAYOUT_ERRORS])
def test_not_a_3x4_plus_1_sheet_is_a_clear_error(what, make, match):
    sheet = make(_sheet())
    with pytest.raises(LayoutError, match=match) as info:
        detect_layout(sheet, name="bad/sheet.jpg")
    assert str(info.value).startswith("bad/sheet.jpg: not a 3x4+1 ECG sheet")
    assert isinstance(info.value, ValueError) and info.value.name == "bad/sheet.jpg"
    with pytest.raises(LayoutError, match="bad/sheet.jpg"):
        lead_volume(sheet, name="bad/sheet.jpg")


def _separator_columns(sheet):
    w = sheet.shape[1]
    return [int(round(x / REFERENCE_SHAPE[1] * w)) for x in REFERENCE_SEPARATORS]


def test_gaps_between_columns_serve_as_separators():
    sheet = _sheet()
    for x in _separator_columns(sheet):  # lines and trace gone: a blank gap between columns
        sheet[:, x - 3:x + 4] = 255
    layout = detect_layout(sheet)
    assert layout.source == "reference"  # found at the same places
    assert np.allclose(layout.separators, _separator_columns(sheet), atol=1.5)


def test_no_separator_line_or_gap_is_an_error():
    sheet = _sheet()
    for x in _separator_columns(sheet):  # trace runs on where the line was
        sheet[:, x - 3:x + 4] = sheet[:, x - 10:x - 3]
    with pytest.raises(LayoutError, match="no column separator"):
        detect_layout(sheet)


def test_draw_layout_and_layout_arguments(full_sheet):
    layout = detect_layout(full_sheet)
    pic = draw_layout(full_sheet, layout, scale=0.25)
    assert pic.shape == (393, 553, 3) and pic.dtype == np.uint8
    assert draw_layout(full_sheet[..., 0]).shape == (1572, 2213, 3)
    assert [c.shape for c in crop_leads(full_sheet, layout.boxes)] == [
        c.shape for c in crop_leads(full_sheet)]
    with pytest.raises(ValueError, match="Expected 13 boxes"):
        crop_leads(full_sheet, layout.boxes[:12])
    with pytest.raises(ValueError, match="inside the 100 x 100 sheet"):
        crop_leads(np.zeros((100, 100)), layout)
    with pytest.raises(TypeError, match="layout"):
        crop_leads(full_sheet, 5)
    with pytest.raises(ValueError, match="ink_threshold"):
        detect_layout(full_sheet, ink_threshold=0)
    with pytest.raises(ValueError, match="sheet"):
        detect_layout(np.zeros((100, 100, 2), np.uint8))


def _gridded_sheet(colour=False):
    """A paper-white sheet with a light dotted grid (or a red grid) and a black sine trace."""
    sheet = np.full((120, 200, 3), 245, np.uint8)
    if colour:
        sheet[::10, :] = (240, 120, 120)  # red grid lines (RGB)
        sheet[:, ::10] = (240, 120, 120)
    else:
        sheet[::5, ::5] = 190  # grid dots
        sheet[::25, :] = 205  # major grid lines
    cols = np.arange(200)
    rows = (60 + 25 * np.sin(cols / 9.0)).astype(int)
    for d in range(4):  # 4 rows thick: columns stay 8-connected where the slope is steep
        sheet[rows + d, cols] = 20
    return sheet, rows, cols


@pytest.mark.parametrize("colour", [False, True])
def test_remove_grid_keeps_the_trace_only(colour):
    sheet, rows, cols = _gridded_sheet(colour)
    speck = sheet.copy()
    speck[3, 3] = 120  # a grid dot JPEG left darker than the threshold
    out = ecg_layout.remove_grid(speck)
    assert out.shape == sheet.shape[:2] and out.dtype == np.uint8
    trace = np.zeros(sheet.shape[:2], bool)
    for d in range(4):
        trace[rows + d, cols] = True
    assert np.all(out[trace] == 20)  # the trace keeps its grey level
    assert np.all(out[~trace] == 255)  # grid (dots, lines, red) and specks whitened
    kept = ecg_layout.remove_grid(speck, min_area=0)
    assert kept[3, 3] == 120  # without the speck rule the dark dot stays
    grey = cv2.cvtColor(sheet, cv2.COLOR_RGB2GRAY)
    assert (grey[~trace] < 250).mean() > 0.05  # there was a grid to remove


def test_remove_grid_arguments():
    with pytest.raises(ValueError, match="threshold"):
        ecg_layout.remove_grid(np.zeros((8, 8), np.uint8), threshold=300)
    with pytest.raises(ValueError, match="min_area"):
        ecg_layout.remove_grid(np.zeros((8, 8), np.uint8), min_area=-1)
    with pytest.raises(ValueError, match="sheet"):
        ecg_layout.remove_grid(np.zeros((8, 8, 2), np.uint8))


def test_real_sheet_grid_removed(ecg_khan_dir):
    """A Khan test printout: with the grid the lead crops have no black pixel; without, most."""
    path = next(iter(sorted((ecg_khan_dir / "printouts").rglob("MI(101).jpg"))))
    sheet = read_image(path, grey=False)
    plain = lead_volume(sheet, 64)
    clean = lead_volume(sheet, 64, remove_grid=True)
    assert (plain == 0).mean() < 0.05 and (clean == 0).mean() > 0.8
    assert clean.max() == 255 and (clean[plain >= 200] > 0).mean() > 0.9  # the trace is kept

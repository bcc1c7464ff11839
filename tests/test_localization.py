"""Localization scores hand-checked on synthetic heatmaps: blobs and rectangles vs masks/boxes."""

import json
import math

import numpy as np
import pytest

from heartcv import localization as loc
from heartcv.data.synthetic import generate_chest_xrays

SIZE = 64
YY, XX = np.mgrid[0:SIZE, 0:SIZE]


def blob(cx, cy, sigma=4.0):
    """Gaussian centred at the continuous point (cx, cy) (pixel centres at +0.5)."""
    return np.exp(-((XX + 0.5 - cx) ** 2 + (YY + 0.5 - cy) ** 2) / (2 * sigma**2))


def rect(x, y, w, h, value=1.0):
    m = np.zeros((SIZE, SIZE))
    m[y:y + h, x:x + w] = value
    return m


BOX = (8.0, 8.0, 16.0, 16.0)  # x, y, w, h
MASK = rect(*map(int, BOX)) > 0


def test_mass_inside_blob_inside_and_outside():
    heat = np.stack([blob(16, 16), blob(48, 48)])
    frac = loc.mass_inside(heat, np.stack([MASK, MASK]))
    # the box spans ±2σ around the first blob: (erf(2/√2))² of a 2-D Gaussian's mass
    assert frac[0] == pytest.approx(math.erf(2 / math.sqrt(2)) ** 2, abs=2e-3)
    assert frac[1] < 1e-6
    # the same with boxes instead of masks
    np.testing.assert_allclose(loc.mass_inside(heat, [BOX, BOX]), frac, rtol=1e-9)


def test_mass_inside_uniform_map_is_area_fraction_and_resizes():
    quarter = np.zeros((SIZE, SIZE), bool)
    quarter[:32, :32] = True
    assert loc.mass_inside(np.ones((1, 8, 8)), quarter[None])[0] == pytest.approx(0.25)
    # all-zero heatmap: no mass to place
    assert np.isnan(loc.mass_inside(np.zeros((1, 8, 8)), quarter[None])[0])


def test_pointing_game_masks_boxes_and_tolerance():
    heat = np.stack([blob(16, 16), blob(48, 48), np.ones((SIZE, SIZE))])
    three = [BOX] * 3
    np.testing.assert_array_equal(loc.pointing_game(heat, three), [True, False, False])
    np.testing.assert_array_equal(loc.pointing_game(heat, np.stack([MASK] * 3)),
                                  [True, False, False])
    # peak at pixel (row 12, col 27): its centre is 27.5 - 23.5 = 4 px right of the last box column
    near = blob(27.5, 12.5)[None]
    assert not loc.pointing_game(near, [BOX])[0]
    assert not loc.pointing_game(near, [BOX], tolerance=3.9)[0]
    assert loc.pointing_game(near, [BOX], tolerance=4)[0]
    # heatmap at 1/4 resolution with boxes in 64-px coordinates
    small = blob(16, 16)[::4, ::4][None]
    assert loc.pointing_game(small, [BOX], image_size=(SIZE, SIZE))[0]


def test_pointing_game_counts_every_tied_maximum():
    """A map saturated over several cells is scored by all of its maximal pixels (issue 14):
    the first maximum in raster order sits top left, so a saturated map always "missed"."""
    grid = np.zeros((4, 4))
    grid[0, 0] = grid[1, 1] = grid[2, 2] = grid[3, 3] = 1.0  # four tied cells on the diagonal
    heat = np.kron(grid, np.ones((16, 16)))[None]  # nearest-neighbour 64 px: no interpolation
    region = np.zeros((1, SIZE, SIZE), bool)
    region[0, 16:48, 16:48] = True  # holds cells (1, 1) and (2, 2): half of the maximal pixels
    assert loc.pointing_game(heat, region)[0] == pytest.approx(0.5)
    assert loc.pointing_game(heat, region, ties="first")[0] == 0.0  # (0, 0): outside
    region[0, :16, :16] = True
    assert loc.pointing_game(heat, region, ties="first")[0] == 1.0
    assert loc.pointing_game(heat, region)[0] == pytest.approx(0.75)
    # a single maximum: both rules agree; almost-tied values (1e-3 below) are not ties
    one = heat * 0.999
    one[0, 16:32, 16:32] = 1.0  # cell (1, 1) alone is the maximum
    assert loc.pointing_game(one, region)[0] == loc.pointing_game(one, region, ties="first")[0] == 1.0
    with pytest.raises(ValueError, match="ties"):
        loc.pointing_game(heat, region, ties="random")


def test_mass_over_chance_is_mass_minus_heart_area():
    masks = np.stack([MASK] * 10)
    on = loc.localization_summary(np.stack([blob(16, 16)] * 10), masks=masks, n_boot=200)
    uniform = loc.localization_summary(np.ones((10, 16, 16)), masks=masks, n_boot=200)
    assert on["mass_over_chance"]["mean"] == pytest.approx(
        on["mass_inside"]["mean"] - on["area_fraction"]["mean"])
    assert on["mass_over_chance"]["ci"][0] > 0.5  # a blob on the heart: far above chance
    assert uniform["mass_over_chance"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert on["pointing_game"]["ties"] == "share"


def test_iou_iobb_rectangles_by_hand():
    heat = np.stack([rect(8, 8, 16, 16), rect(8, 8, 16, 16), rect(0, 0, 32, 32)])
    gt = [BOX, (8.0, 8.0, 32.0, 16.0), (0.0, 0.0, 16.0, 16.0)]
    res = loc.iou_iobb(heat, gt, thresholds=(0.5,))
    np.testing.assert_allclose(res["iou"][:, 0], [1.0, 0.5, 0.25])
    np.testing.assert_allclose(res["iobb"][:, 0], [1.0, 1.0, 0.25])
    assert res["n_boxes"].tolist() == [[1], [1], [1]]
    # T(IoU) = 0.1..0.7: image 1 correct throughout, image 2 up to 0.5, image 3 up to 0.2
    np.testing.assert_allclose(res["accuracy_iou"][0], [1, 1, 2 / 3, 2 / 3, 2 / 3, 1 / 3, 1 / 3])
    # T(IoBB) = 0.1, 0.25, 0.5, 0.75, 0.9
    np.testing.assert_allclose(res["accuracy_iobb"][0], [1, 1, 2 / 3, 2 / 3, 2 / 3])


def test_iou_iobb_components_thresholds_and_matching():
    # a strong blob on the box and a weaker one elsewhere: two components at low thresholds
    heat = (rect(8, 8, 16, 16) + rect(40, 40, 16, 16, 0.4))[None]
    best = loc.iou_iobb(heat, [BOX], thresholds=(0.3, 0.5))
    assert best["n_boxes"].tolist() == [[2, 1]]
    np.testing.assert_allclose(best["iou"], [[1.0, 1.0]])
    # the peak component is the strong one too
    peak = loc.iou_iobb(heat, [BOX], thresholds=(0.3,), match="peak")
    np.testing.assert_allclose(peak["iou"], [[1.0]])
    # the other way round: the peak sits off the box → "peak" scores 0, "best" still 1
    swapped = (rect(8, 8, 16, 16, 0.4) + rect(40, 40, 16, 16))[None]
    assert loc.iou_iobb(swapped, [BOX], thresholds=(0.3,), match="peak")["iou"][0, 0] == 0
    assert loc.iou_iobb(swapped, [BOX], thresholds=(0.3,))["iou"][0, 0] == 1
    # several ground-truth boxes: the best one counts; a constant map detects nothing
    res = loc.iou_iobb(np.stack([heat[0], np.ones((SIZE, SIZE))]),
                       [[(40.0, 0.0, 8.0, 8.0), BOX], [BOX]], thresholds=(0.5,))
    np.testing.assert_allclose(res["iou"][:, 0], [1.0, 0.0])
    assert res["n_boxes"][1, 0] == 0


def test_iou_iobb_gaussian_blob_box_size():
    # min-max normalised Gaussian ≥ t ⇔ r ≤ σ √(2 ln(1/t)) (its floor is ~0 here)
    heat = blob(32, 32, sigma=6)[None]
    boxes, peak = loc.heatmap_boxes(heat[0], 0.5)
    assert peak == 0 and len(boxes) == 1
    r = 6 * math.sqrt(2 * math.log(2))  # 7.06
    assert boxes[0, 2] == pytest.approx(2 * r, abs=1.5) and boxes[0, 3] == boxes[0, 2]


def test_synthetic_heart_masks_and_boxes_agree():
    data = generate_chest_xrays(4, 1, size=SIZE, seed=3, prevalence=1.0)
    masks = data["heart_masks"]
    boxes = [[b[1:] for b in bx if b[0] == "Cardiomegaly"] for bx in data["boxes"]]
    # a heatmap equal to the heart mask: all mass inside, pointing hit, box IoU 1 at any t
    heat = masks.astype(float)
    np.testing.assert_allclose(loc.mass_inside(heat, masks), 1.0)
    assert loc.pointing_game(heat, boxes).all()
    res = loc.iou_iobb(heat, boxes, thresholds=(0.5,))
    np.testing.assert_allclose(res["iou"], 1.0)
    np.testing.assert_array_equal(np.concatenate(loc.masks_to_boxes(masks)),
                                  np.asarray(boxes)[:, 0])
    np.testing.assert_array_equal(loc.boxes_to_masks(boxes, (SIZE, SIZE)).any(0),
                                  loc.boxes_to_masks(loc.masks_to_boxes(masks), SIZE).any(0))


def test_localization_summary_json_and_ci():
    rng = np.random.default_rng(0)
    centres = rng.uniform(8, 56, size=(12, 2))
    heat = np.stack([blob(cx, cy) for cx, cy in centres])
    masks = np.stack([MASK] * 12)
    s1 = loc.localization_summary(heat, masks=masks, n_boot=300, seed=1)
    s2 = loc.localization_summary(heat, masks=masks, n_boot=300, seed=1)
    assert json.loads(json.dumps(s1)) == s1 == s2
    hits = loc.pointing_game(heat, masks)
    assert s1["pointing_game"]["mean"] == pytest.approx(hits.mean())
    assert s1["mass_inside"]["mean"] == pytest.approx(loc.mass_inside(heat, masks).mean())
    for entry in (s1["mass_inside"], s1["pointing_game"], s1["iou_iobb"]["by_threshold"][4]["iou"]):
        lo, hi = entry["ci"]
        assert lo <= entry["mean"] <= hi and lo < hi
    assert [e["threshold"] for e in s1["iou_iobb"]["by_threshold"]] == list(loc.BINARIZE_THRESHOLDS)
    iobb_keys = set(s1["iou_iobb"]["by_threshold"][0]["accuracy_iobb"])
    assert iobb_keys == {"0.1", "0.25", "0.5", "0.75", "0.9"}
    assert s1["area_fraction"]["mean"] == pytest.approx(MASK.mean())
    uniform = loc.localization_summary(np.ones((3, 16, 16)), masks=masks[:3], n_boot=0)
    assert uniform["mass_inside"]["mean"] == pytest.approx(uniform["area_fraction"]["mean"])
    none = loc.localization_summary(heat, boxes=[BOX] * 12, n_boot=0)
    assert math.isnan(none["pointing_game"]["ci"][0]) and none["notes"]


ILL_CASES = [
    (lambda: loc.mass_inside(-np.ones((1, 8, 8)), MASK[None]), "non-negative"),
    (lambda: loc.mass_inside(np.ones((2, 8, 8)), MASK[None]), r"N=2"),
    (lambda: loc.mass_inside(np.ones((1, 8, 8)), np.zeros((1, 8, 8))), "non-empty ground-truth"),
    (lambda: loc.pointing_game(np.ones((1, 8, 8)), [BOX], tolerance=-1), "tolerance"),
    (lambda: loc.pointing_game(np.ones((1, 8, 8)), [[]]), "at least one ground-truth box"),
    (lambda: loc.iou_iobb(np.ones((1, 8, 8)), [(0, 0, 0, 4)]), "w, h > 0"),
    (lambda: loc.iou_iobb(np.ones((1, 8, 8)), [BOX], thresholds=(0, 0.5)), "thresholds"),
    (lambda: loc.iou_iobb(np.ones((1, 8, 8)), [BOX], match="centre"), "match"),
    (lambda: loc.iou_iobb(np.ones((1, 8, 8)), [BOX], image_size=(0, 8)), "image_size"),
    (lambda: loc.localization_summary(np.ones((1, 8, 8))), "masks"),
]


@pytest.mark.parametrize("call, message", ILL_CASES)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_labelled_boxes_are_a_type_error():
    with pytest.raises((TypeError, ValueError), match="box"):
        loc.iou_iobb(np.ones((1, 8, 8)), [[("Cardiomegaly", 1, 1, 4, 4)]])

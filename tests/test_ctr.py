"""Cardiothoracic ratio from predicted masks: known rectangles, largest components, flags,
named channels, batches, and agreement with the JSRT reader on the real SCR masks."""

import cv2
import numpy as np
import pytest

from heartcv.ctr import (
    FLAGS,
    ctr_batch,
    ctr_from_masks,
    ctr_from_prediction,
    largest_component,
)
from heartcv.data.datasets.jsrt import STRUCTURES, heart_width, jsrt_ctr_table, jsrt_index

SIZE = 200


def rect(c0, c1, r0=40, r1=160, value=1.0):
    """A (SIZE, SIZE) float mask with ``value`` in rows r0..r1 and columns c0..c1 (inclusive)."""
    m = np.zeros((SIZE, SIZE), np.float32)
    m[r0 : r1 + 1, c0 : c1 + 1] = value
    return m


def chest(heart_cols=(70, 129)):
    """Lungs spanning columns 20..179 (thorax 160 px) and a heart rectangle."""
    return rect(*heart_cols, r0=90, r1=150), rect(120, 179), rect(20, 79, r0=30, r1=170)


def test_known_rectangles():
    heart, left, right = chest()
    out = ctr_from_masks(heart, left, right)
    assert out["heart_width_px"] == 60 and out["thorax_width_px"] == 160
    assert out["ctr"] == pytest.approx(60 / 160)
    assert out["cardiomegaly"] is False and out["flags"] == []
    assert out["areas_px"] == {"heart": 61 * 60, "left_lung": 121 * 60, "right_lung": 141 * 60}
    big = ctr_from_masks(*chest(heart_cols=(50, 149)))
    assert big["ctr"] == pytest.approx(100 / 160) and big["cardiomegaly"] is True


def test_thorax_is_the_widest_single_row_span():
    heart, left, right = chest()
    left = rect(120, 179, r0=40, r1=100)  # the left lung ends before the right one's widest rows
    right = rect(20, 79, r0=101, r1=170)
    # No row holds both lungs: the widest row spans one lung only (60 px), as in the JSRT reader.
    out = ctr_from_masks(heart, left, right)
    assert out["thorax_width_px"] == 60 and out["ctr"] == pytest.approx(1.0)


def test_probabilities_are_thresholded():
    heart, left, right = chest()
    soft = heart * 0.9 + rect(60, 69, r0=90, r1=150, value=0.4)  # a 0.4 rim stays outside
    out = ctr_from_masks(soft, left * 0.7, right * 0.51)
    assert out["heart_width_px"] == 60 and out["ctr"] == pytest.approx(60 / 160)
    assert ctr_from_masks(soft, left, right, threshold=0.3)["heart_width_px"] == 70
    # 0/255 and bool masks read the same
    as_255 = ctr_from_masks(*(255 * m for m in chest()))
    as_bool = ctr_from_masks(*(m > 0 for m in chest()))
    assert as_255["ctr"] == as_bool["ctr"] == pytest.approx(60 / 160)


def test_a_speck_away_from_the_heart_does_not_change_it():
    heart, left, right = chest()
    clean = ctr_from_masks(heart, left, right)
    specked_heart = heart.copy()
    specked_heart[20:23, 190:193] = 1.0  # a false positive far to the right
    specked_lung = right.copy()
    specked_lung[100:102, 2:4] = 1.0  # and one far to the left of the lungs
    out = ctr_from_masks(specked_heart, left, specked_lung)
    assert heart_width(specked_heart) == 193 - 70  # what the raw mask would measure
    for key in ("ctr", "heart_width_px", "thorax_width_px", "areas_px", "flags"):
        assert out[key] == clean[key], key


def test_largest_component():
    m = np.zeros((10, 10), bool)
    m[1:3, 1:3] = True  # 4 px
    m[5:9, 5:9] = True  # 16 px
    kept, area = largest_component(m)
    assert area == 16 and kept.sum() == 16 and kept[6, 6] and not kept[1, 1]
    kept, area = largest_component(np.zeros((4, 4)))
    assert area == 0 and not kept.any()


def test_missing_structures_give_none_and_flags():
    heart, left, right = chest()
    empty = np.zeros_like(heart)
    no_lung = ctr_from_masks(heart, empty, empty)
    assert no_lung["ctr"] is None and no_lung["cardiomegaly"] is None
    assert no_lung["thorax_width_px"] is None and no_lung["heart_width_px"] == 60
    assert no_lung["flags"] == ["no_lung"]
    one = ctr_from_masks(heart, left, empty)
    assert one["ctr"] is None and one["flags"] == ["one_lung"]
    assert one["areas_px"]["right_lung"] == 0
    no_heart = ctr_from_masks(empty, left, right)
    assert no_heart["ctr"] is None and no_heart["flags"] == ["no_heart"]
    assert no_heart["thorax_width_px"] == 160
    nothing = ctr_from_masks(empty, empty, empty)
    assert nothing["flags"] == ["no_heart", "no_lung"]
    wide = ctr_from_masks(rect(5, 194), rect(120, 179), rect(20, 79))
    assert wide["ctr"] == pytest.approx(190 / 160) and wide["flags"] == ["heart_wider_than_thorax"]
    assert set(FLAGS) == {"no_heart", "no_lung", "one_lung", "heart_wider_than_thorax"}


MASK_ILL_CASES = [
    (dict(heart=np.zeros(5)), ValueError, r"Expected `heart` to be a non-empty 2-D mask"),
    (dict(left_lung=np.zeros((SIZE, 10))), ValueError,
     r"Expected every mask to have shape \(200, 200\). Received: left_lung.shape=\(200, 10\)"),
    (dict(right_lung=np.full((SIZE, SIZE), "a")), TypeError, r"Received: right_lung.dtype"),
    (dict(threshold=float("nan")), ValueError, r"finite number. Received: threshold=nan"),
    (dict(threshold=True), ValueError, r"Received: threshold=True"),
]


@pytest.mark.parametrize("kwargs, error, match", MASK_ILL_CASES)
def test_bad_masks(kwargs, error, match):
    heart, left, right = chest()
    args = {"heart": heart, "left_lung": left, "right_lung": right, **kwargs}
    with pytest.raises(error, match=match):
        ctr_from_masks(**args)


def test_named_channels_and_batches():
    heart, left, right = chest()
    names = ["right_lung", "clavicles", "heart", "left_lung"]
    pred = np.stack([right, np.ones_like(heart), heart, left], axis=-1)
    one = ctr_from_prediction(pred, names)
    assert one["ctr"] == pytest.approx(60 / 160)
    big = np.stack([right, np.zeros_like(heart), rect(50, 149, r0=90, r1=150), left], axis=-1)
    rows = ctr_batch(np.stack([pred, big, pred * 0]), names)
    assert [r["ctr"] for r in rows[:2]] == [pytest.approx(60 / 160), pytest.approx(100 / 160)]
    assert rows[2]["ctr"] is None and rows[2]["flags"] == ["no_heart", "no_lung"]
    assert [r["cardiomegaly"] for r in rows] == [False, True, None]


PRED_ILL_CASES = [
    (["heart", "left_lung"], ValueError, r"one name per prediction channel \(3\)"),
    (["heart", "heart", "left_lung"], ValueError, r"unique structure names"),
    (["heart", "left_lungs", "right_lung"], ValueError,
     r"Expected 'left_lung' among `structures`.*Did you mean 'left_lungs'\?"),
    ("heart", TypeError, r"list of names"),
]


@pytest.mark.parametrize("structures, error, match", PRED_ILL_CASES)
def test_bad_structures(structures, error, match):
    pred = np.stack(chest(), axis=-1)
    with pytest.raises(error, match=match):
        ctr_from_prediction(pred, structures)
    with pytest.raises(error, match=match):
        ctr_batch(pred[None], structures)


def test_bad_prediction_shapes():
    with pytest.raises(ValueError, match=r"Expected `pred` of shape \(H, W, K\)"):
        ctr_from_prediction(np.zeros((4, 4)), ["heart"])
    with pytest.raises(ValueError, match=r"Expected `preds` of shape \(N, H, W, K\)"):
        ctr_batch(np.zeros((4, 4, 3)), list(STRUCTURES))


def test_agrees_with_the_jsrt_reader_on_the_scr_masks(jsrt_dir):
    table = jsrt_ctr_table(jsrt_dir)
    index = jsrt_index(jsrt_dir)
    assert len(table) == len(index) == 247
    for i in range(len(index)):
        raw = [cv2.imread(index[f"mask_path:{s}"].iat[i], cv2.IMREAD_GRAYSCALE)
               for s in STRUCTURES]
        out = ctr_from_masks(*raw, threshold=127)  # the reader's >= 128
        assert out["flags"] == []
        assert out["heart_width_px"] == table["heart_width"].iat[i]
        assert out["thorax_width_px"] == table["thorax_width"].iat[i]
        assert out["ctr"] == pytest.approx(table["ctr"].iat[i], abs=1e-12)
        if i < 5:  # the same from probabilities, as a (H, W, 3) prediction
            prob = np.stack(raw, axis=-1).astype(np.float32) / 255.0
            assert ctr_from_prediction(prob, list(STRUCTURES))["ctr"] == out["ctr"]
    assert 0.3 < table["ctr"].mean() < 0.6

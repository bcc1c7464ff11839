"""Quality control of heart + lung masks (heartcv.qc): one drawn chest that passes, and each
check made to fire by the failure it is for."""

import cv2
import numpy as np
import pytest

from heartcv.qc import (LEVELS, REASONS, TTA_VIEWS, check_anatomy, combine_status, level,
                        tta_ctr_interval, tta_inputs)

NAMES = ["heart", "left_lung", "right_lung"]
S = 256


def _ellipse(centre, axes, size=S):
    m = np.zeros((size, size), np.uint8)
    cv2.ellipse(m, centre, axes, 0, 0, 360, 1, -1)
    return m.astype(bool)


def chest(heart_centre=(150, 160), heart_axes=(45, 32)):
    """A drawn PA chest: right lung on the image's left, left lung on its right, the heart
    low between them and toward the image's right; lungs dark, heart bright."""
    right = _ellipse((75, 120), (32, 80))
    left = _ellipse((185, 120), (30, 78))
    heart = _ellipse(heart_centre, heart_axes) & ~left & ~right
    masks = np.stack([heart, left, right], -1).astype(np.float32)
    image = np.full((S, S), 170, np.float32)
    image[left | right] = 70
    image[heart] = 200
    return masks, image


def reasons(masks, image=None, **kw):
    return check_anatomy(masks, NAMES, image, **kw)["reasons"]


def test_a_drawn_chest_passes():
    masks, image = chest()
    out = check_anatomy(masks, NAMES, image, ctr=0.45, ctr_interval=(0.44, 0.47))
    assert out["status"] == "ok" and out["reasons"] == []
    assert 0.03 < out["measures"]["heart_offset"] < 0.2


def test_missing_heart_fails():
    masks, image = chest()
    masks[..., 0] = 0
    out = check_anatomy(masks, NAMES, image)
    assert "missing_heart" in out["reasons"] and out["status"] == "fail"


def test_swapped_lungs_fail():
    masks, image = chest()
    masks = masks[..., [0, 2, 1]]
    assert "lungs_swapped" in reasons(masks, image)


def test_flipped_film_heart_on_the_wrong_side_fails():
    masks, image = chest()
    flipped = masks[:, ::-1].copy()
    flipped = flipped[..., [0, 2, 1]]  # the model names the lungs by side
    out = check_anatomy(flipped, NAMES, image[:, ::-1])
    assert "heart_on_right" in out["reasons"] and out["status"] == "fail"


def test_heart_close_to_the_midline_is_reviewed():
    masks, image = chest(heart_centre=(133, 160))
    out = check_anatomy(masks, NAMES, image)
    assert "heart_near_midline" in out["reasons"] and out["status"] == "review"


def test_lung_piece_over_the_abdomen_fails():
    masks, image = chest()
    masks[230:250, 60:100, 2] = 1  # a blob of "right lung" below the heart
    assert "lung_below_heart" in reasons(masks, image)


def test_split_and_fragmented_structures():
    masks, image = chest()
    masks[..., 0] = _ellipse((120, 150), (14, 14)) | _ellipse((160, 150), (14, 14))
    assert "split_heart" in reasons(masks, image)
    masks, image = chest()
    masks[30:34, 120:124, 1] = 1  # a speck: most of the lung is one piece
    assert not any(r.endswith("left_lung") for r in reasons(masks, image))


def test_inverted_image_lungs_not_dark():
    masks, image = chest()
    out = check_anatomy(masks, NAMES, 255 - image)
    assert "lungs_not_dark" in out["reasons"] and out["status"] == "fail"


def test_half_a_chest_one_lung_missing_or_tiny():
    masks, image = chest()
    masks[:, :128, 2] = 0  # the right lung cut away
    out = check_anatomy(masks, NAMES, image)
    assert out["status"] == "fail"


def test_lungs_reaching_the_bottom_band_fail():
    masks, image = chest()
    masks[200:, 40:110, 2] = 1  # the right lung drawn down to the image's bottom edge
    masks[..., 2] = masks[..., 2] > 0
    assert "structure_at_border" in reasons(masks, image)


def test_ctr_and_interval_checks():
    masks, image = chest()
    assert "heart_wider_than_thorax" in reasons(masks, image, ctr=1.3)
    assert "ctr_implausible" in reasons(masks, image, ctr=0.2)
    assert "unstable_ctr" in reasons(masks, image, ctr=0.45, ctr_interval=(0.42, 0.52))
    assert "ctr_unreliable" in reasons(masks, image, ctr=0.45, ctr_interval=(0.3, 0.52))
    assert combine_status(["unstable_ctr"]) == "review"
    assert combine_status(["ctr_unreliable", "unstable_ctr"]) == "fail"


def test_every_reason_has_a_level():
    assert set(LEVELS.values()) <= {"review", "fail"}
    for r in REASONS:
        assert level(r) in ("review", "fail")
    assert level("missing_right_lung") == "fail" and level("fragmented_heart") == "review"


def test_reference_masks_of_an_undisturbed_chest_are_not_flagged_by_size():
    masks, image = chest(heart_axes=(40, 28))  # a small heart, still within the references
    out = check_anatomy(masks, NAMES, image)
    assert "heart_too_small" not in out["reasons"]


def test_bad_inputs():
    with pytest.raises(ValueError, match="H, W, K"):
        check_anatomy(np.zeros((4, 4)), NAMES)
    with pytest.raises(ValueError, match="heart"):
        check_anatomy(np.zeros((4, 4, 2)), ["left_lung", "right_lung"])


def test_tta_views_batch_and_interval():
    masks, image = chest()
    x = image[None, ..., None]
    views = tta_inputs(x)
    assert views.shape == (len(TTA_VIEWS), S, S, 1)
    np.testing.assert_allclose(views[0], x[0])  # the identity view first
    # predictions that are the masks moved with each view: the CTR stays, interval is tight
    view_masks = tta_inputs(masks[None])
    out = tta_ctr_interval(view_masks, NAMES, 1)[0]
    assert len(out["views"]) == len(TTA_VIEWS)
    assert out["high"] - out["low"] < 0.03
    # two images: view-major layout
    two = tta_inputs(np.concatenate([x, x[:, :, ::-1]]))
    np.testing.assert_allclose(two[1], x[0, :, ::-1])

"""The findings phantom draws the 14 ChestX-ray14 labels, each visible at 128 px, with its box."""

import numpy as np
import pytest

from heartcv.data.datasets.cxr14 import PATHOLOGIES
from heartcv.data.synthetic import FINDING_CLASSES, generate_chest_xrays
from heartcv.data.synthetic.chest import render_phantom
from heartcv.data.synthetic.chest_findings import sample_findings
from heartcv.data.synthetic.chest_shapes import sample_patient_params

SIZE = 128


def test_the_14_chestxray14_labels_in_the_official_order():
    assert FINDING_CLASSES == PATHOLOGIES  # same spelling ("Pleural_Thickening") and order
    d = generate_chest_xrays(4, 1, 32, task="findings", seed=0)
    assert d["class_names"] == list(PATHOLOGIES) and d["labels"].shape == (4, 14)


def _alone(name, seed):
    """(image with only ``name``, the same image without it, its boxes)."""
    label = np.zeros(len(FINDING_CLASSES), int)
    label[FINDING_CLASSES.index(name)] = 1
    params = sample_patient_params(np.random.default_rng(1000 * seed + len(name)), "findings",
                                   label)
    img, _, _, _, boxes = render_phantom(params, SIZE, np.random.default_rng(seed))
    clean = dict(params, findings=[], finding_names=[])
    ref = render_phantom(clean, SIZE, np.random.default_rng(seed))[0]
    return img.astype(float), ref.astype(float), boxes


@pytest.mark.parametrize("name", [n for n in FINDING_CLASSES if n != "Cardiomegaly"])
def test_each_finding_is_visible_at_128px_inside_its_box(name):
    for seed in (0,):
        img, ref, boxes = _alone(name, seed)
        (got,) = [b for b in boxes if b[0] == name]
        _, x, y, w, h = got
        assert 0 <= x and 0 <= y and x + w <= SIZE and y + h <= SIZE and w >= 8 and h >= 8, got
        diff = np.abs(img - ref)
        box = diff[int(y):int(y + h), int(x):int(x + w)]
        # the sign changes the image inside its box by >= 6 grey levels on average ...
        assert box.mean() >= 6.0, (name, box.mean())
        # ... and (almost) only there
        assert box.sum() / diff.sum() > 0.85, name


def test_small_findings_are_small_and_masses_bigger_than_nodules():
    widths = {n: [max(b[3], b[4]) for s in range(3) for b in _alone(n, s)[2] if b[0] == n]
              for n in ("Nodule", "Mass")}
    # Nodule <= 3 cm: 7-10 px across at 128 px (plus the blur); a mass is > 3 cm
    assert max(widths["Nodule"]) <= 16 and min(widths["Nodule"]) >= 8, widths
    assert min(widths["Mass"]) > max(widths["Nodule"]) - 2 and max(widths["Mass"]) <= 32, widths


def test_findings_co_occur_with_a_box_each():
    d = generate_chest_xrays(16, 1, 64, task="findings", seed=2, finding_prob=0.5)
    assert (d["labels"].sum(1) >= 5).any()  # several findings in one image
    assert (d["labels"].sum(0) > 0).all()   # every label occurs
    for lab, boxes in zip(d["labels"], d["boxes"]):
        # Cardiomegaly's box follows the measured CTR, its label may be noisy: lung findings only
        present = {c for c, v in zip(d["class_names"], lab) if v} - {"Cardiomegaly"}
        assert {b[0] for b in boxes} - {"Cardiomegaly"} == present
        assert all(b[3] > 0 and b[4] > 0 and b[1] + b[3] <= 64 and b[2] + b[4] <= 64
                   for b in boxes)


def test_unknown_finding_is_refused():
    params = sample_patient_params(np.random.default_rng(0), "findings", np.zeros(14, int))
    from heartcv.data.synthetic.chest_shapes import heart_outline

    with pytest.raises(ValueError, match="Unknown finding 'Pleural_thickening'"):
        sample_findings(np.random.default_rng(0), ["Pleural_thickening"], params["lungs"],
                        heart_outline(params["heart_frontal"]))

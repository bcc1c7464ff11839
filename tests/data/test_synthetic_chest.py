"""Tests of the synthetic chest X-ray phantom (heartcv.data.synthetic.chest)."""

import re

import cv2
import numpy as np
import pytest

from heartcv.data.synthetic import (
    CHD_CLASSES, FINDING_CLASSES, generate_chest_xrays, measure_ctr, render_phantom,
    sample_patient_params,
)
from heartcv.data.synthetic.figures import save_chest_figures


@pytest.fixture(scope="module")
def cardio_200():
    """200 single-image patients at 64 px, both views, the easy "bands" phantom: the
    CTR-agreement set (the realistic default is tested in test_synthetic_realism.py)."""
    return generate_chest_xrays(200, 1, 64, task="cardiomegaly", view="both", seed=11,
                                ctr_distribution="bands")


@pytest.mark.parametrize("task,k,task_type", [
    ("cardiomegaly", 1, "binary"), ("chd", 4, "multiclass"),
    ("findings", len(FINDING_CLASSES), "multilabel"), ("view", 2, "multiclass"),
])
def test_shapes_and_dtypes(task, k, task_type):
    d = generate_chest_xrays(5, 2, 64, task=task, seed=1)
    n = 10
    assert d["images"].shape == (n, 64, 64, 1) and d["images"].dtype == np.uint8
    for key in ("heart_masks", "lung_masks"):
        assert d[key].shape == (n, 64, 64) and d[key].dtype == np.uint8
        assert set(np.unique(d[key])) <= {0, 1}
    assert d["labels"].shape == (n, k) and d["labels"].dtype == np.float32
    assert set(np.unique(d["labels"])) <= {0.0, 1.0}
    if task_type == "multiclass":
        np.testing.assert_array_equal(d["labels"].sum(1), 1.0)
    assert d["task_type"] == task_type and len(d["class_names"]) == max(k, 2)
    assert d["ctr"].shape == (n,) and d["ctr"].dtype == np.float32
    for key in ("patient_id", "image_id", "view"):
        assert d[key].shape == (n,) and d[key].dtype.kind == "U"
    assert len(d["heart_polygons"]) == n and len(d["boxes"]) == n
    assert all(p.dtype == np.float32 and p.ndim == 2 and p.shape[1] == 2
               for p in d["heart_polygons"])
    assert d["images"].std() > 20  # not blank


def test_class_names():
    assert generate_chest_xrays(2, 1, 48)["class_names"] == ["No Finding", "Cardiomegaly"]
    chd = generate_chest_xrays(4, 1, 48, task="chd")
    assert chd["class_names"] == ["normal", "VSD", "ASD", "TOF"]
    assert generate_chest_xrays(2, 1, 48, task="view")["class_names"] == ["frontal", "lateral"]


def test_deterministic():
    a = generate_chest_xrays(4, 2, 64, task="findings", seed=3)
    b = generate_chest_xrays(4, 2, 64, task="findings", seed=3)
    c = generate_chest_xrays(4, 2, 64, task="findings", seed=4)
    for key in ("images", "heart_masks", "lung_masks", "labels", "ctr"):
        np.testing.assert_array_equal(a[key], b[key])
    assert a["boxes"] == b["boxes"]
    assert all(np.array_equal(p, q) for p, q in zip(a["heart_polygons"], b["heart_polygons"]))
    assert not np.array_equal(a["images"], c["images"])
    assert not np.array_equal(a["heart_masks"], c["heart_masks"])


def test_images_of_a_patient_vary_but_share_anatomy():
    d = generate_chest_xrays(3, 3, 96, seed=5, ap_prob=0.0)  # PA only: same heart size
    img, heart = d["images"][..., 0].astype(float), d["heart_masks"].astype(float)
    for p in range(3):
        i = slice(3 * p, 3 * p + 3)
        assert np.abs(img[i][0] - img[i][1]).mean() > 1  # pose / exposure / noise differ
        dice = 2 * (heart[i][0] * heart[i][1]).sum() / (heart[i][0].sum() + heart[i][1].sum())
        assert dice > 0.7  # same heart, slightly moved
    # A patient's CTR is stable across its images.
    assert abs(d["ctr"][0] - d["ctr"][1]) < 0.03


def test_ctr_label_agrees_with_masks_for_every_image(cardio_200):
    d = cardio_200
    measured = measure_ctr(d["heart_masks"], d["lung_masks"])
    np.testing.assert_allclose(measured, d["ctr"])
    np.testing.assert_array_equal(d["labels"][:, 0], (measured > 0.5).astype(np.float32))
    # "bands": no label noise, no AP films; the label is the true CTR's side of 0.5.
    np.testing.assert_array_equal(d["labels"], d["labels_true"])
    np.testing.assert_array_equal(d["labels"][:, 0], d["ctr_true"] > 0.5)
    assert set(d["view_position"]) == {"PA", "LAT"}
    assert 0.4 < d["labels"].mean() < 0.6  # prevalence 0.5
    pos, neg = measured[d["labels"][:, 0] == 1], measured[d["labels"][:, 0] == 0]
    assert pos.min() > 0.5 and neg.max() <= 0.5
    assert 0.3 < neg.min() and pos.max() < 0.75
    # The margin around 0.5 survives pose and rasterisation, even at 64 px.
    assert np.median(pos) > 0.55 and np.median(neg) < 0.45
    assert set(d["view"]) == {"frontal", "lateral"}


def test_ctr_per_image_matches_measure_on_each_mask():
    d = generate_chest_xrays(6, 1, 128, seed=2)
    for i in range(6):
        assert measure_ctr(d["heart_masks"][i], d["lung_masks"][i]) == pytest.approx(d["ctr"][i])


def test_polygon_rasterises_to_the_mask(cardio_200):
    d = generate_chest_xrays(10, 1, 128, task="chd", view="both", seed=8)
    for data in (d, cardio_200):
        for poly, mask in zip(data["heart_polygons"], data["heart_masks"]):
            raster = np.zeros_like(mask)
            cv2.fillPoly(raster, [np.round(poly).astype(np.int32)], 1)
            dice = 2 * (raster & mask).sum() / (raster.sum() + mask.sum())
            assert dice > 0.97


def test_radiograph_contrast():
    """Aerated lung is darker than the heart; both masks are non-empty and disjoint."""
    d = generate_chest_xrays(10, 1, 96, view="both", seed=9)
    for img, h, lung in zip(d["images"][..., 0], d["heart_masks"], d["lung_masks"]):
        assert h.sum() > 0 and lung.sum() > 0 and (h & lung).sum() == 0
        assert img[lung > 0].mean() + 25 < img[h > 0].mean()


def test_lateral_differs_from_frontal():
    rng = np.random.default_rng(0)
    params = sample_patient_params(rng, "cardiomegaly", 0)
    front = render_phantom(params, 128, np.random.default_rng(1), view="frontal")
    side = render_phantom(params, 128, np.random.default_rng(1), view="lateral")
    assert np.abs(front[0].astype(float) - side[0].astype(float)).mean() > 10
    n_front = cv2.connectedComponents(front[2])[0] - 1
    n_side = cv2.connectedComponents(side[2])[0] - 1
    assert n_front == 2 and n_side == 1  # two lungs vs one overlapped lung field
    # Frontal: heart mostly on the image right (patient's left). Lateral: heart anterior (left).
    hx_f = np.nonzero(front[1])[1].mean()
    hx_s, lx_s = np.nonzero(side[1])[1].mean(), np.nonzero(side[2])[1].mean()
    assert hx_f > 64 and hx_s < lx_s


def test_view_task_labels_follow_the_view():
    d = generate_chest_xrays(6, 2, 64, task="view", view="frontal", seed=2)
    np.testing.assert_array_equal(d["labels"][:, 1], d["view"] == "lateral")
    assert (d["view"] == "lateral").sum() == 6  # each patient alternates views


def test_patients_and_ids():
    d = generate_chest_xrays(7, 3, 48, view="both", seed=0)
    ids, counts = np.unique(d["patient_id"], return_counts=True)
    assert len(ids) == 7 and (counts == 3).all()
    assert all(re.fullmatch(r"SYN\d{5}", p) for p in ids)
    assert len(set(d["image_id"])) == 21
    assert all(i.startswith(p + "_") for i, p in zip(d["image_id"], d["patient_id"]))
    # A patient's true label and CTR are the same on all its images, frontal and lateral
    # (the observed label has per-image noise).
    assert set(d["view"]) == {"frontal", "lateral"}
    for p in ids:
        assert len(np.unique(d["labels_true"][d["patient_id"] == p], axis=0)) == 1
        assert len(np.unique(d["ctr_true"][d["patient_id"] == p])) == 1


def test_chd_balance_and_signs():
    d = generate_chest_xrays(12, 1, 64, task="chd", seed=4)
    np.testing.assert_array_equal(d["labels"].sum(0), [3, 3, 3, 3])
    rng = np.random.default_rng(0)
    p = {c: [sample_patient_params(rng, "chd", k) for _ in range(20)]
         for k, c in enumerate(CHD_CLASSES)}
    vasc = {c: np.mean([q["vascularity"] for q in p[c]]) for c in CHD_CLASSES}
    assert vasc["TOF"] < vasc["normal"] < min(vasc["VSD"], vasc["ASD"])  # oligaemia/plethora
    ctr = {c: np.mean([q["ctr"] for q in p[c]]) for c in CHD_CLASSES}
    assert ctr["normal"] < ctr["VSD"] and ctr["normal"] < ctr["ASD"]


def test_findings_boxes_surround_their_finding():
    size = 128
    for k, name in enumerate(FINDING_CLASSES):
        if name == "Cardiomegaly":
            continue
        label = np.zeros(len(FINDING_CLASSES), int)
        label[k] = 1
        params = sample_patient_params(np.random.default_rng(k), "findings", label)
        img, _, _, _, boxes = render_phantom(params, size, np.random.default_rng(99))
        clean = dict(params, findings=[], finding_names=[])
        ref = render_phantom(clean, size, np.random.default_rng(99))[0]
        (got,) = [b for b in boxes if b[0] == name]
        _, x, y, w, h = got
        assert 0 <= x and 0 <= y and x + w <= size and y + h <= size and w > 0 and h > 0
        diff = np.abs(img.astype(float) - ref.astype(float))
        inside = np.zeros_like(diff, bool)
        inside[max(int(y) - 2, 0):int(y + h) + 2, max(int(x) - 2, 0):int(x + w) + 2] = True
        assert diff.sum() > 0 and diff[inside].sum() / diff.sum() > 0.9, name


def test_findings_labels_and_cardiomegaly_box():
    d = generate_chest_xrays(30, 1, 64, task="findings", seed=6, finding_prob=0.3)
    card = d["class_names"].index("Cardiomegaly")
    np.testing.assert_array_equal(d["labels_true"][:, card], d["ctr_true"] > 0.5)
    # Only the Cardiomegaly column carries label noise.
    other = np.arange(len(d["class_names"])) != card
    np.testing.assert_array_equal(d["labels"][:, other], d["labels_true"][:, other])
    assert (d["labels"].sum(1) >= 2).any() and (d["labels"].sum(1) <= 1).any()
    assert (d["labels"].sum(0) > 0).all()  # every finding occurs
    for lab, boxes, heart in zip(d["labels_true"], d["boxes"], d["heart_masks"]):
        names = {b[0] for b in boxes}
        assert names == {c for c, v in zip(d["class_names"], lab) if v}
        for b in boxes:
            assert b[1] >= 0 and b[2] >= 0 and b[1] + b[3] <= 64 and b[2] + b[4] <= 64
            if b[0] == "Cardiomegaly":
                cols, rows = np.flatnonzero(heart.any(0)), np.flatnonzero(heart.any(1))
                assert b[1:] == (cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1)


def test_measure_ctr_on_known_masks():
    heart = np.zeros((50, 100), np.uint8)
    lung = np.zeros((50, 100), np.uint8)
    heart[20:30, 40:60] = 1   # 20 wide
    lung[5:40, 10:30] = 1     # lungs from column 10 ...
    lung[5:40, 70:90] = 1     # ... to 89: 80 wide
    assert measure_ctr(heart, lung) == pytest.approx(0.25)
    assert measure_ctr(heart * 255, lung * 255) == pytest.approx(0.25)
    batch = measure_ctr(np.stack([heart, heart]), np.stack([lung, lung]))
    np.testing.assert_allclose(batch, [0.25, 0.25])
    assert np.isnan(measure_ctr(np.zeros_like(heart), lung))
    with pytest.raises(ValueError, match="same shape"):
        measure_ctr(heart, lung[:10])


ILL_CASES = [
    (dict(task="cardiomegally"), "Did you mean 'cardiomegaly'"),
    (dict(view="sideways"), "Received: view='sideways'"),
    (dict(size=16), "Received: size=16"),
    (dict(n_patients=0), "Received: n_patients=0"),
    (dict(images_per_patient=1.5), "images_per_patient"),
    (dict(normal_ctr=(0.4, 0.52)), "normal_ctr"),
    (dict(prevalence=1.5), "Received: prevalence=1.5"),
    (dict(task="findings", view="lateral"), "frontal views only"),
]


@pytest.mark.parametrize("kwargs,match", ILL_CASES)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        generate_chest_xrays(**{"n_patients": 2, "images_per_patient": 1, "size": 48, **kwargs})


def test_bad_patient_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="Received: task='ecg'"):
        sample_patient_params(rng, "ecg")
    with pytest.raises(ValueError, match="Received: label=4"):
        sample_patient_params(rng, "chd", 4)
    with pytest.raises(ValueError, match=r"label.shape=\(3,\)"):
        sample_patient_params(rng, "findings", [1, 0, 0])
    with pytest.raises(ValueError, match="Received: view='ap'"):
        render_phantom(sample_patient_params(rng), 64, rng, view="ap")
    with pytest.raises(ValueError, match="Received: workers=0"):
        generate_chest_xrays(2, 1, 48, workers=0)


def test_any_size():
    d = generate_chest_xrays(2, 1, 97, seed=0)
    assert d["images"].shape == (2, 97, 97, 1)
    assert (d["ctr"] > 0.3).all()


def test_figures(tmp_path):
    paths = save_chest_figures(tmp_path / "figs", seed=0, size=64, per_class=1)
    assert len(paths) == 5
    for p in paths:
        img = cv2.imread(str(p))
        assert img is not None and img.shape[0] >= 64 and img.std() > 10


@pytest.mark.slow
def test_workers_do_not_change_the_output():
    a = generate_chest_xrays(6, 2, 64, task="chd", view="both", seed=12, workers=1)
    b = generate_chest_xrays(6, 2, 64, task="chd", view="both", seed=12, workers=2)
    for key in ("images", "heart_masks", "lung_masks", "labels", "ctr"):
        np.testing.assert_array_equal(a[key], b[key])

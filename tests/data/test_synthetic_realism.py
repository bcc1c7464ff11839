"""Tests of the realistic cardiomegaly phantom: CTR distribution, label noise, AP films,
acquisition variation and the Bayes ceiling (heartcv.data.synthetic, issue 14)."""

import re

import numpy as np
import pytest

from heartcv.data.synthetic import bayes_ceiling, format_ceiling, generate_chest_xrays
from heartcv.data.synthetic.chest_options import DEFAULT_LABEL_NOISE, resolve_phantom_options
from heartcv.data.synthetic.chest_shapes import ctr_share_above, sample_ctr


@pytest.fixture(scope="module")
def realistic():
    """The default (realistic) phantom: 60 patients x 2 frontal images at 64 px."""
    return generate_chest_xrays(60, 2, 64, seed=3)


def test_ctr_distribution_matches_jsrt():
    rng = np.random.default_rng(0)
    c = np.array([sample_ctr(rng) for _ in range(4000)])
    # JSRT with SCR masks: mean 0.474, sd 0.056, 67 of 247 (0.27) above 0.5.
    assert c.mean() == pytest.approx(0.475, abs=0.004)
    assert c.std() == pytest.approx(0.056, abs=0.004)
    assert 0.26 < (c > 0.5).mean() < 0.34
    assert c.min() >= 0.33 and c.max() <= 0.72
    assert np.median(c) < c.mean()  # right-skewed, as measured CTRs are
    assert ctr_share_above() == pytest.approx((c > 0.5).mean(), abs=0.02)
    assert ctr_share_above(ctr_skew=0.0) == pytest.approx(0.328, abs=0.003)  # 1 - Phi(0.446)
    big = [sample_ctr(rng, True) for _ in range(300)]
    small = [sample_ctr(rng, False) for _ in range(300)]
    assert min(big) > 0.5 and max(small) <= 0.5
    bands = [sample_ctr(rng, True, ctr_distribution="bands") for _ in range(50)]
    assert 0.53 <= min(bands) and max(bands) <= 0.65


def test_default_phantom_labels_ctr_and_ap(realistic):
    d = realistic
    ct, pid = d["ctr_true"], d["patient_id"]
    for p in np.unique(pid):  # one true CTR (and true label) per patient
        assert len(np.unique(ct[pid == p])) == 1
    np.testing.assert_array_equal(d["labels_true"][:, 0], ct > 0.5)
    # Prevalence follows the distribution: round(0.3035 * 60) = 18 patients.
    assert (ct[::2] > 0.5).sum() == round(d["options"]["prevalence"] * 60) == 18
    assert 0.45 < ct.mean() < 0.50 and 0.35 < ct.min() and ct.max() < 0.72
    assert ((ct > 0.48) & (ct <= 0.5)).any() and ((ct > 0.5) & (ct < 0.52)).any()  # no margin
    ap = d["view_position"] == "AP"
    assert set(d["view_position"]) == {"AP", "PA"} and 0.2 < ap.mean() < 0.6
    # AP films magnify the heart by 1.10-1.15; PA films measure the true CTR to a pixel or so.
    ratio = d["ctr"] / ct
    assert 1.06 < ratio[ap].min() and ratio[ap].max() < 1.2
    assert np.abs(d["ctr"][~ap] - ct[~ap]).max() < 0.04
    # The ceiling: the exact CTR is perfect on the clean labels, not on the noisy ones.
    assert bayes_ceiling(ct, d["labels_true"], n_boot=0)["auroc"] == 1.0
    assert d["options"]["label_noise"] == DEFAULT_LABEL_NOISE


def test_label_noise_rates_and_stream():
    base = dict(n_patients=50, images_per_patient=2, size=32, seed=5)
    one_way = generate_chest_xrays(**base, label_noise=(0.5, 0.0))
    more = generate_chest_xrays(**base, label_noise=0.2)
    less = generate_chest_xrays(**base, label_noise=0.1)
    for d in (more, less):  # noise changes the labels and nothing else
        np.testing.assert_array_equal(d["images"], one_way["images"])
        np.testing.assert_array_equal(d["labels_true"], one_way["labels_true"])
    y, yt = one_way["labels"][:, 0], one_way["labels_true"][:, 0]
    assert (y[yt == 1] == 1).all()  # P(0 | 1) = 0
    assert 0.35 < (y[yt == 0] == 1).mean() < 0.65  # P(1 | 0) = 0.5
    flips_more = more["labels"] != more["labels_true"]
    flips_less = less["labels"] != less["labels_true"]
    assert flips_less.sum() < flips_more.sum() and not (flips_less & ~flips_more).any()


def test_bands_is_the_easy_phantom():
    d = generate_chest_xrays(30, 1, 48, seed=1, ctr_distribution="bands")
    np.testing.assert_array_equal(d["labels"], d["labels_true"])
    assert set(d["view_position"]) == {"PA"} and d["labels"].mean() == 0.5
    assert ((d["ctr_true"] < 0.47) | (d["ctr_true"] > 0.53)).all()
    o = resolve_phantom_options(normal_ctr=(0.4, 0.45))
    assert o["ctr"]["ctr_distribution"] == "bands" and o["label_noise"] == (0.0, 0.0)
    assert resolve_phantom_options("chd")["ap_prob"] == 0.0  # AP films: CTR tasks only


def test_prevalence_reweights_the_sides():
    d = generate_chest_xrays(20, 1, 32, seed=2, prevalence=0.5, label_noise=0.0)
    np.testing.assert_array_equal(d["labels"], d["labels_true"])
    assert d["labels"].sum() == 10 and (d["ctr_true"][d["labels"][:, 0] == 1] > 0.5).all()
    f = generate_chest_xrays(20, 1, 32, task="findings", seed=2, prevalence=1.0)
    card = f["class_names"].index("Cardiomegaly")
    assert (f["labels_true"][:, card] == 1).all() and (f["ctr_true"] > 0.5).all()


def test_heart_border_stays_visible_at_worst_acquisition():
    """At 96 px with the strongest default noise and blur the heart stays far brighter than
    the lung next to it (the phantom is learnable at 96 px)."""
    d = generate_chest_xrays(8, 1, 96, seed=4, noise=(0.03, 0.03), blur=(0.004, 0.004),
                             exposure=(1.5, 1.5))
    import cv2

    for img, h, lung in zip(d["images"][..., 0].astype(float), d["heart_masks"], d["lung_masks"]):
        texture = (img - cv2.GaussianBlur(img, (0, 0), 2.0))[lung > 0].std()  # noise + vessels
        contrast = img[h > 0].mean() - img[lung > 0].mean()  # measured: 67-104 grey levels
        assert contrast > 40 and contrast > 2.5 * texture


def test_acquisition_parameters_change_the_images():
    a = generate_chest_xrays(2, 1, 48, seed=0, rotation=0.0, shift=0.0, noise=(0.0, 0.0))
    b = generate_chest_xrays(2, 1, 48, seed=0, rotation=0.0, shift=0.0, noise=(0.0, 0.0))
    c = generate_chest_xrays(2, 1, 48, seed=0, rotation=0.0, shift=0.0, noise=(0.03, 0.03))
    np.testing.assert_array_equal(a["images"], b["images"])
    assert np.abs(a["images"].astype(float) - c["images"]).mean() > 1
    assert a["options"]["rotation"] == 0.0 and c["options"]["noise"] == (0.03, 0.03)


def test_bayes_ceiling_values():
    ctr = np.array([0.40, 0.45, 0.48, 0.52, 0.55, 0.60])
    y = np.array([0, 0, 0, 1, 1, 1])
    r = bayes_ceiling(ctr, y, n_boot=0)
    assert r["auroc"] == 1.0 and r["accuracy"] == 1.0 and r["auroc_ci"] is None
    y_noisy = np.array([0, 0, 1, 1, 1, 0])  # 0.48 called positive, 0.60 negative
    r = bayes_ceiling(ctr, y_noisy[:, None], n_boot=200, groups=[1, 1, 2, 2, 3, 3])
    # positives 0.48, 0.52, 0.55 vs negatives 0.40, 0.45, 0.60: 6 of 9 pairs ordered
    assert r["auroc"] == pytest.approx(6 / 9) and r["accuracy"] == pytest.approx(4 / 6)
    assert r["noise_rate"] == pytest.approx(2 / 6) and r["prevalence"] == 0.5
    lo, hi = r["auroc_ci"]
    assert lo <= r["auroc"] <= hi
    line = format_ceiling(r)
    assert re.match(r"Bayes ceiling \(exact CTR vs noisy label\): AUROC 0\.667 \[", line)


@pytest.mark.parametrize("args,match", [
    (([0.5, 0.6], [1, 0, 1]), "same length"),
    (([0.5, np.nan], [1, 0]), "finite"),
    (([0.5, 0.6], [1, 2]), "0/1"),
])
def test_bayes_ceiling_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        bayes_ceiling(*args, n_boot=0)


BAD = [
    (dict(ctr_distribution="normal"), "Received: ctr_distribution='normal'"),
    (dict(ctr_distribution="jsrt", normal_ctr=(0.4, 0.45)), "apply to ctr_distribution='bands'"),
    (dict(ctr_range=(0.55, 0.7)), "Received: ctr_range=(0.55, 0.7)"),
    (dict(ctr_sd=0.0), "Received: ctr_sd=0.0"),
    (dict(ctr_mean="big"), "Received: ctr_mean='big'"),
    (dict(label_noise=0.7), "Received: label_noise=0.7"),
    (dict(label_noise=(0.1, 0.2, 0.3)), "label_noise"),
    (dict(ap_prob=2), "Received: ap_prob=2"),
    (dict(prevalence=-0.1), "Received: prevalence=-0.1"),
    (dict(rotation=-1), "Received: rotation=-1"),
    (dict(noise=(0.1, 0.05)), "Received: noise=(0.1, 0.05)"),
    (dict(blur=0.01), "Expected `blur` as a pair"),
    (dict(window=((0.0, 0.95), (0.9, 1.0))), "black levels"),
    (dict(ap_magnification=(0.9, 1.1)), "ap_magnification"),
]


@pytest.mark.parametrize("kwargs,match", BAD)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        generate_chest_xrays(2, 1, 32, **kwargs)


def test_load_data_carries_ctr_true_and_the_ceiling():
    from heartcv.config import load_config
    from heartcv.data.sources import load_data

    base = ["data.n_patients=30", "data.image_size=32"]
    data = load_data(load_config(None, base + [
        "data.synthetic_options={label_noise: [0.0, 0.5], ap_prob: 0.0, noise: [0.01, 0.02]}"]
    ).data)
    test = data.splits["test"]
    assert test.ctr_true is not None and test.targets_true.shape == test.targets.shape
    np.testing.assert_array_equal(test.targets_true[:, 0], test.ctr_true > 0.5)
    c = data.ceiling("test")
    assert c["n"] == len(test) and c["auroc_ci"] is not None
    assert data.combined().ctr_true.shape == (60,)
    with pytest.raises(ValueError, match="Received: label_noise=0.9"):
        load_data(load_config(None, base + ["data.synthetic_options={label_noise: 0.9}"]).data)


def test_phantom_bundle_keeps_ctr_true(tmp_path):
    from heartcv.cli import main
    from heartcv.config import load_config
    from heartcv.data.sources import load_data

    out = tmp_path / "phantom.h5"
    assert main(["prep", "synthetic", "--out", str(out), "--n-patients", "30", "--size",
                 "32"]) == 0
    data = load_data(load_config(None, [f"data.source={out}"]).data)
    c = data.ceiling("test")
    assert c is not None and c["n"] == len(data.splits["test"]) and 0.5 < c["auroc"] <= 1.0


@pytest.mark.slow
def test_measured_ctr_reaches_the_ceiling():
    """Learnability: a logistic regression on the mask-measured CTR and the AP flag reaches
    the Bayes ceiling on held-out patients (and the raw measured CTR, fooled by AP films,
    falls short of it)."""
    from sklearn.linear_model import LogisticRegression

    from heartcv.evaluation.roc import auroc

    d = generate_chest_xrays(300, 2, 64, seed=7)
    y, ap = d["labels"][:, 0], (d["view_position"] == "AP").astype(float)
    pid = np.array([int(p[3:]) for p in d["patient_id"]])
    tr, te = pid % 3 != 0, pid % 3 == 0
    x = np.c_[d["ctr"], ap, d["ctr"] * ap]
    lr = LogisticRegression(C=100.0).fit(x[tr], y[tr])
    got = auroc(y[te], lr.decision_function(x[te]))
    ceiling = bayes_ceiling(d["ctr_true"][te], y[te], groups=pid[te], n_boot=500)
    assert 0.85 < ceiling["auroc"] < 0.99  # label noise keeps it below 1
    assert got > ceiling["auroc_ci"][0]
    assert auroc(y[te], d["ctr"][te]) < got

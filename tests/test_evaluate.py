"""Tests for heartcv.evaluate: hand-computed metrics, bootstrap CIs, DeLong, thresholds, figures."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from heartcv import evaluate as ev

# --------------------------------------------------------------------------- hand-computed

# 3-class example, N = 10. Rows = true class, columns = predicted class:
#   y_true = 0 0 0 | 1 1 1 | 2 2 2 2
#   y_pred = 0 0 1 | 1 1 2 | 2 2 0 1
#   cm = [[2, 1, 0],
#         [0, 2, 1],
#         [1, 1, 2]]
# class 0: TP=2, FP=col0-TP=3-2=1, FN=row0-TP=1, TN=10-2-1-1=6
#          precision 2/3, recall 2/3, F1 2*2/(4+1+1)=2/3, specificity 6/7, accuracy 8/10
# class 1: TP=2, FP=4-2=2, FN=1, TN=5
#          precision 1/2, recall 2/3, F1 4/(4+2+1)=4/7, specificity 5/7, accuracy 7/10
# class 2: TP=2, FP=3-2=1, FN=4-2=2, TN=5
#          precision 2/3, recall 1/2, F1 4/(4+1+2)=4/7, specificity 5/6, accuracy 7/10
# overall accuracy = trace/N = 6/10
# macro precision = (2/3 + 1/2 + 2/3)/3 = 11/18
# weighted precision (support 3, 3, 4) = (3*2/3 + 3*1/2 + 4*2/3)/10 = 37/60
# weighted recall = (2 + 2 + 2)/10 = 0.6 (= accuracy, as always)
# macro specificity = (6/7 + 5/7 + 5/6)/3
Y3 = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
P3 = np.array([0, 0, 1, 1, 1, 2, 2, 2, 0, 1])
S3 = np.full((10, 3), 0.2)
S3[np.arange(10), P3] = 0.6
NAMES3 = ["Normal", "VSD", "ASD"]


def test_multiclass_by_hand():
    r = ev.classification_report(Y3, S3, task="multiclass", class_names=NAMES3, auroc=False)
    assert r["confusion_matrix"] == [[2, 1, 0], [0, 2, 1], [1, 1, 2]]
    expect = {
        "Normal": (2 / 3, 2 / 3, 2 / 3, 6 / 7, 0.8, 3),
        "VSD": (1 / 2, 2 / 3, 4 / 7, 5 / 7, 0.7, 3),
        "ASD": (2 / 3, 1 / 2, 4 / 7, 5 / 6, 0.7, 4),
    }
    for name, (p, rec, f1, spec, acc, sup) in expect.items():
        pc = r["per_class"][name]
        assert pc["precision"] == pytest.approx(p)
        assert pc["recall"] == pytest.approx(rec)
        assert pc["f1"] == pytest.approx(f1)
        assert pc["specificity"] == pytest.approx(spec)
        assert pc["accuracy"] == pytest.approx(acc)
        assert pc["support"] == sup
    assert r["accuracy"] == pytest.approx(0.6)
    assert r["macro_avg"]["precision"] == pytest.approx(11 / 18)
    assert r["weighted_avg"]["precision"] == pytest.approx(37 / 60)
    assert r["weighted_avg"]["recall"] == pytest.approx(0.6)
    assert r["macro_avg"]["specificity"] == pytest.approx((6 / 7 + 5 / 7 + 5 / 6) / 3)
    assert r["threshold"] == {"value": None, "source": "argmax"}
    # one-hot y_true gives the same report
    onehot = np.eye(3)[Y3]
    r2 = ev.classification_report(onehot, S3, task="multiclass", class_names=NAMES3, auroc=False)
    assert r2["per_class"] == r["per_class"]


def test_multiclass_matches_sklearn_on_random_data():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 300)
    s = rng.dirichlet(np.ones(4), 300) + 0.3 * np.eye(4)[y]
    s /= s.sum(axis=1, keepdims=True)
    r = ev.classification_report(y, s, task="multiclass", n_boot=50)
    p, rec, f1, sup = precision_recall_fscore_support(y, s.argmax(1))
    names = r["class_names"]
    np.testing.assert_allclose([r["per_class"][n]["precision"] for n in names], p)
    np.testing.assert_allclose([r["per_class"][n]["recall"] for n in names], rec)
    np.testing.assert_allclose([r["per_class"][n]["f1"] for n in names], f1)
    macro = roc_auc_score(y, s, multi_class="ovr", average="macro")
    assert r["auroc"]["value"] == pytest.approx(macro)
    for k, n in enumerate(names):
        assert r["per_class"][n]["auroc"] == pytest.approx(roc_auc_score(y == k, s[:, k]))


# Binary, threshold 0.5, rule score >= t:
#   y = 0 0 0 0 1 1 1, s = .1 .4 .35 .8 .7 .3 .9 -> pred 0 0 0 1 1 0 1
#   positive class: TP=2 (.7, .9), FN=1 (.3), FP=1 (.8), TN=3
#   precision 2/3, recall 2/3, F1 2/3, specificity 3/4, NPV 3/4, accuracy 5/7
#   negative class: precision = NPV = 3/4, recall = specificity = 3/4, specificity = 2/3
# At t = 0.35 the case scoring exactly .35 is positive: TP=2, FP=3, FN=1, TN=1.
YB = np.array([0, 0, 0, 0, 1, 1, 1])
SB = np.array([0.1, 0.4, 0.35, 0.8, 0.7, 0.3, 0.9])


def test_binary_at_threshold_by_hand():
    r = ev.classification_report(
        YB,
        SB,
        task="binary",
        class_names=["Non-Cardio", "Cardio"],
        threshold=0.5,
        threshold_source="validation:youden",
        n_boot=20,
    )
    pos, neg = r["per_class"]["Cardio"], r["per_class"]["Non-Cardio"]
    assert (pos["tp"], pos["fp"], pos["fn"], pos["tn"]) == (2, 1, 1, 3)
    assert pos["precision"] == pytest.approx(2 / 3)
    assert pos["recall"] == pytest.approx(2 / 3)
    assert pos["f1"] == pytest.approx(2 / 3)
    assert pos["specificity"] == pytest.approx(3 / 4)
    assert pos["npv"] == pytest.approx(3 / 4)
    assert neg["precision"] == pytest.approx(3 / 4)
    assert neg["specificity"] == pytest.approx(2 / 3)
    assert r["accuracy"] == pytest.approx(5 / 7)
    assert r["confusion_matrix"] == [[3, 1], [1, 2]]
    assert r["threshold"] == {"value": 0.5, "source": "validation:youden"}
    assert r["auroc"]["value"] == pytest.approx(roc_auc_score(YB, SB))
    r35 = ev.classification_report(YB, SB, task="binary", threshold=0.35, auroc=False)
    p = r35["per_class"]["positive"]
    assert (p["tp"], p["fp"], p["fn"], p["tn"]) == (2, 3, 1, 1)
    assert r35["threshold"]["source"] == "caller"
    # (N, 1) and (N, 2) softmax inputs are the same problem
    softmax = np.stack([1 - SB, SB], 1)
    r2 = ev.classification_report(YB[:, None], softmax, task="binary", threshold=0.5, auroc=False)
    assert r2["per_class"]["positive"]["tp"] == 2


def test_binary_prevalence_in_report():
    r = ev.classification_report(
        YB, SB, task="binary", threshold=np.float32(0.5), prevalence=0.1, seed=np.int64(3), n_boot=9
    )
    assert json.loads(json.dumps(r, allow_nan=False))["prevalence"] == r["prevalence"]
    ppv, npv = ev.ppv_npv_at_prevalence(2 / 3, 3 / 4, 0.1)
    assert r["prevalence"]["ppv"] == pytest.approx(ppv)
    assert r["prevalence"]["npv"] == pytest.approx(npv)
    assert r["prevalence"]["sample_prevalence"] == pytest.approx(3 / 7)


# Multilabel, threshold 0.5, NaN = unknown:
#   y = [[1, 0], [0, nan], [1, 1], [nan, 0]], s = [[.9, .2], [.6, .9], [.4, .7], [.8, .6]]
#   label 0 (rows 0-2 known): y 1 0 1, pred 1 1 0 -> TP=1 FP=1 FN=1 TN=0:
#           precision 1/2, recall 1/2, specificity 0, support 2
#   label 1 (rows 0, 2, 3 known): y 0 1 0, pred 0 1 1 -> TP=1 FP=1 FN=0 TN=1:
#           precision 1/2, recall 1, F1 2/3, specificity 1/2, support 1
#   cxr14 accuracy = correct known entries / known entries = (1 + 2) / 6 = 0.5
#   (counting NaN as 0 would give 3/8)
YM = np.array([[1, 0], [0, np.nan], [1, 1], [np.nan, 0]])
SM = np.array([[0.9, 0.2], [0.6, 0.9], [0.4, 0.7], [0.8, 0.6]])


def test_multilabel_nan_ignored_by_hand():
    names = ["Cardiomegaly", "Edema"]
    r = ev.classification_report(YM, SM, task="multilabel", class_names=names, n_boot=20)
    a, b = r["per_class"]["Cardiomegaly"], r["per_class"]["Edema"]
    assert (a["tp"], a["fp"], a["fn"], a["tn"]) == (1, 1, 1, 0)
    assert a["precision"] == pytest.approx(0.5) and a["recall"] == pytest.approx(0.5)
    assert a["specificity"] == 0.0 and a["support"] == 2
    assert (b["tp"], b["fp"], b["fn"], b["tn"]) == (1, 1, 0, 1)
    assert b["f1"] == pytest.approx(2 / 3) and b["specificity"] == pytest.approx(0.5)
    assert r["confusion_matrix"]["Edema"] == [[1, 1], [0, 1]]
    assert r["accuracy"] == pytest.approx(0.5)
    assert any("unknown (NaN)" in n for n in r["notes"])
    # scores at unknown entries do not matter
    s2 = SM.copy()
    s2[1, 1], s2[3, 0] = 0.0, 0.0
    r2 = ev.classification_report(YM, s2, task="multilabel", class_names=names, n_boot=20)
    assert r2["per_class"] == r["per_class"]


def test_multilabel_accuracy_cxr14_definition():
    # 2 images x 3 labels; correct decisions: image 0: 2 of 3, image 1: 2 of 3 -> 4/6
    y = np.array([[1, 0, 0], [0, 1, 0]])
    pred = np.array([[1, 1, 0], [0, 1, 1]])
    assert ev.multilabel_accuracy(y, pred) == pytest.approx(4 / 6)
    assert ev.multilabel_accuracy(YM, SM) == pytest.approx(0.5)
    # per-label thresholds [.5, .95]: label 0 as above, 1 correct; label 1 predicts nothing
    # (known rows 0, 2, 3: y 0 1 0, pred 0 0 0): 2 correct -> 3/6
    assert ev.multilabel_accuracy(YM, SM, threshold=[0.5, 0.95]) == pytest.approx(3 / 6)
    # [.05, .95]: label 0 predicts all (y 1 0 1): 2 correct; label 1: 2 correct -> 4/6
    assert ev.multilabel_accuracy(YM, SM, threshold=[0.05, 0.95]) == pytest.approx(4 / 6)


def test_undefined_values_are_nan_with_note_and_json_safe():
    # label 1 has no positive: recall and AUROC undefined -> NaN, noted, no crash
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    s = np.array([[0.9, 0.1], [0.2, 0.2], [0.7, 0.3], [0.1, 0.4]])
    r = ev.classification_report(y, s, task="multilabel", n_boot=30, curves=True)
    assert math.isnan(r["per_class"]["class_1"]["recall"])
    assert math.isnan(r["per_class"]["class_1"]["auroc"])
    assert r["macro_avg"]["recall"] == pytest.approx(1.0)  # NaN left out of the mean
    assert r["auroc"]["value"] == pytest.approx(1.0)
    assert any("class_1" in n and "AUROC" in n for n in r["notes"])
    assert any("recall is undefined" in n for n in r["notes"])
    text = json.dumps(r)
    back = json.loads(text)
    assert back["per_class"]["class_0"] == r["per_class"]["class_0"]
    r0 = ev.classification_report(y, s, task="multilabel", n_boot=0, zero_division=0.0)
    assert r0["per_class"]["class_1"]["recall"] == 0.0


# --------------------------------------------------------------------------- bootstrap CIs


def _synthetic(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, rng.normal(size=n) + 1.0 * y


def test_bootstrap_ci_contains_estimate_and_shrinks_with_data():
    y, s = _synthetic(120, 0)
    small = ev.roc_analysis(y, s, task="binary", n_boot=400, seed=3)["per_class"]["positive"]
    y, s = _synthetic(3000, 0)
    big = ev.roc_analysis(y, s, task="binary", n_boot=400, seed=3)["per_class"]["positive"]
    for r in (small, big):
        assert r["ci"][0] < r["auroc"] < r["ci"][1]
        assert r["n_boot_used"] == 400
    assert big["ci"][1] - big["ci"][0] < 0.5 * (small["ci"][1] - small["ci"][0])


def test_bootstrap_seeded_and_skips_one_class_resamples():
    y, s = _synthetic(200, 1)
    a = ev.roc_analysis(y, s, task="binary", n_boot=200, seed=7, curves=False)
    b = ev.roc_analysis(y, s, task="binary", n_boot=200, seed=7, curves=False)
    c = ev.roc_analysis(y, s, task="binary", n_boot=200, seed=8, curves=False)
    assert a["per_class"] == b["per_class"]
    assert a["per_class"]["positive"]["ci"] != c["per_class"]["positive"]["ci"]
    # one positive in 12 cases: about (11/12)^12 = 35% of resamples hold no positive
    y1 = np.r_[1, np.zeros(11, int)]
    s1 = np.linspace(0, 1, 12)
    r = ev.roc_analysis(y1, s1, task="binary", n_boot=500, seed=0)["per_class"]["positive"]
    assert 100 < 500 - r["n_boot_used"] < 260
    assert r["ci"][0] <= r["auroc"] <= r["ci"][1]
    notes = ev.roc_analysis(y1, s1, task="binary", n_boot=50)["notes"]
    assert any("resamples had one class only" in n for n in notes)


def test_bootstrap_replicate_matches_explicit_resample():
    # the vectorised weighted AUROC equals sklearn on an explicit resample (ties included)
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.random(60), 1)
    idx = rng.integers(0, 60, 60)
    counts = np.bincount(idx, minlength=60)[:, None]
    from heartcv.evaluation.roc import weighted_auc

    assert weighted_auc(y == 1, s, counts)[0] == pytest.approx(roc_auc_score(y[idx], s[idx]))


# --------------------------------------------------------------------------- DeLong


def _delong_slow(y, sa, sb):
    """DeLong et al. 1988 straight from the definitions, O(m*n): placements and covariances."""
    y = np.asarray(y, bool)

    def psi(x, z):
        return (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])

    v10, v01, aucs = [], [], []
    for s in (sa, sb):
        p = psi(s[y], s[~y])  # (m, n)
        aucs.append(p.mean())
        v10.append(p.mean(axis=1))  # per positive
        v01.append(p.mean(axis=0))  # per negative
    m, n = y.sum(), (~y).sum()
    s10 = np.cov(np.array(v10))
    s01 = np.cov(np.array(v01))
    cov = s10 / m + s01 / n
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    z = (aucs[0] - aucs[1]) / np.sqrt(var)
    return aucs, cov, z, 2 * norm.sf(abs(z))


def test_delong_matches_slow_reference_and_sklearn():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 150)
    sa = np.round(rng.normal(size=150) + 1.2 * y, 1)  # rounding makes ties
    sb = np.round(0.6 * sa + rng.normal(size=150) * 0.8, 1)
    res = ev.delong_test(y, sa, sb, names=("AMM", "GAP"))
    aucs, cov, z, p = _delong_slow(y, sa, sb)
    assert res["auc_a"] == pytest.approx(roc_auc_score(y, sa))
    assert res["auc_b"] == pytest.approx(roc_auc_score(y, sb))
    assert res["auc_a"] == pytest.approx(aucs[0]) and res["auc_b"] == pytest.approx(aucs[1])
    fast_aucs, fast_cov = ev.delong_covariance(y == 1, np.stack([sa, sb]))
    np.testing.assert_allclose(fast_cov, cov, rtol=1e-10)
    assert res["z"] == pytest.approx(z, rel=1e-9)
    assert res["p_value"] == pytest.approx(p, rel=1e-9)
    assert res["difference"] == pytest.approx(aucs[0] - aucs[1])
    half = norm.ppf(0.975) * res["se"]
    assert res["ci"] == pytest.approx([res["difference"] - half, res["difference"] + half])
    assert (res["model_a"], res["model_b"]) == ("AMM", "GAP")
    auc, var = ev.delong_roc_variance(y, sa)
    assert auc == pytest.approx(aucs[0]) and var == pytest.approx(cov[0, 0])


def test_delong_identical_models_p_is_one():
    y, s = _synthetic(100, 2)
    res = ev.delong_test(y, s, s)
    assert res["difference"] == 0.0 and res["p_value"] == 1.0 and res["z"] == 0.0
    # a monotone transform ranks the cases identically: same AUROC, p = 1
    res2 = ev.delong_test(y, s, np.exp(s))
    assert res2["difference"] == pytest.approx(0.0, abs=1e-12)
    assert res2["p_value"] == pytest.approx(1.0)
    boot = ev.paired_bootstrap_test(y, s, s, n_boot=50)
    assert boot["difference"] == 0.0 and boot["p_value"] == 1.0


def test_paired_bootstrap_agrees_with_delong():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 400)
    sa = rng.normal(size=400) + 1.0 * y
    sb = sa + rng.normal(size=400)
    d = ev.delong_test(y, sa, sb)
    b = ev.paired_bootstrap_test(y, sa, sb, n_boot=1000, seed=0)
    assert b["difference"] == pytest.approx(d["difference"])
    assert b["se"] == pytest.approx(d["se"], rel=0.15)
    assert b["ci"][0] < b["difference"] < b["ci"][1]
    assert b["n_boot_used"] == 1000
    assert b == ev.paired_bootstrap_test(y, sa, sb, n_boot=1000, seed=0)


# --------------------------------------------------------------------------- PPV/NPV, thresholds


def test_ppv_npv_at_prevalence_by_hand():
    # PPV = .9*.1 / (.9*.1 + .2*.9) = .09/.27 = 1/3; NPV = .8*.9 / (.8*.9 + .1*.1) = .72/.73
    ppv, npv = ev.ppv_npv_at_prevalence(0.9, 0.8, 0.1)
    assert ppv == pytest.approx(1 / 3) and npv == pytest.approx(0.72 / 0.73)
    assert npv == pytest.approx(0.98630, abs=1e-5)
    # chd-xray-vgg-unet paper's example: sens = spec = 0.8, prevalence 0.0074
    ppv, _ = ev.ppv_npv_at_prevalence(0.8, 0.8, 0.0074)
    assert ppv == pytest.approx(0.0074 * 0.8 / (0.0074 * 0.8 + 0.9926 * 0.2))
    assert ppv == pytest.approx(0.028957, abs=1e-6)
    # prevalence 0: no true positives, PPV = 0, NPV = 1; with specificity 1 too, PPV is 0/0
    ppv, npv = ev.ppv_npv_at_prevalence([0.9, 0.9, 0.9], [0.8, 0.8, 1.0], [0.1, 0.0, 0.0])
    assert ppv[0] == pytest.approx(1 / 3) and ppv[1] == 0.0 and npv[1] == 1.0 and math.isnan(ppv[2])


# y = 0 0 1 0 1 1 1, s = .1 .3 .35 .4 .6 .8 .9 (P=4, N=3), rule s >= t:
#   t   TP FP  sens  1-spec  J      F1 = 2TP/(2TP+FP+FN)
#  .9   1  0   1/4   0       .250   2/5
#  .8   2  0   2/4   0       .500   4/6
#  .6   3  0   3/4   0       .750   6/7 = .857
#  .4   3  1   3/4   1/3     .417   6/8
#  .35  4  1   1     1/3     .667   8/9 = .889
#  .3   4  2   1     2/3     .333   8/10
#  .1   4  3   1     1       0      8/11
# -> Youden picks .6, F1 picks .35
YT = np.array([0, 0, 1, 0, 1, 1, 1])
ST = np.array([0.1, 0.3, 0.35, 0.4, 0.6, 0.8, 0.9])


def test_choose_threshold_by_hand():
    assert ev.choose_threshold(YT, ST, method="youden") == pytest.approx(0.6)
    assert ev.choose_threshold(YT, ST, method="f1") == pytest.approx(0.35)
    assert ev.choose_threshold(YT, ST, method="fixed", value=0.3) == 0.3
    # without the .9 case (P=3, N=3) J = 2/3 at both .6 and .35: the tie goes to the higher one
    assert ev.choose_threshold(YT[:-1], ST[:-1], method="youden") == pytest.approx(0.6)
    both = ev.choose_threshold(np.stack([YT, YT], 1), np.stack([ST, ST], 1))
    assert both == pytest.approx([0.6, 0.6])
    y = np.stack([YT, np.r_[np.nan, np.zeros(6)]], 1).astype(float)
    out = ev.choose_threshold(y, np.stack([ST, ST], 1))
    assert out[0] == pytest.approx(0.6) and math.isnan(out[1])


# --------------------------------------------------------------------------- errors, figures

ILL_CASES = [
    (lambda: ev.classification_report(YB, SB, task="multi-class"), "Did you mean 'multiclass'"),
    (lambda: ev.classification_report(Y3, S3, task="multiclass", threshold=0.5), "threshold"),
    (
        lambda: ev.classification_report(YB, SB, task="binary", class_names=["a", "b", "c"]),
        "class_names",
    ),
    (lambda: ev.classification_report(np.r_[YB[:-1], np.nan], SB, task="binary"), "NaN labels"),
    (lambda: ev.classification_report(YB, SB[:-1], task="binary"), "same number of samples"),
    (lambda: ev.classification_report(YB, SB, task="binary", prevalence=1.5), "prevalence"),
    (
        lambda: ev.classification_report(YM, SM, task="multilabel", threshold=[0.5, 0.5, 0.5]),
        "threshold",
    ),
    (lambda: ev.ppv_npv_at_prevalence(1.2, 0.8, 0.1), "sensitivity"),
    (lambda: ev.choose_threshold(YT, ST, method="yuoden"), "Did you mean 'youden'"),
    (lambda: ev.choose_threshold(np.zeros(5), ST[:5]), "both classes"),
    (lambda: ev.delong_test(np.zeros(5), ST[:5], ST[:5]), "both classes"),
    (lambda: ev.roc_analysis(YB, SB, task="binary", ci=95), "ci"),
    (
        lambda: ev.plot_confusion_matrix([[1, 2], [3, 4]], ["a", "b"], "x.png", normalize="rows"),
        "normalize",
    ),
]


@pytest.mark.parametrize("call,message", ILL_CASES)
def test_illegal_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_figures_written_atomically(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 90)
    s = rng.dirichlet(np.ones(3), 90) + 0.5 * np.eye(3)[y]
    roc = ev.roc_analysis(y, s, task="multiclass", class_names=NAMES3, n_boot=50)
    p1 = ev.plot_roc(roc["curves"], tmp_path / "figs" / "roc.png", title="ROC")
    p2 = ev.plot_roc(roc, tmp_path / "roc_ci.png")
    r = ev.classification_report(y, s, task="multiclass", class_names=NAMES3, auroc=False)
    p3 = ev.plot_confusion_matrix(r["confusion_matrix"], NAMES3, tmp_path / "cm.png")
    p4 = ev.plot_confusion_matrix(
        r["confusion_matrix"], NAMES3, tmp_path / "cm_norm.png", normalize="true"
    )
    for p in (p1, p2, p3, p4):
        assert _is_png(p)
    leftovers = [f.name for f in tmp_path.rglob("*") if f.is_file() and f.name.startswith(".")]
    assert leftovers == []


# ------------------------------------------------------ trained models on bundles, stated size

def _fcn(channels=1, fixed=None):
    """A tiny fully convolutional binary classifier (or one of fixed input size)."""
    import keras

    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((fixed, fixed, channels), name="image")
    x = keras.layers.Rescaling(1 / 255)(x)
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    """20 grey 24-px images, brightness = label, splits interleaved (test rows not contiguous)."""
    from heartcv.data.bundle import write_bundle

    rng = np.random.default_rng(0)
    y = np.tile([0.0, 1.0], 10)
    images = (rng.random((20, 24, 24, 1)) * 100 + 100 * y[:, None, None, None]).astype(np.uint8)
    split = np.array(["train", "test", "val", "test", "test"] * 4)
    path = tmp_path_factory.mktemp("bundle") / "tiny.h5"
    write_bundle(path, images, labels=y[:, None], patient_id=[f"p{i}" for i in range(20)],
                 split=split, class_names=["Cardiomegaly"], task="binary", source="test")
    return path, images, y, split


def test_predict_bundle_full_size_streams_the_split_in_chunks(tiny_bundle):
    path, images, y, split = tiny_bundle
    model = _fcn()
    p = ev.predict_bundle(model, path, "test", "full", batch_size=3, chunk=4)
    test = np.flatnonzero(split == "test")
    want = model.predict(images[test].astype(np.float32), verbose=0)
    np.testing.assert_allclose(p["scores"], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(p["targets"][:, 0], y[test])
    assert (p["image_size"], p["image_size_mode"], p["image_size_source"]) \
        == ((24, 24), "full", "option")
    assert p["class_names"] == ["not Cardiomegaly", "Cardiomegaly"]


def test_evaluate_bundle_says_its_size_and_matches_the_report(tiny_bundle, tmp_path):
    path, images, y, split = tiny_bundle
    model = _fcn()
    full = ev.evaluate_bundle(model, path, image_size="full", out_dir=tmp_path / "full")
    p = ev.predict_bundle(model, path, "test", "full")
    assert full["auroc"]["value"] == pytest.approx(ev.auroc(p["targets"][:, 0], p["scores"][:, 0]))
    assert (full["image_size"], full["image_size_mode"]) == (24, "full")
    assert full["image_size_label"] == "full size, 24 px" and full["n_samples"] == 12
    assert "full size, 24 px" in (tmp_path / "full" / "report.md").read_text()
    assert json.loads((tmp_path / "full" / "metrics.json").read_text())["image_size"] == 24
    small = ev.evaluate_bundle(model, path, image_size=12)
    assert (small["image_size"], small["image_size_mode"], small["image_size_label"]) \
        == (12, "resized", "12 px")


def test_a_bundle_smaller_than_its_source_images_is_not_called_full_size(tiny_bundle, tmp_path):
    from heartcv.data.bundle import write_bundle

    _, images, y, split = tiny_bundle
    path = tmp_path / "from96.h5"  # as `heartcv prep` records the size of the images on disk
    write_bundle(path, images, labels=y[:, None], patient_id=[f"p{i}" for i in range(20)],
                 split=split, class_names=["Cardiomegaly"], task="binary", source="test",
                 meta={"src_height": [96] * 20, "src_width": [96] * 20})
    res = ev.evaluate_bundle(_fcn(), path, image_size="full")
    assert (res["image_size_mode"], res["source_image_size"]) == ("bundle", 96)
    assert res["image_size_label"] == "24 px (bundle side; source images 96 px)"


def test_evaluate_bundle_refuses_what_it_cannot_measure(tiny_bundle, tmp_path):
    from heartcv.data.bundle import write_bundle

    path = tiny_bundle[0]
    with pytest.raises(ValueError, match=r"tiny.h5: no split 'nosuch'"):
        ev.evaluate_bundle(_fcn(), path, "nosuch")
    with pytest.raises(ValueError, match=r"full needs a fully convolutional model"):
        ev.evaluate_bundle(_fcn(fixed=16), path, image_size="full")
    with pytest.raises(ValueError, match=r"image_size"):
        ev.evaluate_bundle(_fcn(), path, image_size="half")
    seg = tmp_path / "seg.h5"
    write_bundle(seg, np.zeros((2, 8, 8, 1), np.uint8), masks=np.zeros((2, 8, 8), np.uint8),
                 patient_id=["a", "b"], split=["test", "test"], task="segmentation", source="t")
    with pytest.raises(ValueError, match=r"seg.h5: a segmentation bundle"):
        ev.evaluate_bundle(_fcn(), seg)


def test_cli_evaluate_image_size_full(tiny_bundle, tmp_path, capsys):
    from heartcv.cli import main

    model_path = tmp_path / "m.keras"
    _fcn().save(model_path)
    assert main(["evaluate", str(model_path), "--data", str(tiny_bundle[0]), "--image-size", "full",
                 "--out", str(tmp_path / "ev")]) == 0
    out = capsys.readouterr().out
    assert "test at full size, 24 px (option): test AUROC" in out
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert (m["image_size"], m["image_size_mode"], m["n_samples"]) == (24, "full", 12)


@pytest.mark.slow
def test_full_resolution_cxr14_test_bundle(tmp_path, capsys):
    """`heartcv prep cxr14 --size 1024 --splits test` on the NIH sample, then a tiny fully
    convolutional model evaluated on it at 1024 px (the paper's full-resolution test)."""
    from heartcv.cli import main
    from heartcv.data.bundle import open_bundle

    nih = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nih_cxr14"
    if not (nih / "images").is_dir():
        pytest.skip(f"NIH ChestX-ray14 sample not found at {nih}")
    out = tmp_path / "test_1024.h5"
    assert main(["prep", "cxr14", "--raw", str(nih), "--out", str(out), "--size", "1024",
                 "--splits", "test", "--view", "cardiomegaly", "--workers", "1",
                 "--no-progress"]) == 0
    with open_bundle(out) as b:
        assert b.images.shape[1:3] == (1024, 1024) and set(b.split) == {"test"}
        n = len(b.split)
    assert n >= 5
    res = ev.evaluate_bundle(_fcn(channels=3), out, image_size="full", batch_size=2)
    assert (res["image_size"], res["image_size_label"], res["n_samples"]) \
        == (1024, "full size, 1024 px", n)
    assert 0.0 <= res["auroc"]["value"] <= 1.0


def test_roc_curves_of_fourteen_labels_are_told_apart(tmp_path, monkeypatch):
    """ChestX-ray14's 14 labels: no two curves share a colour and a line style."""
    from heartcv.evaluation import plots

    figs = []
    real = plots.atomic_save_figure
    monkeypatch.setattr(plots, "atomic_save_figure",
                        lambda fig, path, **kw: figs.append(fig) or real(fig, path, **kw))
    curves = {f"label{i}": {"fpr": [0, 0.5, 1], "tpr": [0, 0.6 + i / 100, 1], "auc": 0.6}
              for i in range(14)}
    assert plots.plot_roc(curves, tmp_path / "roc.png").is_file()
    lines = [ln for ln in figs[0].axes[0].get_lines() if ln.get_label().startswith("label")]
    assert len(lines) == 14
    styles = {(ln.get_color(), ln.get_linestyle()) for ln in lines}
    assert len(styles) == 14

"""Patient-wise splits, folds and the leakage check."""

import numpy as np
import pandas as pd
import pytest

from heartcv.data.splits import (
    LeakageError,
    assert_disjoint,
    assign_folds,
    leakage_report,
    patient_kfold,
    patient_split,
)


def _cohort(n_patients=400, seed=0, positive_rate=0.15):
    """Patients with 1-6 images each; a patient's images share its (binary) label mostly."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 7, n_patients)
    pids = np.repeat([f"P{i:04d}" for i in range(n_patients)], counts)
    sick = np.repeat(rng.random(n_patients) < positive_rate, counts)
    y = (sick & (rng.random(len(pids)) < 0.8)).astype(int)
    order = rng.permutation(len(pids))  # rows not grouped by patient
    return pids[order], y[order]


def _patients_by_split(pids, split):
    return {s: set(pids[split == s]) for s in np.unique(split)}


@pytest.mark.parametrize("seed", range(5))
def test_patient_split_disjoint_and_fractions(seed):
    pids, _ = _cohort(seed=seed)
    split = patient_split(pids, seed=seed)
    assert split.shape == pids.shape and set(split) == {"train", "val", "test"}
    sets = _patients_by_split(pids, split)
    assert not sets["train"] & sets["val"] and not sets["train"] & sets["test"]
    assert not sets["val"] & sets["test"]
    for name, frac in {"train": 0.72, "val": 0.08, "test": 0.2}.items():
        assert abs((split == name).mean() - frac) < 0.02, name
    assert_disjoint(pids, split)


def test_split_is_reproducible_and_seed_dependent():
    pids, _ = _cohort()
    a = patient_split(pids, seed=3)
    np.testing.assert_array_equal(a, patient_split(pids, seed=3))
    assert not np.array_equal(a, patient_split(pids, seed=4))
    # depends on the patients, not on the row order
    perm = np.random.default_rng(0).permutation(len(pids))
    b = patient_split(pids[perm], seed=3)
    np.testing.assert_array_equal(b, a[perm])


def test_custom_fractions_and_pandas_input():
    pids, _ = _cohort(n_patients=300)
    split = patient_split(pd.Series(pids), {"train": 0.5, "test": 0.5}, seed=0)
    assert set(split) == {"train", "test"}
    assert abs((split == "train").mean() - 0.5) < 0.02


def test_stratified_split_keeps_both_classes_everywhere():
    pids, y = _cohort(n_patients=200, positive_rate=0.08, seed=1)
    for seed in range(5):
        split = patient_split(pids, seed=seed, stratify=y)
        overall = y.mean()
        for name in ("train", "val", "test"):
            ys = y[split == name]
            assert set(ys) == {0, 1}, (seed, name)
            if name != "val":
                assert abs(ys.mean() - overall) < 0.04, (seed, name, ys.mean(), overall)
        assert_disjoint(pids, split)


def test_stratification_helps_rare_class():
    """With few positive patients, stratification puts positives in every split."""
    pids = np.asarray([f"P{i:03d}" for i in range(100)])
    y = np.zeros(100, int)
    y[:4] = 1  # 4 positive patients, 3 splits
    for seed in range(10):
        split = patient_split(pids, seed=seed, stratify=y)
        assert {s for s in split[y == 1]} == {"train", "val", "test"}


@pytest.mark.parametrize("k", [2, 5])
def test_kfold_covers_every_sample_once(k):
    pids, y = _cohort(n_patients=150)
    folds = patient_kfold(pids, k, seed=0, stratify=y)
    assert len(folds) == k
    seen = np.concatenate([test for _, test in folds])
    np.testing.assert_array_equal(np.sort(seen), np.arange(len(pids)))
    for train, test in folds:
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(pids)
        assert not set(pids[train]) & set(pids[test])
        assert set(y[test]) == {0, 1}
        assert abs(len(test) / len(pids) - 1 / k) < 0.03
    fold_of = assign_folds(pids, k, seed=0, stratify=y)
    for i, (_, test) in enumerate(folds):
        np.testing.assert_array_equal(np.flatnonzero(fold_of == i), test)


def test_planted_leak_is_named():
    pids = np.asarray(["P001", "P002", "P003", "P007", "P001", "P007", "P012", "P012"])
    split = np.asarray(["train", "train", "val", "train", "test", "test", "val", "test"])
    with pytest.raises(LeakageError) as info:
        assert_disjoint(pids, split)
    msg = str(info.value)
    assert msg == (
        "3 patients appear in more than one split (train/test, val/test): P001, P007, P012"
    )
    assert info.value.patients == ["P001", "P007", "P012"]
    assert info.value.shared == {"train/test": ["P001", "P007"], "val/test": ["P012"]}
    assert isinstance(info.value, ValueError)


def test_leak_in_mapping_form_and_unassigned_ignored():
    expected = r"1 patient appears in more than one split \(train/val\): b"
    with pytest.raises(LeakageError, match=expected):
        assert_disjoint({"train": ["a", "b"], "val": ["b", "c"], "test": ["d"]})
    # "" = unassigned rows do not count as a split
    assert_disjoint(["a", "a", "b"], ["train", "", "test"])
    many = [f"P{i}" for i in range(15)]
    with pytest.raises(LeakageError, match=r"15 patients .*\(5 more\)"):
        assert_disjoint({"train": many, "test": many})


def test_leakage_report_is_data():
    report = leakage_report(["a", "b", "c", "a", "d"], ["train", "train", "val", "test", "test"])
    assert report["splits"] == {
        "train": {"patients": 2, "samples": 2},
        "val": {"patients": 1, "samples": 1},
        "test": {"patients": 2, "samples": 2},
    }
    assert report["shared"] == {"train/val": [], "train/test": ["a"], "val/test": []}
    assert report["leaking"] == ["a"]


ILL_CASES = [
    (dict(fractions={"train": 0.7, "test": 0.2}), ValueError, r"sum to 1.*sum 0.9"),
    (dict(fractions={"train": 1.2, "test": -0.2}), ValueError, r"in \[0, 1\]"),
    (dict(seed=None), TypeError, "seed=None"),
    (dict(seed=1.5), TypeError, "seed=1.5"),
    (dict(patient_ids=["a", None, "b"]), ValueError, "1 are missing"),
    (dict(patient_ids="abc"), TypeError, "sequence of ids"),
    (dict(stratify=[0, 1]), ValueError, "one entry per image"),
    (dict(stratify=np.zeros((3, 2))), ValueError, "1-D"),
    (dict(stratify=[0.0, np.nan, 1.0]), ValueError, "NaN"),
]


@pytest.mark.parametrize("kwargs,exc,match", ILL_CASES)
def test_patient_split_rejects(kwargs, exc, match):
    args = dict(patient_ids=["a", "b", "c"], seed=0)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        patient_split(**args)


def test_kfold_rejects_bad_k():
    with pytest.raises(ValueError, match=r"k=4"):
        patient_kfold(["a", "b", "c"], 4, seed=0)
    with pytest.raises(ValueError, match=r"k=1"):
        assign_folds(["a", "b", "c"], 1, seed=0)

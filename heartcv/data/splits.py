"""Patient-wise splits, k folds and the leakage check.

Every image of a patient goes to one split (or one fold): images of the same patient are
strongly correlated, and splitting by image leaks the test set into training (Rajpurkar et
al., CheXNet, 2017, split NIH ChestX-ray14 by patient for this reason; the cxr14 paper checks
it with a set intersection, :func:`leakage_report`). Splits are drawn from an explicit
``seed`` by a deterministic greedy assignment, never by ``shuffle().take()``.

Algorithm (``patient_split`` and ``assign_folds``): the unique patients (sorted, so the
result does not depend on row order) are permuted with ``np.random.default_rng(seed)``.
Within each stratum, one patient is first placed in every split with a positive fraction
(while patients remain), then each further patient goes to the split whose sample count is
furthest below its target (fraction x samples of the stratum). Fractions are thus honoured
in *images*, to within about one patient's image count per stratum.

With ``stratify`` (per-image class labels), a patient's stratum is the globally rarest class
among its images, so rare classes are spread over all splits (with at least one patient of
each class in each split when a class has at least as many patients as there are splits).

Reference:
    Rajpurkar et al., "CheXNet: Radiologist-level pneumonia detection on chest X-rays with
    deep learning", arXiv:1711.05225 (2017).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from heartcv.data.bundle import open_bundle
from heartcv.registry import did_you_mean

__all__ = [
    "DEFAULT_FRACTIONS",
    "LeakageError",
    "patient_split",
    "assign_folds",
    "patient_kfold",
    "assert_disjoint",
    "leakage_report",
]

DEFAULT_FRACTIONS = {"train": 0.72, "val": 0.08, "test": 0.2}
_ORDER = ("train", "val", "test")


class LeakageError(ValueError):
    """Some patients appear in more than one split.

    Attributes:
        patients: sorted list of the leaking patient ids.
        shared: mapping ``"a/b"`` -> sorted patient ids shared by splits ``a`` and ``b``.
    """

    def __init__(self, message, patients, shared):
        super().__init__(message)
        self.patients = patients
        self.shared = shared


def _patient_array(patient_ids, name="patient_ids"):
    if isinstance(patient_ids, (str, bytes)):
        raise TypeError(f"Expected `{name}` to be a sequence of ids. Received: "
                        f"{name}={patient_ids!r}")
    arr = np.asarray(patient_ids, dtype=object)
    if arr.ndim != 1 or len(arr) == 0:
        raise ValueError(f"Expected `{name}` to be a non-empty 1-D sequence. Received: "
                         f"shape={arr.shape}")
    missing = [i for i, v in enumerate(arr) if v is None or (isinstance(v, float) and np.isnan(v))
               or str(v) == ""]
    if missing:
        raise ValueError(
            f"Expected every patient id to be present; {len(missing)} are missing/empty "
            f"(first at position {missing[0]}). Received: {name}[{missing[0]}]={arr[missing[0]]!r}"
        )
    return np.asarray([str(v) for v in arr], dtype=str)


def _check_seed(seed):
    if seed is None or isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError("Expected `seed` to be an int (splits must be reproducible). Received: "
                        f"seed={seed!r}")


def _strata(inverse, n_groups, stratify, n):
    """Per-patient stratum: the rank of the globally rarest class among its images."""
    if stratify is None:
        return np.zeros(n_groups, dtype=np.int64)
    y = np.asarray(stratify)
    if y.ndim != 1:
        raise ValueError(
            "Expected `stratify` to be 1-D (one class per image; pass one label column for "
            f"multi-label data). Received: stratify.shape={y.shape}"
        )
    if len(y) != n:
        raise ValueError(f"Expected `stratify` to have one entry per image ({n}). Received: "
                         f"len={len(y)}")
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError("Expected `stratify` without NaN (unknown labels). Received: NaN values")
    classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    rank_of_class = np.empty(len(classes), dtype=np.int64)
    rank_of_class[np.lexsort((np.arange(len(classes)), counts))] = np.arange(len(classes))
    sample_rank = rank_of_class[y_idx]
    out = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, inverse, sample_rank)
    return out


def _greedy(sizes, strata, weights, rng):
    """Assign groups (patients) to bins (splits/folds); returns the bin of each group."""
    weights = np.asarray(weights, dtype=float)
    positive = np.flatnonzero(weights > 0)
    tie = rng.random(len(weights))
    out = np.full(len(sizes), -1, dtype=np.int64)
    perm = rng.permutation(len(sizes))
    overall = np.zeros(len(weights))  # samples per bin over the strata done so far

    def overall_deficit(bins):
        return weights[bins] * max(overall.sum(), 1.0) - overall[bins]

    for s in np.unique(strata):
        members = perm[strata[perm] == s]
        target = weights * sizes[members].sum()
        current = np.zeros(len(weights))
        # larger fractions first; among equal ones (k folds) the least filled overall first
        seed_order = sorted(positive, key=lambda b: (-weights[b], -overall_deficit([b])[0], tie[b]))
        for j, g in enumerate(members):
            if j < len(seed_order):
                b = seed_order[j]
            else:
                deficit = target[positive] - current[positive]
                cand = positive[deficit >= deficit.max() - 1e-9]
                b = cand[int(np.argmax(overall_deficit(cand)))] if len(cand) > 1 else cand[0]
            out[g] = b
            current[b] += sizes[g]
        overall += current
    return out


def patient_split(patient_ids, fractions=None, *, seed, stratify=None):
    """Split samples by patient.

    Args:
        patient_ids: one patient id per sample.
        fractions: mapping split name -> fraction of samples; values in [0, 1] summing to 1.
            Default ``{"train": 0.72, "val": 0.08, "test": 0.2}``.
        seed: int; the split is a pure function of (patients, image counts, labels, seed).
        stratify: optional per-sample class labels (binary or class ints) to balance classes
            across splits at the patient level.

    Returns:
        A str array with the split name of each sample.

    Example:
        >>> split = patient_split(df["patient_id"], seed=0, stratify=df["Cardiomegaly"])
    """
    _check_seed(seed)
    fractions = dict(DEFAULT_FRACTIONS if fractions is None else fractions)
    if not fractions:
        raise ValueError("Expected at least one split in `fractions`. Received: fractions={}")
    for name, frac in fractions.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"Expected split names to be non-empty strings. Received: {name!r}")
        if not np.isfinite(frac) or not 0 <= frac <= 1:
            raise ValueError("Expected each fraction in [0, 1]. Received: "
                             f"fractions[{name!r}]={frac!r}")
    total = float(sum(fractions.values()))
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"Expected `fractions` to sum to 1. Received: fractions={fractions} (sum "
                         f"{total:g})")
    pids = _patient_array(patient_ids)
    groups, inverse, sizes = np.unique(pids, return_inverse=True, return_counts=True)
    strata = _strata(inverse, len(groups), stratify, len(pids))
    rng = np.random.default_rng(seed)
    bins = _greedy(sizes, strata, list(fractions.values()), rng)
    names = np.asarray(list(fractions), dtype=str)
    return names[bins[inverse]]


def assign_folds(patient_ids, k, *, seed, stratify=None):
    """Assign each sample to one of ``k`` patient-disjoint folds.

    Returns:
        An int array (values ``0 .. k-1``), one per sample.
    """
    _check_seed(seed)
    pids = _patient_array(patient_ids)
    groups, inverse, sizes = np.unique(pids, return_inverse=True, return_counts=True)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= len(groups):
        raise ValueError(f"Expected `k` to be an int in [2, {len(groups)}] (number of patients). "
                         f"Received: k={k!r}")
    strata = _strata(inverse, len(groups), stratify, len(pids))
    rng = np.random.default_rng(seed)
    bins = _greedy(sizes, strata, [1.0 / k] * k, rng)
    return bins[inverse]


def patient_kfold(patient_ids, k, *, seed, stratify=None):
    """Patient-disjoint k-fold cross-validation indices.

    Returns:
        A list of ``k`` ``(train_idx, test_idx)`` pairs of sorted int arrays; every sample is in
        exactly one ``test_idx``.
    """
    folds = assign_folds(patient_ids, k, seed=seed, stratify=stratify)
    return [(np.flatnonzero(folds != i), np.flatnonzero(folds == i)) for i in range(k)]


def _split_sets(patient_ids, split):
    if split is None:
        if not isinstance(patient_ids, Mapping):
            raise TypeError(
                "Expected `patient_ids` and `split` arrays, or a mapping split name -> "
                f"patient ids. Received: patient_ids of type {type(patient_ids).__name__} "
                "and split=None"
            )
        sets = {str(k): {str(p) for p in v} for k, v in patient_ids.items()}
        counts = {str(k): len(list(v)) for k, v in patient_ids.items()}
    else:
        pids = _patient_array(patient_ids)
        spl = np.asarray(["" if s is None or (isinstance(s, float) and np.isnan(s)) else str(s)
                          for s in np.asarray(split, dtype=object)], dtype=str)
        if spl.shape != pids.shape:
            raise ValueError(
                f"Expected `split` to have one entry per sample ({len(pids)}). Received: "
                f"len(split)={len(spl)}"
            )
        sets, counts = {}, {}
        for name in np.unique(spl):
            sel = spl == name
            sets[str(name)] = set(np.unique(pids[sel]).tolist())
            counts[str(name)] = int(sel.sum())
    sets.pop("", None)
    counts.pop("", None)
    order = [s for s in _ORDER if s in sets] + sorted(s for s in sets if s not in _ORDER)
    return {s: sets[s] for s in order}, counts


def leakage_report(patient_ids, split=None):
    """The set-intersection check as data.

    Args:
        patient_ids: one id per sample (with ``split``), or a mapping split -> patient ids.
        split: split name per sample; ``""`` (unassigned) is ignored.

    Returns:
        ``{"splits": {name: {"patients": int, "samples": int}}, "shared": {"a/b": [ids]},
        "leaking": [ids]}`` where ``shared`` has an entry (possibly empty) per pair of splits.
    """
    sets, counts = _split_sets(patient_ids, split)
    shared = {}
    for a, b in itertools.combinations(sets, 2):
        shared[f"{a}/{b}"] = sorted(sets[a] & sets[b])
    leaking = sorted(set().union(*shared.values())) if shared else []
    return {
        "splits": {s: {"patients": len(sets[s]), "samples": counts[s]} for s in sets},
        "shared": shared,
        "leaking": leaking,
    }


def assert_disjoint(patient_ids, split=None, *, max_names=10):
    """Raise :class:`LeakageError` when any patient appears in more than one split.

    Args:
        patient_ids: one id per sample (with ``split``), or a mapping split -> patient ids.
        split: split name per sample; ``""`` (unassigned) is ignored.
        max_names: how many patient ids the message lists.
    """
    report = leakage_report(patient_ids, split)
    leaking = report["leaking"]
    if not leaking:
        return
    pairs = [k for k, v in report["shared"].items() if v]
    n = len(leaking)
    names = ", ".join(leaking[:max_names])
    if n > max_names:
        names += f", ... ({n - max_names} more)"
    verb = "patient appears" if n == 1 else "patients appear"
    raise LeakageError(
        f"{n} {verb} in more than one split ({', '.join(pairs)}): {names}",
        leaking,
        {k: v for k, v in report["shared"].items() if v},
    )


def read_split_ids(path, by="patient_id", split_column="split"):
    """``(ids, split)`` arrays from an HDF5 bundle or a CSV with ``by`` and ``split`` columns."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Expected a bundle (.h5) or a CSV file. "
                                f"Received: path={str(path)!r}")
    if path.suffix.lower() in (".h5", ".hdf5"):
        with open_bundle(path) as b:
            if by != "patient_id":
                ids = b.meta(by)
            else:
                ids = b.patient_id
            return np.asarray(ids).astype(str), np.asarray(b.split).astype(str)
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col, arg in ((by, "by"), (split_column, "split_column")):
        if col not in df.columns:
            hint = did_you_mean(col, df.columns)
            raise ValueError(f"{path}: no column {col!r}.{hint} "
                             f"Received: {arg}={col!r}, columns={list(df.columns)}")
    return df[by].to_numpy(str), df[split_column].to_numpy(str)


def leakage_check(path, by="patient_id", split_column="split") -> dict:
    """The set-intersection leakage check of the ChestX-ray14 transfer-learning paper: the set of ``by`` ids of each split, intersected pairwise.

    Returns :func:`heartcv.data.splits.leakage_report`'s dict plus ``source`` and ``by``;
    ``leaking`` lists the ids found in more than one split.
    """
    ids, split = read_split_ids(path, by, split_column)
    return {"source": str(path), "by": by, **leakage_report(ids, split)}


def format_leakage(report, max_ids=50) -> str:
    """The report as text: patients and images per split, then the shared ids per pair."""
    lines = [f"{report['source']}: {report['by']} per split"]
    for name, s in report["splits"].items():
        lines.append(f"  {name:<8} {s['patients']:>7} ids  {s['samples']:>8} images")
    for pair, ids in report["shared"].items():
        more = f", ... ({len(ids) - max_ids} more)" if len(ids) > max_ids else ""
        shown = ", ".join(ids[:max_ids]) + more
        lines.append(f"  {pair}: {len(ids)} shared" + (f": {shown}" if ids else ""))
    n = len(report["leaking"])
    lines.append(f"LEAKAGE: {n} {report['by']} value(s) in more than one split" if n
                 else "no leakage: the splits are disjoint")
    return "\n".join(lines)

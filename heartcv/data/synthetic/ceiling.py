"""The Bayes ceiling of the synthetic cardiomegaly task: how well the exact CTR does.

On the phantom the true (PA-equivalent) cardiothoracic ratio of every patient is known, and
the observed label is ``CTR > 0.5`` flipped by label noise. No model can separate the noisy
labels better than the exact CTR itself, so its AUROC against the observed labels (and the
accuracy of ``CTR > 0.5``) is the ceiling a model's AUROC is read against: chance is 0.5,
the ceiling is :func:`bayes_ceiling`.

Strictly, with label noise that does not depend on the image the CTR is a sufficient statistic
and any monotone function of it reaches the ceiling AUROC; a model sees less (pixels, AP
magnification, blur and noise), so its AUROC lies below the ceiling up to sampling error.
"""

import numpy as np

from heartcv.evaluation.roc import bootstrap_counts, percentile_ci, weighted_auc


def bayes_ceiling(ctr, labels, *, threshold=0.5, groups=None, n_boot=1000, ci=0.95, seed=0):
    """AUROC and accuracy of the exact CTR against the observed (noisy) labels.

    Args:
        ctr: (N,) exact CTR per image (``generate_chest_xrays(...)["ctr_true"]``).
        labels: (N,) or (N, 1) observed 0/1 labels (``["labels"]``; for the findings task pass
            the Cardiomegaly column).
        threshold: the CTR above which the call is cardiomegaly (0.5).
        groups: optional (N,) patient ids: the bootstrap then resamples patients (images of
            one patient share a CTR), otherwise images.
        n_boot: bootstrap resamples for the percentile intervals (0: no intervals).
        ci: interval coverage.
        seed: bootstrap seed.

    Returns:
        dict with ``auroc``, ``auroc_ci`` ([low, high] or None), ``accuracy`` (of
        ``ctr > threshold``), ``accuracy_ci``, ``n``, ``prevalence`` (share of observed
        positives) and ``noise_rate`` (share of images whose label disagrees with
        ``ctr > threshold``).
    """
    c = np.asarray(ctr, dtype=float).ravel()
    y = np.asarray(labels, dtype=float)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape != c.shape:
        raise ValueError("Expected `ctr` (N,) and `labels` (N,) or (N, 1) of the same length. "
                         f"Received: ctr.shape={np.shape(ctr)}, labels.shape={np.shape(labels)}")
    if c.size == 0 or not np.isfinite(c).all():
        raise ValueError(f"Expected a non-empty, finite `ctr`. Received: {c.size} values, "
                         f"{int((~np.isfinite(c)).sum())} not finite")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("Expected 0/1 `labels`. Received values "
                         f"{np.unique(y[~np.isin(y, (0.0, 1.0))])[:5].tolist()}")
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 0:
        raise ValueError(f"Expected `n_boot` as an integer >= 0. Received: n_boot={n_boot!r}")
    pos = y == 1
    call = c > threshold
    correct = (call == pos).astype(float)
    auroc = float(weighted_auc(pos, c, np.ones(c.size))[0])
    out = dict(auroc=auroc, auroc_ci=None, accuracy=float(correct.mean()), accuracy_ci=None,
               n=int(c.size), prevalence=float(pos.mean()), noise_rate=float(1 - correct.mean()))
    if n_boot:
        if groups is None:
            index, n_units = np.arange(c.size), c.size
        else:
            g = np.asarray(groups).ravel()
            if g.shape != c.shape:
                raise ValueError(f"Expected `groups` of shape {c.shape}. "
                                 f"Received: groups.shape={g.shape}")
            _, index = np.unique(g, return_inverse=True)
            n_units = int(index.max()) + 1
        rng = np.random.default_rng(seed)
        aucs, accs = [], []
        for counts in bootstrap_counts(n_units, int(n_boot), rng):
            w = counts[index]  # (N, b) image weights = their patient's multiplicity
            aucs.append(weighted_auc(pos, c, w))
            accs.append((w * correct[:, None]).sum(0) / np.maximum(w.sum(0), 1))
        out["auroc_ci"] = percentile_ci(np.concatenate(aucs), ci)
        out["accuracy_ci"] = percentile_ci(np.concatenate(accs), ci)
    return out


def format_ceiling(result, digits=3):
    """One line for reports: ``Bayes ceiling (exact CTR vs noisy label): AUROC 0.912 [0.89-0.93],
    accuracy 0.905``."""
    f = lambda v: f"{v:.{digits}f}"  # noqa: E731
    ci = result.get("auroc_ci")
    ci_txt = f" [{f(ci[0])}-{f(ci[1])}]" if ci else ""
    return (f"Bayes ceiling (exact CTR vs noisy label): AUROC {f(result['auroc'])}{ci_txt}, "
            f"accuracy {f(result['accuracy'])} (n={result['n']}, label noise "
            f"{100 * result['noise_rate']:.1f}%)")

"""Implementation of :mod:`heartcv.evaluate` and :mod:`heartcv.report`, split by topic.

Import the public API from ``heartcv.evaluate`` and ``heartcv.report``; the submodules here
are an implementation detail and may be reorganised:

- ``_common``: argument checks, JSON-safe conversion, atomic file writes.
- ``classification``: confusion matrices and per-class metrics (binary/multiclass/multilabel).
- ``roc``: ROC curves, AUROC and case-resampling bootstrap confidence intervals.
- ``delong``: DeLong's test for two correlated AUROCs and the paired bootstrap alternative.
- ``thresholds``: threshold choice on validation data, PPV/NPV at a stated prevalence.
- ``plots``: ROC and confusion-matrix figures (matplotlib, Agg canvas, no pyplot).
- ``tables``: number formatting and the paper-style Markdown/CSV tables of one result.
- ``expected``: reading ``expected.csv`` and the Paper | heartcv | Δ comparison.
- ``folds``: mean ± sd over folds or seeds.
"""

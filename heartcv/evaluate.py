"""Evaluation: classification reports, ROC/AUROC with bootstrap CIs, AUROC comparison, figures.

Everything here is pure numpy/scipy/scikit-learn/matplotlib (no Keras): it takes labels and
scores (model probabilities) and returns JSON-serialisable dicts of plain floats and lists,
with NaN (and a line in ``notes``) wherever a number is undefined. The implementation lives
in :mod:`heartcv.evaluation`; this module is the public import path.

Typical use, with the threshold chosen on validation data and applied to the test split::

    from heartcv import evaluate as ev

    t = ev.choose_threshold(y_val, p_val, method="youden")
    res = ev.classification_report(y_test, p_test, task="binary",
                                   class_names=["Non-Cardio", "Cardio"], threshold=t,
                                   threshold_source="validation:youden", prevalence=0.027)
    cmp = ev.delong_test(y_test, p_test_amm, p_test_gap, names=("AMM", "GAP"))

References:
    DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more correlated
    receiver operating characteristic curves: a nonparametric approach. *Biometrics*
    1988;44(3):837-845.
    Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas under
    correlated receiver operating characteristic curves. *IEEE Signal Processing Letters*
    2014;21(11):1389-1393.
    Efron B, Tibshirani RJ. *An Introduction to the Bootstrap*. Chapman & Hall, 1993.
    Youden WJ. Index for rating diagnostic tests. *Cancer* 1950;3(1):32-35.
"""

from heartcv.evaluation._common import TASKS
from heartcv.evaluation.classification import classification_report, multilabel_accuracy
from heartcv.evaluation.delong import (
    delong_covariance,
    delong_roc_variance,
    delong_test,
    paired_bootstrap_test,
)
from heartcv.evaluation.plots import plot_confusion_matrix, plot_roc
from heartcv.evaluation.roc import auroc, roc_analysis
from heartcv.evaluation.thresholds import choose_threshold, ppv_npv_at_prevalence

__all__ = [
    "TASKS",
    "auroc",
    "choose_threshold",
    "classification_report",
    "delong_covariance",
    "delong_roc_variance",
    "delong_test",
    "multilabel_accuracy",
    "paired_bootstrap_test",
    "plot_confusion_matrix",
    "plot_roc",
    "ppv_npv_at_prevalence",
    "roc_analysis",
]

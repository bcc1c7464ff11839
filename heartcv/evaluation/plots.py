"""ROC and confusion-matrix figures as PNG files.

Figures are built on a ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot, no global
state, safe without a display) and written atomically (temp file + ``os.replace``).
"""

import math

import numpy as np

from heartcv.evaluation._common import atomic_save_figure, did_you_mean

NORMALIZE = (None, "true", "pred", "all")
#: line styles of the ROC curves after the first ten (matplotlib's ten default colours)
LINE_STYLES = ("-", "--", "-.", ":")


def _figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def plot_roc(curves, path, title=None, *, dpi=120):
    """Plot all ROC curves in one figure, each AUROC in the legend, and save a PNG.

    Args:
        curves: {name: {"fpr": [...], "tpr": [...], "auc": float}} as in
            ``roc_analysis(...)["curves"]`` (a whole ``roc_analysis`` result is accepted
            too, and its CIs are then shown in the legend).
        path: output ``.png`` path.
        title: figure title.
        dpi: resolution.

    Returns:
        The written ``pathlib.Path``.
    """
    cis = {}
    if isinstance(curves, dict) and "curves" in curves and "per_class" in curves:
        cis = {k: v.get("ci") for k, v in curves["per_class"].items()}
        curves = curves["curves"]
    if not isinstance(curves, dict) or not curves:
        raise ValueError(
            "Expected `curves` to be a non-empty dict of name -> curve. "
            f"Received: curves={curves!r}"
        )
    fig = _figure((6.0, 6.0) if len(curves) <= 6 else (7.5, 7.0))
    ax = fig.add_subplot(1, 1, 1)
    for i, (name, c) in enumerate(curves.items()):
        # ten colours, then the same colours dashed, ...: every curve its own (colour, line)
        style = {"color": f"C{i % 10}", "ls": LINE_STYLES[(i // 10) % len(LINE_STYLES)]}
        missing = {"fpr", "tpr", "auc"} - set(c)
        if missing:
            raise ValueError(f"Curve {name!r} lacks {sorted(missing)}. Received keys: {sorted(c)}")
        auc = c["auc"]
        if not c["fpr"] or not math.isfinite(auc):
            ax.plot([], [], label=f"{name} (AUC undefined)", **style)
            continue
        label = f"{name} (AUC = {auc:.3f}"
        ci = cis.get(name)
        if ci and all(math.isfinite(v) for v in ci):
            label += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
        ax.plot(c["fpr"], c["tpr"], lw=1.5, label=label + ")", **style)
    ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="grey")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("False positive rate (1 - specificity)")
    ax.set_ylabel("True positive rate (sensitivity)")
    if title:
        ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small" if len(curves) <= 6 else "x-small")
    return atomic_save_figure(fig, path, dpi=dpi)


def plot_confusion_matrix(cm, class_names, path, normalize=None, *, title=None, dpi=120):
    """Plot a confusion matrix (rows = true class, columns = predicted) and save a PNG.

    Args:
        cm: (K, K) counts.
        class_names: K names.
        path: output ``.png`` path.
        normalize: None (counts), "true" (rows sum to 1), "pred" (columns sum to 1) or "all".
            Cells show the normalised value and the count.
        title: figure title.
        dpi: resolution.

    Returns:
        The written ``pathlib.Path``.
    """
    if normalize not in NORMALIZE:
        raise ValueError(
            f"Expected `normalize` in {NORMALIZE}.{did_you_mean(normalize, NORMALIZE[1:])} "
            f"Received: normalize={normalize!r}"
        )
    cm = np.asarray(cm, dtype=float)
    names = [str(n) for n in class_names]
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(names):
        raise ValueError(
            f"Expected `cm` of shape (K, K) with K = len(class_names) = {len(names)}. "
            f"Received: cm.shape={cm.shape}"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalize == "true":
            shown = cm / cm.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            shown = cm / cm.sum(axis=0, keepdims=True)
        elif normalize == "all":
            shown = cm / cm.sum()
        else:
            shown = cm
    k = len(names)
    side = max(4.0, 0.9 * k + 2.0)
    fig = _figure((side, side))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(np.nan_to_num(shown), cmap="Blues", vmin=0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    top = np.nanmax(shown) if np.isfinite(shown).any() else 0
    for i in range(k):
        for j in range(k):
            count = int(cm[i, j])
            text = f"{count}" if normalize is None else f"{shown[i, j]:.2f}\n({count})"
            dark = np.isfinite(shown[i, j]) and shown[i, j] > top / 2
            color = "white" if dark else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color=color)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(names, rotation=45, ha="right")
    ax.set_yticklabels(names)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    if title:
        ax.set_title(title)
    return atomic_save_figure(fig, path, dpi=dpi)

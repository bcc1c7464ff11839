"""One-line summaries of a run's test numbers, printed by ``heartcv train`` and the demo."""

from pathlib import Path


def headline(metrics: dict) -> str:
    """One line with the run's main test numbers."""
    if metrics.get("task") == "segmentation":
        d, i = metrics["dice"], metrics["iou"]
        return f"test Dice {d['mean']:.3f} ± {d['sd']:.3f}, IoU {i['mean']:.3f} (n={metrics['n_samples']})"
    parts = []
    auc = metrics.get("auroc")
    if isinstance(auc, dict) and isinstance(auc.get("value"), (int, float)):
        lo, hi = auc.get("ci") or [float("nan")] * 2
        label = "AUROC" if metrics.get("task") == "binary" else "mean AUROC"
        parts.append(f"{label} {auc['value']:.3f} [95% CI {lo:.3f}–{hi:.3f}]")
    elif isinstance(auc, dict) and isinstance(auc.get("value"), dict) and "mean" in auc["value"]:
        label = "AUROC" if metrics.get("task") == "binary" else "mean AUROC"  # k-fold: over folds
        v = auc["value"]
        parts.append(f"{label} {v['mean']:.3f} ± {v.get('sd', float('nan')):.3f}")
    acc = metrics.get("accuracy")
    if isinstance(acc, (int, float)):
        parts.append(f"accuracy {acc:.3f}")
    elif isinstance(acc, dict) and "mean" in acc:
        parts.append(f"accuracy {acc['mean']:.3f} ± {acc.get('sd', float('nan')):.3f}")
    return "test " + ", ".join(parts) + _count(metrics)


def _count(metrics: dict) -> str:
    """`` (n=N)`` for one run; for a k-fold summary (``n_samples`` aggregated over folds)
    `` (k folds, n=N test images in all)``: each image is tested in exactly one fold."""
    n = metrics.get("n_samples")
    if isinstance(n, dict):  # heartcv.report.aggregate_folds output
        total = int(sum(v for v in n.get("values", []) if v == v))
        k = (metrics.get("aggregated") or {}).get("n_folds") or metrics.get("folds")
        return f" ({k} folds, n={total} test images in all)" if total else f" ({k} folds)"
    return f" (n={n})" if n else ""


def print_summary(result) -> None:
    print("")
    print(headline(result.metrics))
    paths = result.paths
    for label, key in (("run directory", "run_dir"), ("table", "table_md"), ("metrics", "metrics_json"),
                       ("model", "model_h5"), ("figures", "figures")):
        if paths.get(key) and Path(paths[key]).exists():  # only what the run wrote
            print(f"{label + ':':<15}{paths[key]}")
    for i, model in enumerate(paths.get("fold_models") or [], start=1):  # k-fold runs
        if Path(model).exists():
            print(f"{f'fold {i} model:':<15}{model}")
    if paths.get("tensorboard") and Path(paths["tensorboard"]).exists():
        print(f"{'tensorboard:':<15}tensorboard --logdir {paths['tensorboard']}")

"""One-line summaries of a run's test numbers, printed by ``heartcv train`` and the demo."""


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
    acc = metrics.get("accuracy")
    if isinstance(acc, (int, float)):
        parts.append(f"accuracy {acc:.3f}")
    elif isinstance(acc, dict) and "mean" in acc:
        parts.append(f"accuracy {acc['mean']:.3f} ± {acc.get('sd', float('nan')):.3f}")
    n = metrics.get("n_samples")
    return "test " + ", ".join(parts) + (f" (n={n})" if n else "")


def print_summary(result) -> None:
    print("")
    print(headline(result.metrics))
    for label, key in (("run directory", "run_dir"), ("table", "table_md"), ("metrics", "metrics_json"),
                       ("model", "model_h5"), ("figures", "figures")):
        if result.paths.get(key):
            print(f"{label + ':':<15}{result.paths[key]}")
    print(f"{'tensorboard:':<15}tensorboard --logdir {result.paths['tensorboard']}")

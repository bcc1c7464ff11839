"""The demo: Cardio-XAttentionNet against its GAP baseline on the synthetic phantom, on a CPU.

Generates synthetic chest radiographs whose cardiothoracic ratio decides cardiomegaly, splits
them by patient, trains ``cxa_densenet121`` (DenseNet121 + the Attention Mapping Mechanism)
and ``densenet121_gap`` from scratch at a reduced size, evaluates both on held-out patients
(Tables 4/5 of Innat et al. 2023 with bootstrap CIs and DeLong's paired AUROC test), measures
how much of each model's heatmap falls on the true heart, writes attention overlays at
intensity 0.2, logs to TensorBoard and saves ``models/cxa_densenet121_demo.h5``.
"""

from __future__ import annotations

import time
from pathlib import Path

from heartcv.config import load_config

AMM, GAP = "cxa_densenet121", "densenet121_gap"
DEMO_SETTINGS = [
    "data.source=synthetic", "data.synthetic=cardiomegaly", "data.n_patients=250",
    "data.images_per_patient=2", "data.image_size=96", "data.batch_size=16",
    "data.augment.enabled=true", "data.augment.rotation_range=5",
    "data.augment.width_shift_range=0.05", "data.augment.height_shift_range=0.05",
    "data.augment.zoom_range=0.05", "data.augment.brightness_range=[0.9, 1.1]",
    "train.epochs=6", "train.optimizer=adam", "train.learning_rate=0.001",
    "train.early_stopping_patience=null", "train.reduce_lr_patience=2",
    "eval.bootstrap=1000",
]
QUICK_SETTINGS = ["data.n_patients=30", "data.image_size=64", "train.epochs=1",
                  "eval.bootstrap=100"]


def run_demo(*, output_dir="runs", models_dir="models", quick=False, overrides=()):
    """Run the demo and print where its tables, model and TensorBoard logs are."""
    from heartcv.data.sources import load_data
    from heartcv.files import atomic_copy
    from heartcv.papers.cardio_xattentionnet.experiment import run_experiment

    settings = DEMO_SETTINGS + (QUICK_SETTINGS if quick else []) + [f"output_dir={output_dir}"]
    base = load_config(None, ["name=demo", *settings, *overrides])
    print(f"heartcv demo: {base.data.n_patients} synthetic patients × "
          f"{base.data.images_per_patient} images at {base.data.image_size}px; training "
          f"{AMM} (attention mapping) and {GAP} (its GAP baseline), {base.train.epochs} epochs each")
    start = time.time()
    data = load_data(base.data)
    print(f"patient-wise split (no patient in two splits): "
          f"{ {k: len(v) for k, v in data.splits.items()} } images")
    exp = run_experiment(base, (AMM, GAP), data=data, out_dir=base.run_dir)
    saved = Path(models_dir) / f"{AMM}_demo.h5"
    atomic_copy(exp["runs"][AMM].paths["model_h5"], saved)
    atomic_copy(exp["runs"][AMM].paths["card"], saved.with_suffix(".card.json"))
    _print_summary(exp, saved, base.run_dir, time.time() - start)
    return exp


def _print_summary(exp, saved, out, elapsed):
    from heartcv.summary import headline

    runs, loc = exp["runs"], exp["localization"]
    print("\n=== heartcv demo: results on held-out synthetic patients")
    for name, r in runs.items():
        print(f"{name:<16} {headline(r.metrics)}")
        l = loc.get(name)
        if l:
            print(f"{'':<16} {l['method']} on the heart: {l['mass_inside']['mean']:.0%} of its mass "
                  f"(heart = {l['heart_area_share']:.0%} of the image); pointing game "
                  f"{l['pointing_game']['mean']:.0%} (n={l['n_images']} cardiomegaly images)")
    d = exp["delong"].get(AMM)
    if d:
        print(f"DeLong {AMM} vs {GAP}: ΔAUROC {d['difference']:+.3f}, p = {d['p_value']:.3g}")
    print(f"{'tables:':<15}{exp['paths']['markdown']} (Table 5), "
          f"{runs[AMM].paths['table_md']} (Table 4)")
    print(f"{'figures:':<15}{out / 'figures'} (ROC, attention overlays at 0.2), "
          f"{runs[AMM].paths['figures']}")
    print(f"{'model:':<15}{saved} (+ .card.json)")
    print(f"{'tensorboard:':<15}tensorboard --logdir {out}")
    print(f"{'elapsed:':<15}{elapsed:.0f} s")

"""The demo: Cardio-XAttentionNet against its GAP baseline on the synthetic phantom, on a CPU.

Generates synthetic chest radiographs (the realistic phantom of ``heartcv.data.synthetic``:
CTRs spread around 0.5 as JSRT's, label noise, acquisition variation), splits them by
patient, trains ``cxa_densenet121`` (DenseNet121 + the Attention Mapping Mechanism) and
``densenet121_gap`` from scratch at a reduced size, evaluates both on held-out patients
(Tables 4/5 of Innat et al. 2023 with bootstrap CIs and DeLong's paired AUROC test) beside
the phantom's Bayes ceiling (the AUROC of the exact CTR against the noisy labels), measures
how much of each model's heatmap falls on the true heart against chance on maps of 7×7
cells (the test images are kept at the recipe's ``map_size``; the models are fully
convolutional, as the paper trains at 224 and tests at full size), checks whether each map is
faithful (issue 26: the AUROC with the AMM map made constant, at the training size, and the
flip test: is the flipped image's map the map flipped?), writes attention overlays at
intensity 0.2, logs to TensorBoard, saves ``models/cxa_densenet121_demo.h5`` and writes
``results.json``. The settings are the recipe ``heartcv/recipes/demo.yaml``.
"""

from __future__ import annotations

import time
from pathlib import Path

from heartcv.config import load_config
from heartcv.files import atomic_copy, atomic_write_text
from heartcv.papers.cardio_xattentionnet.experiment import (
    load_experiment_data,
    results_numbers,
    run_experiment,
)
from heartcv.recipes import DEMO, config_overrides, read_recipe
from heartcv.results import write_results
from heartcv.summary import headline

AMM, GAP = "cxa_densenet121", "densenet121_gap"
SUMMARY = "summary.txt"  # the printed results section, beside results.json


def demo_settings(quick: bool = False) -> tuple[list, int]:
    """The demo's recipe (``heartcv/recipes/demo.yaml``, its ``quick`` section on top with
    ``quick``): ``(config overrides as (dotted key, value) pairs, heatmap image size)``."""
    recipe = read_recipe(DEMO)
    settings, map_size = config_overrides(recipe["config"]), recipe["map_size"]
    if quick:
        settings += config_overrides(recipe["quick"]["config"])
        map_size = recipe["quick"]["map_size"]
    return settings, map_size


def run_demo(*, output_dir="runs", models_dir="models", quick=False, overrides=(), map_size=None):
    """Run the demo and print where its tables, model, TensorBoard logs and results are.

    ``map_size``: the size of the test images the heatmaps and their faithfulness checks are
    computed on (default the recipe's ``map_size``, 224: 7×7 cells; 96 with ``quick``); the
    training size gives maps at the scale the models were trained at (3×3 cells at 96 px).
    """
    settings, recipe_map_size = demo_settings(quick)
    base = load_config(None, [*settings, f"output_dir={output_dir}", *overrides])
    if map_size is None:
        map_size = max(recipe_map_size, base.data.image_size)
    print(f"heartcv demo: {base.data.n_patients} synthetic patients × "
          f"{base.data.images_per_patient} images, trained at {base.data.image_size}px, heatmaps "
          f"at {map_size}px; training {AMM} (attention mapping) and {GAP} (its GAP baseline), "
          f"{base.train.epochs} epochs each")
    start = time.time()
    data = load_experiment_data(base, map_size)
    print(f"patient-wise split (no patient in two splits): "
          f"{ {k: len(v) for k, v in data.splits.items()} } images")
    # the constant-map ablation at the training size only: one 224-px pass of the test set less
    exp = run_experiment(base, (AMM, GAP), data=data, out_dir=base.run_dir,
                         ablation_at_map_size=False)
    saved = Path(models_dir) / f"{AMM}_demo.h5"
    atomic_copy(exp["runs"][AMM].paths["model_h5"], saved)
    atomic_copy(exp["runs"][AMM].paths["card"], saved.with_suffix(".card.json"))
    elapsed = time.time() - start
    _print_summary(exp, saved, base.run_dir, elapsed)
    numbers = results_numbers(exp)
    numbers["time/total_s"] = elapsed
    exp["paths"]["results"] = write_results(base.run_dir, numbers)
    return exp


def _ci(entry, pct=True):
    lo, hi = entry["ci"]
    f = (lambda v: f"{v:.0%}") if pct else (lambda v: f"{100 * v:+.1f}")
    return f"{f(entry['mean'])} [{f(lo)}, {f(hi)}]" + ("" if pct else " points")


def _signed(entry, digits=2):
    lo, hi = entry["ci"]
    text = f"{entry['mean']:+.{digits}f}"
    return text + (f" [{lo:+.{digits}f}, {hi:+.{digits}f}]" if lo == lo else "")


def faithfulness_lines(f: dict) -> list:
    """The demo's lines for one model's ``faithfulness`` result: the constant-map ablation and
    the flip test, then the maps after per-map min–max and the blank-image map."""
    lines = []
    ablations = [a for a in (f.get("ablation_at_train_size"), f["ablation"])
                 if a and not a.get("skipped")]
    if not ablations[-1].get("applicable"):
        lines.append("constant-map ablation: n/a (GAP pools uniformly; its Grad-CAM is read "
                     "off the model afterwards)")
    else:
        parts = []
        for a in ablations:
            if "auroc" not in a:
                parts.append(a.get("note", "not measured"))
                continue
            lo, hi = a["ci"]
            parts.append(f"{a['auroc']:.3f} → {a['auroc_constant_map']:.3f} at "
                         f"{a['input_size'][0]} px (Δ {a['difference']:+.3f} [{lo:+.3f}, "
                         f"{hi:+.3f}], p = {a['p_value']:.2g})")
        uses = ablations[0].get("uses_map")
        verdict = ("the classifier uses where W is high" if uses else
                   "the classifier ignores where W is high" if uses is not None else "")
        lines.append("constant-map ablation: AUROC with W made constant " + "; ".join(parts)
                     + (f": {verdict}" if verdict else ""))
    m = f["maps"]
    follows = m["verdict"]["follows_input"]
    lines.append(f"flip test: the flipped image's map vs the map, r = "
                 f"{m['flip_follow']['mean']:.2f} flipped back, {m['flip_stay']['mean']:.2f} "
                 f"as it is (gain "
                 f"{_signed(m['flip_gain'])}): the map "
                 + ("follows the image" if follows else "does not follow the image")
                 + f"; r with the mean map {m['mean_map_correlation']['mean']:.2f}"
                 + (f" (hearts {m['mask_mean_correlation']['mean']:.2f})"
                    if "mask_mean_correlation" in m else ""))
    blank = m["blank"]
    blank_text = ("flat" if blank["flat"] else
                  f"r = {blank['correlation_with_mean_map']:.2f} with the mean map"
                  + (" (a position prior)" if blank["position_prior"] else ""))
    if "heart_correlation" in m:
        lines.append(f"after per-map min–max: heart r {_signed(m['heart_correlation'])}, "
                     f"{_ci(m['mass_minmax'])} of the mass on the heart (chance "
                     f"{m['area_fraction']['mean']:.0%}); blank grey image: map {blank_text}")
    else:
        lines.append(f"blank grey image: map {blank_text}")
    return lines


def summary_lines(exp) -> list:
    """The results section the demo prints (the block the README shows, rendered from the
    committed ``docs/demo/summary.txt``): every number of it is in ``results.json``."""
    runs, loc = exp["runs"], exp["localization"]
    out = ["=== heartcv demo: results on held-out synthetic patients"]
    ceiling = exp.get("ceiling")
    if ceiling:
        lo, hi = ceiling.get("auroc_ci") or (float("nan"),) * 2
        out.append(f"{'Bayes ceiling':<16} AUROC {ceiling['auroc']:.3f} [95% CI {lo:.3f}–{hi:.3f}] "
                   f"(exact CTR vs the noisy labels: no model can beat it; label noise "
                   f"{ceiling['noise_rate']:.0%}, n={ceiling['n']})")
    for name, r in runs.items():
        out.append(f"{name:<16} {headline(r.metrics)}")
        l = loc.get(name)
        if isinstance(l, dict) and "method" in l:
            cells = "×".join(map(str, l["map_cells"] or ["?"]))
            out.append(f"{'':<16} {l['method']}, {cells} cells at {l['input_size'][0]} px "
                       f"(AUROC there {l.get('auroc_at_map_size', float('nan')):.3f}): "
                       f"{_ci(l['mass_inside'])} of its mass on the heart, heart = "
                       f"{l['heart_area_share']:.0%} of the image (chance), excess "
                       f"{_ci(l['mass_over_chance'], pct=False)}; pointing game "
                       f"{_ci(l['pointing_game'])} (tied maxima shared; n={l['n_images']} "
                       f"cardiomegaly images)")
            if "faithfulness" in l:
                for line in faithfulness_lines(l["faithfulness"]):
                    out.append(f"{'':<16} {line}")
    d = exp["delong"].get(AMM)
    if d:
        out.append(f"DeLong {AMM} vs {GAP}: ΔAUROC {d['difference']:+.3f} "
                   f"[{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}], p = {d['p_value']:.3g}")
    return out


def _print_summary(exp, saved, out, elapsed):
    runs = exp["runs"]
    lines = summary_lines(exp)
    print("\n" + "\n".join(lines))
    atomic_write_text(Path(out) / SUMMARY, "\n".join(lines) + "\n")
    print(f"{'tables:':<15}{exp['paths']['markdown']} (Table 5), "
          f"{runs[AMM].paths['table_md']} (Table 4), {exp['paths']['localization_md']}")
    print(f"{'figures:':<15}{out / 'figures'} (ROC, attention overlays at 0.2), "
          f"{runs[AMM].paths['figures']}")
    print(f"{'model:':<15}{saved} (+ .card.json)")
    print(f"{'tensorboard:':<15}tensorboard --logdir {out}")
    print(f"{'elapsed:':<15}{elapsed:.0f} s")

"""Cardio-XAttentionNet reproduction: AMM vs GAP models, Tables 4 and 5, figures, localization.

Innat, Hossain, Mader, Kouzani. *A convolutional attention mapping deep neural network for
classification and localization of cardiomegaly on chest X-rays.* Sci Rep 13 (2023).

``run_experiment`` trains the chosen models (any subset of Table 5's rows) on one
patient-wise split, with one or more training seeds, evaluates each on the held-out patients
(Table 4: per-class precision/recall/F1, weighted average, accuracy), compares them (Table 5:
averages and AUROC with bootstrap CIs, DeLong's paired test of each AMM model against its
GAP baseline on the same test patients; with several seeds, mean ± sd over seeds and the
paired test of every seed), draws the ROC curves of all models in one figure (Fig. 6),
attention maps and overlays at intensity 0.2 (Fig. 7–9) with the GAP baselines' Grad-CAM
beside them, and measures localization: the share of heatmap mass on the true heart against
the heart's share of the image (chance) and the pointing game (phantom masks), or IoU/IoBB
and pointing game against the NIH Cardiomegaly boxes when the test images have boxes. Every
map is also checked for faithfulness (issue 26, :mod:`heartcv.explain.faithfulness`): the
AUROC with the AMM map made constant, the flip, mean-map and blank-image tests, heart
correlation and mass on the heart after per-map min–max (``faithfulness_markdown``; per seed
and mean ± sd over seeds).

Maps at a size that means something: the backbones have stride 32, so a model trained at
96 px has a 3×3 map. Both model families are fully convolutional up to the pooling, and the
paper itself trains at 224 and tests on the full-size image; heartcv does the same at CPU
scale: the test images are kept at ``map_size`` (the phantom is generated at that size, a
bundle keeps its own), Table 4/5 are measured at the training size (the images resized, the
paper's "train size" numbers), and the heatmaps (and a second AUROC, ``auroc_at_map_size``)
are computed on the test images at ``map_size`` (224 px → 7×7 cells). By default
(``map_size=None``) the maps are scored at the training size, where the classifier works; a
model trained at 224 px (``configs/localization_224.yaml``) has 7×7 cells there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from heartcv import evaluate, explain, report
from heartcv.config import replace
from heartcv.data.bundle import open_bundle
from heartcv.data.sources import load_data
from heartcv.evaluation.roc import auroc
from heartcv.evaluation.tables import as_scalar
from heartcv.explain import attention_renderer
from heartcv.explain.faithfulness import faithfulness_checks, faithfulness_numbers
from heartcv.files import atomic_write_json, atomic_write_text
from heartcv.io import load_model
from heartcv.localization import boxes_to_masks, localization_summary
from heartcv.models.blocks import ATTENTION_LAYER
from heartcv.papers.cardio_xattentionnet import AMM_MODELS, BASELINES, MODELS  # noqa: F401
from heartcv.report import markdown_table, read_expected
from heartcv.train import train


# The paper's training recipe is experiments/cardio_xattentionnet/configs/paper.yaml.


def _tables_in(expected_csv) -> set:
    if not expected_csv:
        return set()

    return {r["table"] for r in read_expected(expected_csv)}


def bundle_boxes(path, image_ids, label="Cardiomegaly") -> list:
    """Per image id, the (x, y, w, h) boxes of ``label`` in the bundle's pixel frame."""
    with open_bundle(path) as b:
        where = {str(i): k for k, i in enumerate(b.image_id)}
        out = []
        for image_id in image_ids:
            k = where.get(str(image_id))
            boxes = [] if k is None else b.boxes_for(k)
            out.append([(x.x, x.y, x.w, x.h) for x in boxes if x.label == label])
    return out


def heatmaps(model, name: str, images: np.ndarray) -> tuple[str, np.ndarray]:
    """The model's own map: AMM attention W for ``cxa_*``, Grad-CAM for the GAP baselines."""
    if name.startswith("cxa_"):
        return "AMM attention", explain.attention_maps(model, images)[1]
    return "Grad-CAM", explain.gradcam(model, images)


def heatmaps_label(name: str) -> str:
    return "AMM attention" if name.startswith("cxa_") else "Grad-CAM"


def baseline_of(name: str) -> str | None:
    """The GAP baseline of an AMM model (``cxa_<backbone>`` → ``<backbone>_gap``), else None."""
    return BASELINES.get(name) or (f"{name[4:]}_gap" if name.startswith("cxa_") else None)


def map_cells(model, size) -> list | None:
    """(rows, cols) of the feature grid a model's heatmap comes from, for (size, size) input."""
    import keras

    names = {layer.name for layer in model.layers}
    layer = "amm_bn" if ATTENTION_LAYER in names else "gap" if "gap" in names else None
    if layer is None:
        return None
    probe = keras.Model(model.inputs, model.get_layer(layer).input)
    try:
        shape = probe.compute_output_shape((1, int(size[0]), int(size[1]), 3))
    except Exception:  # noqa: BLE001  (a layer without static shape inference: run it)
        shape = np.shape(probe(np.zeros((1, int(size[0]), int(size[1]), 3), "float32")))
    return [int(shape[1]), int(shape[2])]


def _rgb(images):
    images = np.asarray(images, dtype=np.float32)
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def localization(models: dict, test, out_dir: Path, *, boxes=None, n_show=4, seed=0,
                 figure=True, train_size=None, ablation_at_map_size=True) -> dict:
    """Localization of each model's heatmaps on the positive test images, and Fig. 7–9 grids.

    Uses the heart masks when the split has them (phantom), else ``boxes``: a list (one per
    test image) of (x, y, w, h) Cardiomegaly boxes in the test images' pixel frame. Heatmaps
    are computed on the test images at their stored size (``map_cells`` records the grid);
    ``auroc_at_map_size`` is each model's AUROC on all test images at that size.
    ``faithfulness`` holds :func:`heartcv.explain.faithfulness.faithfulness_checks` of the
    same maps (issue 26): the constant-map ablation of the AMM models at that size and at
    ``train_size`` (the training image size, when it differs), the flip, mean-map and
    blank-image tests, heart correlation and mass on the heart after per-map min–max
    (``ablation_at_map_size=False``: the ablation at ``train_size`` only).
    """
    y = test.targets[:, 0] > 0.5
    positives = np.flatnonzero(y)
    if test.heart_masks is None and boxes is not None:
        positives = np.array([i for i in positives if boxes[i]], dtype=int)
    if not len(positives) or (test.heart_masks is None and boxes is None):
        return {"note": "no positive test image with a heart mask or box: localization not measured"}
    images = _rgb(test.images[positives])
    masks = None if test.heart_masks is None else test.heart_masks[positives]
    box_list = None if boxes is None or masks is not None else [boxes[i] for i in positives]
    regions = masks if box_list is None else boxes_to_masks(box_list, images.shape[1:3])
    all_images = _rgb(test.images)
    out, shown = {}, {}
    for name, model in models.items():
        method, heat = heatmaps(model, name, images)
        summary = localization_summary(heat, masks=masks, boxes=box_list, seed=seed)
        summary["method"] = method
        summary["input_size"] = list(images.shape[1:3])
        summary["map_cells"] = map_cells(model, images.shape[1:3])
        if masks is not None:
            summary["heart_area_share"] = float(np.mean(masks))
        p_all = None
        if 0 < y.sum() < len(y):
            p_all = np.asarray(model.predict(all_images, verbose=0, batch_size=16))[:, 0]
            summary["auroc_at_map_size"] = float(auroc(y.astype(int), p_all))
        summary["faithfulness"] = faithfulness_checks(
            model, all_images, y, scored=positives, masks=regions, maps=heat, scores=p_all,
            train_size=train_size, ablation_at_map_size=ablation_at_map_size, seed=seed)
        out[name] = summary
        shown[f"{method} ({name})"] = heat[:n_show]
    if figure:
        k = min(n_show, len(images))
        panel = {}
        for name, model in models.items():
            p = np.asarray(model.predict(images[:k], verbose=0))[:, 0]
            panel[f"{heatmaps_label(name)} ({name})"] = [f"p={v:.2f}" for v in p]
        titles = [f"cardiomegaly (test) #{i + 1}" for i in range(k)]
        explain.save_overlay_grid(images[:k], {lab: m[:k] for lab, m in shown.items()},
                                  out_dir / "figures" / "attention_overlays.png",
                                  titles=titles, alpha=0.2, panel_titles=panel,
                                  title="Heart localization: " + ", ".join(models))
    return out


def bayes_ceiling_of(data) -> dict | None:
    """The phantom's Bayes ceiling on the test split: the AUROC of the exact CTR against the
    (noisy) labels, with its CI (``DataSplits.ceiling``); None for real data."""
    ceiling = getattr(data, "ceiling", None)
    if ceiling is None:
        return None
    result = ceiling("test")
    if not result:
        return None
    result = dict(result)
    if "auroc_ci" in result and "ci" not in result:
        result["ci"] = result["auroc_ci"]
    return result


def _mean_sd(values):
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if not len(v):
        return None
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "values": v.tolist(), "n": int(len(v))}


LOC_METRICS = ("mass_inside", "area_fraction", "mass_over_chance", "pointing_game",
               "pointing_over_chance")


def _fmt_ci(entry, digits=3):
    lo, hi = entry.get("ci") or (float("nan"),) * 2
    text = f"{entry['mean']:.{digits}f}"
    return text + (f" [{lo:.{digits}f}, {hi:.{digits}f}]" if np.isfinite(lo) else "")


def localization_markdown(per_seed: list) -> str:
    """Localization table: one seed with bootstrap CIs, several with mean ± sd over seeds."""
    first = {k: v for k, v in per_seed[0].items() if isinstance(v, dict) and "method" in v}
    if not first:
        return per_seed[0].get("note", "localization not measured")
    header = ["Model", "Heatmap", "Cells @ input", "Mass on heart", "Heart area (chance)",
              "Mass − chance", "Pointing game (ties shared)", "AUROC at map size"]
    rows = []
    for name, s in first.items():
        cells = f"{'×'.join(map(str, s['map_cells'] or ['?']))} @ {s['input_size'][0]} px"
        if len(per_seed) == 1:
            vals = [_fmt_ci(s["mass_inside"]), _fmt_ci(s["area_fraction"]),
                    _fmt_ci(s["mass_over_chance"]), _fmt_ci(s["pointing_game"], 2)]
            a = s.get("auroc_at_map_size")
            vals.append("" if a is None else f"{a:.3f}")
        else:
            vals = []
            for key in ("mass_inside", "area_fraction", "mass_over_chance", "pointing_game"):
                ms = _mean_sd([ps[name][key]["mean"] for ps in per_seed])
                vals.append(f"{ms['mean']:.3f} ± {ms['sd']:.3f}")
            ms = _mean_sd([ps[name].get("auroc_at_map_size") for ps in per_seed])
            vals.append("" if ms is None else f"{ms['mean']:.3f} ± {ms['sd']:.3f}")
        rows.append([name, s["method"], cells] + vals)
    note = ("Bootstrap 95% CIs over the positive test images; chance = the heart's share of "
            "the image (a uniform map's mass, a random point's hit rate); the pointing game "
            "scores the share of all maximal pixels on the heart.")
    if len(per_seed) > 1:
        note = (f"Mean ± sd over {len(per_seed)} seeds (each seed's bootstrap CIs in "
                "localization.json); " + note[0].lower() + note[1:])
    align = [":---", ":---", ":---"] + ["---:"] * (len(header) - 3)
    return markdown_table(header, rows, align=align) + "\n\n" + note


def _faith(per_seed: list, name: str) -> list:
    """Each seed's flat faithfulness numbers of model ``name`` (empty dicts where absent)."""
    return [faithfulness_numbers(ps[name]["faithfulness"]) if "faithfulness" in ps.get(name, {})
            else {} for ps in per_seed]


def _cell(nums: list, key: str, digits=3, ci=True, sign="") -> str:
    """One seed: the value [CI]; several: mean ± sd over seeds; "–" where not measured."""
    vals = [d[key] for d in nums if key in d]
    if not vals:
        return "–"
    if len(nums) == 1:
        d = nums[0]
        fmt = f"{sign}.{digits}f"
        text = format(d[key], fmt)
        if ci and f"{key}_ci_low" in d:
            text += f" [{d[key + '_ci_low']:{fmt}}, {d[key + '_ci_high']:{fmt}}]"
        return text
    ms = _mean_sd(vals)
    return f"{ms['mean']:{sign}.{digits}f} ± {ms['sd']:.{digits}f}"


def _ablation_cell(first: dict, nums: list, tag: str) -> str:
    if not first["ablation"].get("applicable"):
        return "n/a (GAP pools uniformly)"
    size = nums[0].get(f"size{tag}")
    if size is None:  # no ablation at the training size: the maps are at that size
        return "= map px" if tag else "–"
    return (f"{_cell(nums, 'auroc' + tag, ci=False)} → "
            f"{_cell(nums, 'auroc_constant_map' + tag, ci=False)} @ {size:.0f} px")


def faithfulness_markdown(per_seed: list) -> str:
    """Faithfulness of each model's map (issue 26): one seed with CIs, several mean ± sd."""
    names = [k for k, v in per_seed[0].items() if isinstance(v, dict) and "faithfulness" in v]
    if not names:
        return ""
    header = ["Model", "Map", "AUROC → constant W (train px)", "AUROC → constant W (map px)",
              "Heart r", "Mass on heart after min–max", "Chance", "Mean-map r (hearts' r)",
              "Flip r: flipped back / in place", "Blank-image map r"]
    rows = []
    for name in names:
        nums = _faith(per_seed, name)
        first = per_seed[0][name]["faithfulness"]
        ablation = [_ablation_cell(first, nums, tag) for tag in ("_train_size", "")]
        n_flat = sum(ps[name]["faithfulness"]["maps"]["blank"]["flat"] for ps in per_seed)
        blank_text = _cell(nums, "blank_correlation", 2, ci=False)
        if n_flat:
            blank_text = "flat" if n_flat == len(per_seed) else \
                f"{blank_text} (flat in {n_flat} of {len(per_seed)} seeds)"
        rows.append([name, first["maps"]["method"], *ablation,
                     _cell(nums, "heart_correlation", 2, sign="+"),
                     _cell(nums, "mass_minmax"), _cell(nums, "area_fraction", ci=False),
                     f"{_cell(nums, 'mean_map_correlation', 2, ci=False)} "
                     f"({_cell(nums, 'mask_mean_correlation', 2, ci=False)})",
                     f"{_cell(nums, 'flip_follow', 2, ci=False)} / "
                     f"{_cell(nums, 'flip_stay', 2, ci=False)}", blank_text])
    note = ("Constant-map ablation: the AUROC with the AMM map W replaced by its per-image mean "
            "(the head then pools uniformly; a classifier that ignores where W is high loses "
            "nothing), on all test images at the training size and at the map size. Heart r: "
            "Pearson's r of each map with its heart mask; mass after per-map min–max against "
            "the heart's area (chance); mean-map r: leave-one-out correlation of each map with "
            "the mean map, beside the heart masks' own; flip: the flipped image's map flipped "
            "back (follows the anatomy) / as it is (stays in place), each correlated with the "
            "map; blank: the map of a uniform grey image correlated with the mean map (flat: "
            "no pattern). Maps of the cardiomegaly test images, CIs bootstrap 95% over images.")
    if len(per_seed) > 1:
        note = f"Mean ± sd over {len(per_seed)} seeds. " + note
    align = [":---", ":---"] + ["---:"] * (len(header) - 2)
    return markdown_table(header, rows, align=align) + "\n\n" + note


def delong_markdown(per_seed_tests: list, seeds: list) -> str:
    """Per-seed DeLong tests of every AMM model against its GAP baseline."""
    rows = []
    for seed, tests in zip(seeds, per_seed_tests):
        for amm, t in tests.items():
            lo, hi = t["ci"]
            rows.append([str(seed), f"{amm} vs {t['model_b']}", f"{t['auc_a']:.3f}",
                         f"{t['auc_b']:.3f}", f"{t['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}]",
                         f"{t['p_value']:.3g}"])
    return markdown_table(["Seed", "Paired test", "AUROC AMM", "AUROC GAP", "ΔAUROC [95% CI]",
                           "DeLong p"], rows)


def results_numbers(exp: dict) -> dict:
    """The flat ``"<row>/<metric>"`` numbers of a run for ``results.json``."""
    out = {}
    seeds = exp["seeds"]
    many = len(seeds) > 1
    for name, m in exp["table"].items():
        a = m.get("auroc") or {}
        pairs = {"auroc": a.get("value"), "accuracy": m.get("accuracy")}
        for metric in ("precision", "recall", "f1", "specificity"):
            pairs[f"weighted_{metric}"] = (m.get("weighted_avg") or {}).get(metric)
        for metric, v in pairs.items():
            if isinstance(v, dict):  # aggregated over seeds
                out[f"{name}/{metric}"] = v["mean"]
                out[f"{name}/{metric}_sd"] = v["sd"]
            elif v is not None:
                out[f"{name}/{metric}"] = as_scalar(v)
        if not many and a.get("ci"):
            out[f"{name}/auroc_ci_low"], out[f"{name}/auroc_ci_high"] = a["ci"]
    for seed, tests in zip(seeds, exp["delong_per_seed"]):
        prefix = f"delong/seed{seed}" if many else "delong"
        for amm, t in tests.items():
            out[f"{prefix}/{amm}/p"] = t["p_value"]
            out[f"{prefix}/{amm}/difference"] = t["difference"]
            out[f"{prefix}/{amm}/ci_low"], out[f"{prefix}/{amm}/ci_high"] = t["ci"]
    if many:
        for amm in exp["delong_per_seed"][0]:
            diffs = [t[amm]["difference"] for t in exp["delong_per_seed"]]
            ps = [t[amm]["p_value"] for t in exp["delong_per_seed"]]
            ms = _mean_sd(diffs)
            out[f"delong/{amm}/difference"], out[f"delong/{amm}/difference_sd"] = ms["mean"], ms["sd"]
            out[f"delong/{amm}/n_seeds"] = len(ps)
            out[f"delong/{amm}/n_seeds_p_below_0.05"] = int(sum(p < 0.05 for p in ps))
    for seed, loc in zip(seeds, exp["localization_per_seed"]):
        for name, s in loc.items():
            if not isinstance(s, dict) or "method" not in s:
                continue
            prefix = f"localization/seed{seed}/{name}" if many else f"localization/{name}"
            for metric in LOC_METRICS:
                out[f"{prefix}/{metric}"] = s[metric]["mean"]
                lo, hi = s[metric]["ci"]
                if np.isfinite(lo):
                    out[f"{prefix}/{metric}_ci_low"], out[f"{prefix}/{metric}_ci_high"] = lo, hi
            if s.get("map_cells"):
                out[f"{prefix}/map_cells"] = int(np.prod(s["map_cells"]))
                out[f"{prefix}/map_rows"] = int(s["map_cells"][0])
            if s.get("auroc_at_map_size") is not None:
                out[f"{prefix}/auroc_at_map_size"] = s["auroc_at_map_size"]
            out[f"{prefix}/n_images"] = s["n_images"]
    if many:
        first = exp["localization_per_seed"][0]
        for name, s in first.items():
            if not isinstance(s, dict) or "method" not in s:
                continue
            for metric in LOC_METRICS:
                ms = _mean_sd([loc[name][metric]["mean"] for loc in exp["localization_per_seed"]])
                out[f"localization/{name}/{metric}"] = ms["mean"]
                out[f"localization/{name}/{metric}_sd"] = ms["sd"]
    out.update(faithfulness_results(exp["localization_per_seed"], seeds))
    ceiling = exp.get("ceiling")
    if ceiling:
        out["ceiling/auroc"] = ceiling["auroc"]
        if ceiling.get("ci"):
            out["ceiling/auroc_ci_low"], out["ceiling/auroc_ci_high"] = ceiling["ci"]
        for key in ("accuracy", "noise_rate", "prevalence"):
            if isinstance(ceiling.get(key), (int, float)):
                out[f"ceiling/{key}"] = ceiling[key]
    out["time/total_s"] = exp["elapsed_s"]
    for name, t in exp["train_seconds"].items():
        out[f"time/{name}_s"] = t
    out["seeds/n"] = len(seeds)
    return {k: v for k, v in out.items() if v is not None and np.isfinite(v)}


def faithfulness_results(per_seed: list, seeds: list) -> dict:
    """``faithfulness/<model>/<metric>`` numbers; with several seeds each seed's under
    ``faithfulness/seed<s>/<model>/`` and mean / ``_sd`` over seeds under the plain key."""
    out = {}
    first = per_seed[0]
    for name, s in first.items():
        if not isinstance(s, dict) or "faithfulness" not in s:
            continue
        nums = _faith(per_seed, name)
        if len(seeds) == 1:
            out.update({f"faithfulness/{name}/{k}": v for k, v in nums[0].items()})
            continue
        for seed, d in zip(seeds, nums):
            out.update({f"faithfulness/seed{seed}/{name}/{k}": v for k, v in d.items()})
        for key in nums[0]:  # per-seed CIs and p-values are not averaged
            if key.endswith(("_ci_low", "_ci_high", "_p")):
                continue
            ms = _mean_sd([d.get(key) for d in nums])
            if ms:
                out[f"faithfulness/{name}/{key}"] = ms["mean"]
                if not key.startswith("size"):
                    out[f"faithfulness/{name}/{key}_sd"] = ms["sd"]
    return out


def load_experiment_data(cfg, map_size=None):
    """``load_data(cfg.data)``, the phantom generated at ``map_size`` when that is larger than
    the training size (training resizes it down; the test images and heart masks stay at
    ``map_size`` for the heatmaps). A bundle keeps its own image size."""
    import dataclasses

    d = cfg.data
    if d.source == "synthetic" and map_size and int(map_size) > d.image_size:
        d = dataclasses.replace(d, image_size=int(map_size))
    return load_data(d)


def run_experiment(base_cfg, models=MODELS, *, data=None, out_dir=None, expected_csv=None,
                   boxes=None, seeds=1, map_size=None, ablation_at_map_size=True) -> dict:
    """Train and evaluate ``models`` with ``seeds`` seeds; write Tables 4/5, figures, localization.

    Args:
        base_cfg: the run config shared by all models (``model.name`` is set per model; each
            run goes to ``<output_dir>/<name>/<model>``, with several seeds
            ``<output_dir>/<name>/seed<s>/<model>``).
        models: registry keys, in table order; any subset of Table 5's rows (paper rows of
            models not run are left out of the paper comparison, and listed).
        data: ``DataSplits`` (built by :func:`load_experiment_data` when None), shared by
            every model and seed.
        out_dir: where the comparison tables and figures go (default: the runs' parent).
        expected_csv: the paper's numbers (``experiments/cardio_xattentionnet/expected.csv``).
        boxes: optional per-test-image Cardiomegaly boxes for localization (NIH).
        seeds: K training seeds ``train.seed, train.seed + 1, …``. Every seed uses the same
            patient-wise split (``data.seed``) and test patients, so each seed's DeLong test
            is paired; seeds change initialisation, augmentation and batch order. With K > 1
            Table 5 is mean ± sd over seeds and the per-seed tests follow it.
        map_size: image size of the heatmaps (phantom only; default: as loaded).
        ablation_at_map_size: the constant-map ablation also at the map size when that is
            not the training size (False: at the training size only; the demo).

    Returns:
        ``{"runs": {model: RunResult (first seed)}, "delong": {...} (first seed), "localization":
        {...} (first seed), "paths", "models" (first seed), "table" (Table 5's per-model
        results, aggregated over seeds), "seeds", "delong_per_seed",
        "localization_per_seed", "ceiling", "elapsed_s", "train_seconds"}``.
    """
    import time

    start = time.time()
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"Expected `seeds` as an integer >= 1. Received: seeds={seeds!r}")
    data = data if data is not None else load_experiment_data(base_cfg, map_size)
    out_dir = Path(out_dir or base_cfg.run_dir)
    tables = _tables_in(expected_csv)
    seed_values = [base_cfg.train.seed + k for k in range(seeds)]
    many = seeds > 1
    test = data.splits["test"]
    y = test.targets[:, 0]
    per_seed, train_seconds = [], {}
    for seed in seed_values:
        sub = out_dir / f"seed{seed}" if many else out_dir
        prefix = f"{base_cfg.name}/seed{seed}" if many else base_cfg.name
        runs, loaded = {}, {}
        for name in models:
            print(f"\n=== {name}" + (f" (seed {seed})" if many else ""))
            t0 = time.time()
            cfg = replace(base_cfg, **{"model.name": name, "name": f"{prefix}/{name}",
                                       "table": f"Table 4 {name}", "train.seed": seed})
            run = train(cfg, data=data, render=attention_renderer(alpha=0.2))
            if f"Table 4 {name}" in tables:  # the paper's per-class numbers beside ours
                report.write_report(run.metrics, run.run_dir, table=f"Table 4 {name}",
                                    expected_csv=expected_csv)
            runs[name] = run
            loaded[name] = load_model(run.paths["model_h5"])
            train_seconds[name if not many else f"seed{seed}/{name}"] = time.time() - t0
        scores = {n: np.load(r.run_dir / "test_predictions.npz")["y_score"][:, 0]
                  for n, r in runs.items()}
        tests = {amm: evaluate.delong_test(y, scores[amm], scores[baseline_of(amm)],
                                           names=(amm, baseline_of(amm)))
                 for amm in runs if baseline_of(amm) in runs}
        paths = report.write_comparison(
            {n: r.metrics for n, r in runs.items()}, sub, name="table5", tests=tests or None,
            expected_csv=expected_csv if "Table 5" in tables else None, table="Table 5",
            subset=True)
        curves = {n: r.metrics["roc_curves"][r.metrics["class_names"][-1]]
                  for n, r in runs.items() if r.metrics.get("roc_curves")}
        if curves:
            paths["roc"] = evaluate.plot_roc(curves, sub / "figures" / "roc_all_models.png",
                                             title="ROC on held-out patients (Fig. 6)")
        loc = localization(loaded, test, sub, boxes=boxes, seed=seed,
                           train_size=base_cfg.data.image_size,
                           ablation_at_map_size=ablation_at_map_size)
        paths["localization"] = atomic_write_json(sub / "localization.json", loc)
        paths["delong"] = atomic_write_json(sub / "delong.json", tests)
        per_seed.append({"seed": seed, "runs": runs, "tests": tests, "loc": loc,
                         "paths": paths, "models": loaded if not per_seed else None})
    first = per_seed[0]
    table = {n: r.metrics for n, r in first["runs"].items()}
    paths = dict(first["paths"])
    if many:
        table = {n: report.aggregate_folds([ps["runs"][n].metrics for ps in per_seed])
                 for n in models}
        extra = [f"Mean ± sd over {seeds} training seeds ({', '.join(map(str, seed_values))}) "
                 "on one patient-wise split (the same test patients for every seed).", ""]
        if first["tests"]:
            extra += ["Paired DeLong test of each AMM model against its GAP baseline, per seed:",
                      "", delong_markdown([ps["tests"] for ps in per_seed], seed_values)]
        paths.update(report.write_comparison(
            table, out_dir, name="table5", expected_csv=expected_csv if "Table 5" in tables else None,
            table="Table 5", subset=True, extra=extra))
    loc_md = localization_markdown([ps["loc"] for ps in per_seed])
    faith_md = faithfulness_markdown([ps["loc"] for ps in per_seed])
    if faith_md:
        loc_md += "\n\n**Faithfulness of the maps** (issue 26)\n\n" + faith_md
    paths["localization_md"] = atomic_write_text(out_dir / "localization.md",
                                                 "**Localization**\n\n" + loc_md + "\n")
    if many:
        paths["localization"] = atomic_write_json(
            out_dir / "localization.json", {f"seed{ps['seed']}": ps["loc"] for ps in per_seed})
        paths["delong"] = atomic_write_json(
            out_dir / "delong.json", {f"seed{ps['seed']}": ps["tests"] for ps in per_seed})
    exp = {"runs": first["runs"], "delong": first["tests"], "localization": first["loc"],
           "paths": paths, "models": first["models"], "table": table, "seeds": seed_values,
           "delong_per_seed": [ps["tests"] for ps in per_seed],
           "localization_per_seed": [ps["loc"] for ps in per_seed],
           "ceiling": bayes_ceiling_of(data), "train_seconds": train_seconds}
    exp["elapsed_s"] = time.time() - start
    return exp

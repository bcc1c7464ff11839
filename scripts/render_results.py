"""Render the number blocks of the READMEs from committed result files, or check them.

    python scripts/render_results.py          # rewrite every block in place
    python scripts/render_results.py --check  # exit 1, naming the block, if a README differs

A block in a Markdown file is the text between ``<!-- results: NAME -->`` and
``<!-- /results: NAME -->``; :data:`BLOCKS` maps each NAME to the JSON file it is made from
(relative to the repository root) and the function that writes it. Numbers in those blocks
are therefore never typed by hand: change the result file (by rerunning the command the
block names) and re-render; ``tests/test_render_results.py`` fails when a README and its
results disagree.

No TensorFlow, no heartcv import: this runs in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _f(x, digits=3):
    return "n/a" if x is None else f"{x:.{digits}f}"


def _pm(d, digits=3):
    return f"{d['mean']:.{digits}f} ± {d['sd']:.{digits}f}"


def jsrt_seeds(r: dict) -> str:
    s = r["summary"]
    lines = [
        "| Seed | best val Dice (epoch) | heart Dice | left lung | right lung | CTR MAE | CTR AUROC (CTR > 0.5) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in r["seeds"]:
        mark = " (shipped)" if row["seed"] == r["shipped_seed"] else ""
        lines.append(f"| {row['seed']}{mark} | {row['val_dice']:.4f} ({row['best_epoch']} of "
                     f"{row['epochs_run']}) | {row['dice_heart']:.3f} | {row['dice_left_lung']:.3f} | "
                     f"{row['dice_right_lung']:.3f} | {row['ctr_mae']:.4f} | {row['ctr_auroc']:.3f} |")
    lines.append(f"| **mean ± sd** | | **{_pm(s['dice_heart'])}** | {_pm(s['dice_left_lung'])} | "
                 f"{_pm(s['dice_right_lung'])} | **{_pm(s['ctr_mae'], 4)}** | "
                 f"**{_pm(s['ctr_auroc'])}** |")
    return "\n".join(lines)


def jsrt_shifts(r: dict) -> str:
    lines = ["| Shift | heart Dice | images < 0.8 | left lung | right lung | CTR MAE | CTR AUROC |",
             "|:---|---:|---:|---:|---:|---:|---:|"]
    for name, m in r["shift_summary"].items():
        lines.append(f"| {name} | {_pm(m['dice_heart'])} | {m['heart_below_0.8']['mean']:.0%} | "
                     f"{_pm(m['dice_left_lung'])} | {_pm(m['dice_right_lung'])} | "
                     f"{_pm(m['ctr_mae'], 4)} | {_pm(m['ctr_auroc'])} |")
    worst = min(m["dice_heart"]["mean"] for m in r["shift_summary"].values())
    lines.append("")
    lines.append(f"Lowest mean heart Dice under any shift: **{worst:.3f}** "
                 f"(mean over the {len(r['seeds'])} seeds).")
    return "\n".join(lines)


def jsrt_range_shift(r: dict) -> str:
    rs = r["range_shift"]
    bands = list(next(iter(rs.values()))[0]["bands"])
    head = "| Recipe (run) | heart Dice | CTR MAE | " + " | ".join(
        f"bias, CTR {b} (n)" for b in bands if any(run["bands"][b]["n"] for v in rs.values() for run in v)) + " |"
    used = [b for b in bands if any(run["bands"][b]["n"] for v in rs.values() for run in v)]
    lines = [head, "|:---|" + "---:|" * (2 + len(used))]
    for name, runs in rs.items():
        for run in runs:
            cells = " | ".join(f"{_f(run['bands'][b]['bias'])} ({run['bands'][b]['n']})" for b in used)
            lines.append(f"| {name} ({run['run']}) | {run['dice_heart']:.3f} | "
                         f"{run['ctr_mae']:.4f} | {cells} |")
        if len(runs) > 1:
            def mean(values):
                return sum(values) / len(values)

            cells = " | ".join(f"**{mean([x['bands'][b]['bias'] for x in runs]):.3f}**" for b in used)
            lines.append(f"| **{name}, mean of {len(runs)} seeds** | "
                         f"**{mean([x['dice_heart'] for x in runs]):.3f}** | "
                         f"**{mean([x['ctr_mae'] for x in runs]):.4f}** | {cells} |")
    return "\n".join(lines)


def qc_built_to_fail(r: dict) -> str:
    kinds = ["jsrt_test", "flipped", "rotated_90", "inverted", "half_top", "half_side", "lateral",
             "not_a_chest", "built_to_fail"]
    lines = ["| Input | n | flagged (review or fail) | failed | most common reasons |",
             "|:---|---:|---:|---:|:---|"]
    for k in kinds:
        row = r[k]
        reasons = ", ".join(row.get("top_reasons", {}))
        failed = row.get("failed", "")
        lines.append(f"| {k.replace('_', ' ')} | {row['n']} | {row['flagged']} "
                     f"({row['flagged_share']:.1%}) | {failed} | {reasons} |")
    return "\n".join(lines)


def nih_ctr_check(r: dict) -> str:
    lines = ["| Model | films | QC flagged (failed) | PA: AUROC Cardiomegaly vs No Finding [95 % CI] (films scored) | PA films called | AP films called |",
             "|:---|---:|---:|---:|---:|---:|"]
    for key, label in (("v1", "before (v1 recipe)"), ("new", "shipped now")):
        m = r[key]
        flagged = m["PA"]["flagged"] + m["AP"]["flagged"]
        failed = m["PA"]["failed"] + m["AP"]["failed"]
        c = m["PA"]["cardiomegaly_vs_no_finding"]
        lines.append(f"| {label} | {m['n']} | {flagged} ({failed}) | {_f(c['auroc'])} "
                     f"[{_f(c['auroc_ci'][0], 2)}, {_f(c['auroc_ci'][1], 2)}] "
                     f"({c['n_scored (QC not fail)']} of {c['n_cardiomegaly'] + c['n_no_finding']}) | "
                     f"{m['PA']['called']} of {m['PA']['n']} | {m['AP']['called']} of {m['AP']['n']} |")
    return "\n".join(lines)


def demo_summary(text: str) -> str:
    """The demo's printed results section (``docs/demo/summary.txt``, copied from a fresh
    ``make demo``'s ``runs/demo/summary.txt``)."""
    return "```\n" + text.rstrip("\n") + "\n```"


def _ci3(r, key, digits=2, pct=False):
    lo, hi = r[f"{key}_ci_low"], r[f"{key}_ci_high"]
    f = (lambda v: f"{100 * v:+.1f}") if pct else (lambda v: f"{v:+.{digits}f}")
    return f"{f(r[key])} [{f(lo)}, {f(hi)}]"


def demo_reading(r: dict) -> str:
    """The README's "Read it honestly" paragraph, its every number and verdict taken from the
    demo's committed ``results.json`` (so a rerun that flips a conclusion flips the text)."""
    amm, gap = "cxa_densenet121", "densenet121_gap"
    a, g, c = r[f"{amm}/auroc"], r[f"{gap}/auroc"], r["ceiling/auroc"]
    diff, p = r[f"delong/{amm}/difference"], r[f"delong/{amm}/p"]
    ahead = amm if diff > 0 else gap
    verdict = ("DeLong's paired test establishes it" if p < 0.05 else
               "DeLong's paired test on these test images does not establish it")
    parts = [f"Read it honestly: both models learn (test AUROC {a:.2f} for the AMM model, "
             f"{g:.2f} for the GAP baseline, against the phantom's ceiling of {c:.2f}); "
             f"`{ahead}` is ahead by {abs(diff):.2f}, and {verdict} (p = {p:.2g}; one seed)."]

    def loc(name, what):
        key = f"localization/{name}/mass_over_chance"
        lo, hi = r[f"{key}_ci_low"], r[f"{key}_ci_high"]
        pg = r[f"localization/{name}/pointing_game"]
        where = ("puts more of its mass on the heart than a uniform map would" if lo > 0.02 else
                 "puts slightly more of its mass on the heart than a uniform map would" if lo > 0
                 else "puts less of its mass on the heart than a uniform map would" if hi < 0
                 else "puts no more of its mass on the heart than a uniform map would")
        return (f"the {what} {where} (excess {_ci3(r, key, pct=True)} points) and wins the "
                f"pointing game in {pg:.0%} of the cardiomegaly images")

    parts.append("Localization at 224 px (7×7 cells): " + loc(gap, "GAP baseline's Grad-CAM")
                 + "; " + loc(amm, "AMM attention map") + ".")
    f = f"faithfulness/{amm}"
    uses = r.get(f"{f}/uses_map_train_size", r.get(f"{f}/classifier_uses_map"))
    const = r.get(f"{f}/auroc_constant_map_train_size")
    base = r.get(f"{f}/auroc_train_size")
    follows = r.get(f"{f}/follows_input")
    if const is not None and base is not None:
        parts.append(
            f"Is the AMM map real? With W made constant the AMM model's AUROC goes "
            f"{base:.3f} → {const:.3f}: the classifier "
            + ("depends on where W is high" if uses else "ignores where W is high")
            + "; flipping the image " + ("moves" if follows else "does not move")
            + f" its map with it (flip gain {r[f'{f}/flip_gain']:+.2f}), and a blank grey image "
            f"gives a map with r = {r[f'{f}/blank_correlation']:.2f} to the mean map"
            + (" (a position prior)." if r.get(f"{f}/position_prior") else "."))
    parts.append("What it means for the paper's claim at this scale (96-px training, 3×3 "
                 "attention grid, 6 epochs): the demo cannot support \"the AMM localizes "
                 "cardiomegaly\". The cardio experiment's 224-px rows (7×7 grid, 3 seeds; "
                 "experiments/cardio_xattentionnet/README.md) test it at the paper's input "
                 "size.")
    text = " ".join(parts)
    return textwrap.fill(text, 95, break_on_hyphens=False)


ECG_ARCH = {"ecg_cnn2d": "CNN2D", "ecg_cnn3d": "CNN3D", "ecg_hybrid": "Hybrid",
            "ecg_timedistributed_cnn": "Time Dist CNN", "ecg_attn_lstm": "Attn LSTM",
            "ecg_attention_vgg": "CNN with Attn"}


def _ecg_base(row: str) -> str:
    """The architecture key a row name starts with (the longest that matches)."""
    return next(k for k in sorted(ECG_ARCH, key=len, reverse=True) if row.startswith(k))


def _ecg_label(row: str) -> str:
    base = _ecg_base(row)
    label = ECG_ARCH[base]
    label += " + background norm" if "_bgnorm" in row[len(base):] else ""
    label += " + lead augmentation" if row.endswith("_aug") else ""
    return label


def _ecg_rows(r: dict) -> list:
    order = list(ECG_ARCH)
    rows = [k for k in r["rows"] if k != "probe"]
    return sorted(rows, key=lambda k: (order.index(_ecg_base(k)), k))


def _v(m, digits=3):
    return f"{m['value']:.{digits}f} [{m['ci_low']:.{digits}f}, {m['ci_high']:.{digits}f}]"


def ecg_cv(r: dict) -> str:
    """The grouped K-fold CV table of ``ecg_images_5class`` (``results/cv5_leads28.json``)."""
    mi = r["class_names"][0]
    lines = [f"| Row | Epochs | Accuracy [95% CI] | MI recall (of {r['rows']['probe']['per_class'][mi]['support']}) "
             "[95% CI] | MI precision [95% CI] | Credited | Training, 5 folds (wall) |",
             "|:---|---:|---:|---:|---:|:---:|---:|"]
    for k in _ecg_rows(r):
        row = r["rows"][k]
        pc = row["per_class"][mi]
        found = row["confusion_matrix"][0][0]
        called = sum(c[0] for c in row["confusion_matrix"])
        prec = (f"{pc['precision']['value']:.3f} ({found} of {called})" if called <= 2 else
                _v(pc["precision"])) if called else "none called MI"
        lines.append(f"| {_ecg_label(k)} (`{k}`) | {row['epochs']} | {_v(row['accuracy'])} | "
                     f"{pc['recall']['value']:.3f} ({found}) [{pc['recall']['ci_low']:.3f}, "
                     f"{pc['recall']['ci_high']:.3f}] | {prec} | "
                     f"{'**yes**' if row['credited'] else 'no'} | {row['seconds']:.0f} s |")
    p = r["rows"]["probe"]
    pc = p["per_class"][mi]
    lines.append(f"| Shortcut probe (trace-free crop statistics, per fold logistic regression or "
                 f"gradient boosting by validation accuracy) | | {_v(p['accuracy'])} | "
                 f"{pc['recall']['value']:.3f} ({p['confusion_matrix'][0][0]}) "
                 f"[{pc['recall']['ci_low']:.3f}, {pc['recall']['ci_high']:.3f}] | "
                 f"{_v(pc['precision'])} | | |")
    credited = [_ecg_label(k) for k in _ecg_rows(r) if r["rows"][k]["credited"]]
    lines += ["", f"Credited (pooled accuracy interval above the probe's): "
              f"{', '.join(credited) if credited else 'none'}."]
    return "\n".join(lines)


def ecg_source_shift(r: dict) -> str:
    """MI recall of each fold's model on the MI printouts (``--source-shift``)."""
    ss = r["source_shift"]
    names = {"myocardial_infarction": "MI", "history_of_mi": "history of MI", "covid19": "COVID-19"}
    lines = [f"| Row | MI recall, {ss['n']} printouts (mean of {r['k']} folds) | Per fold | "
             "Called (pooled over folds) |", "|:---|---:|:---|:---|"]
    for k in _ecg_rows(r):
        if k not in ss:
            continue
        s = ss[k]
        called = ", ".join(f"{names.get(c, c)} {v:.2f}" for c, v in s["called"].items() if v > 0)
        lines.append(f"| {_ecg_label(k)} | {s['recall']:.2f} | "
                     f"{' '.join(f'{v:g}' for v in s['recall_per_fold'])} | {called} |")
    best = max((k for k in _ecg_rows(r) if k in ss), key=lambda k: ss[k]["recall"])
    lines += ["", f"Best: {_ecg_label(best)}, {ss[best]['recall']:.2f} (target 0.8)."]
    return "\n".join(lines)


def _mmss(seconds):
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s} s" if m else f"{s} s"


def timings(r: dict) -> str:
    """The README's time / memory / disk table (``docs/timings.json``: every measurement with
    its date, machine load and source)."""
    lines = ["| | Wall time on the 2-core CPU box | CPU time (user + sys) | Peak memory (max RSS) "
             "| Disk |", "|---|---|---|---|---|"]
    for row in r["rows"]:
        runs = row.get("runs", [])
        wall = "; ".join(f"{_mmss(m['wall_s'])} (load {m['load']}, {m['date']})" for m in runs) \
            or "not measured"
        cpu = "; ".join(_mmss(m["cpu_s"]) for m in runs if m.get("cpu_s")) or ""
        rss = max((m["max_rss_gb"] for m in runs if m.get("max_rss_gb")), default=None)
        lines.append(f"| {row['what']} | {wall} | {cpu} | "
                     f"{'' if rss is None else f'{rss:.1f} GB'} | {row.get('disk', '')} |")
    lines += ["", "Load is the 1-minute load average on the 2 cores during the run (above 2: "
              "other jobs shared the box, so wall time is longer than on an idle one). Sources: "
              + "; ".join(f"{m['date']}: {m['source']}" for row in r["rows"]
                          for m in row.get("runs", [])) + "."]
    return "\n".join(lines)


def cardio_localization_224(r: dict) -> str:
    """The 224-px localization rows (issue 26), per seed and mean ± sd, from the cardio
    experiment's ``results.json`` (``results/localization_224_cpu.json``)."""
    models = ("cxa_densenet121", "densenet121_gap")
    seeds = sorted({int(k.split("/")[1][4:]) for k in r if k.startswith("localization/seed")})

    def ci(key, pct=False, digits=2):
        v, lo, hi = r[key], r[f"{key}_ci_low"], r[f"{key}_ci_high"]
        if pct:
            return f"{v:.0%} [{lo:.0%}, {hi:.0%}]"
        return f"{v:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"

    head = ("| Seed | Model | AUROC (224 px) | AUROC with W constant (Δ, p) | Heart r [95% CI] | "
            "Flip r: follows / stays | Mass on heart after min–max [CI] (chance) | "
            "Pointing game [CI] |")
    lines = [head, "|---:|:---|---:|---:|---:|---:|---:|---:|"]
    for s_ in seeds:
        for m in models:
            f, loc = f"faithfulness/seed{s_}/{m}", f"localization/seed{s_}/{m}"
            if f"{f}/auroc_constant_map" in r:
                abl = (f"{r[f'{f}/auroc_constant_map']:.3f} (Δ {-r[f'{f}/auroc_drop']:+.3f}, "
                       f"p = {r[f'{f}/auroc_drop_p']:.2g})")
            else:
                abl = "n/a (GAP)"
            lines.append(
                f"| {s_} | `{m}` | {r[f'{loc}/auroc_at_map_size']:.3f} | {abl} | "
                f"{ci(f'{f}/heart_correlation')} | {r[f'{f}/flip_follow']:.2f} / "
                f"{r[f'{f}/flip_stay']:.2f} | {ci(f'{f}/mass_minmax', pct=True)} "
                f"({r[f'{f}/area_fraction']:.0%}) | {ci(f'{loc}/pointing_game', pct=True)} |")

    def ms(key_fmt, m, fmt="{:.3f}"):
        vals = [r[key_fmt.format(s=s_, m=m)] for s_ in seeds if key_fmt.format(s=s_, m=m) in r]
        if not vals:
            return "n/a"
        mean = sum(vals) / len(vals)
        sd = (sum((v - mean) ** 2 for v in vals) / max(len(vals) - 1, 1)) ** 0.5
        return f"{fmt.format(mean)} ± {fmt.replace('+', '').format(sd)}"

    for m in models:
        lines.append(
            f"| **mean ± sd** | `{m}` | {ms('localization/seed{s}/{m}/auroc_at_map_size', m)} | "
            f"{ms('faithfulness/seed{s}/{m}/auroc_constant_map', m)} | "
            f"{ms('faithfulness/seed{s}/{m}/heart_correlation', m, '{:+.2f}')} | "
            f"{ms('faithfulness/seed{s}/{m}/flip_follow', m, '{:.2f}')} / "
            f"{ms('faithfulness/seed{s}/{m}/flip_stay', m, '{:.2f}')} | "
            f"{ms('faithfulness/seed{s}/{m}/mass_minmax', m, '{:.0%}')} | "
            f"{ms('localization/seed{s}/{m}/pointing_game', m, '{:.0%}')} |")
    d = [r[f"delong/seed{s_}/cxa_densenet121/difference"] for s_ in seeds]
    p = [r[f"delong/seed{s_}/cxa_densenet121/p"] for s_ in seeds]
    lines += ["", "AMM − GAP, DeLong per seed: " + "; ".join(
        f"seed {s_}: ΔAUROC {a:+.3f} (p = {b:.2g})" for s_, a, b in zip(seeds, d, p))
        + f". Bayes ceiling of the phantom's labels: AUROC {r['ceiling/auroc']:.3f}."]
    return "\n".join(lines)


BLOCKS = {
    "nih_ctr_check": ("experiments/chd_xray_vgg_unet/results/nih_ctr_check.json", nih_ctr_check),
    "jsrt_heart_lungs_seeds": ("experiments/chd_xray_vgg_unet/results/jsrt_heart_lungs_seeds.json",
                               jsrt_seeds),
    "jsrt_heart_lungs_shifts": ("experiments/chd_xray_vgg_unet/results/jsrt_heart_lungs_seeds.json",
                                jsrt_shifts),
    "jsrt_range_shift": ("experiments/chd_xray_vgg_unet/results/jsrt_heart_lungs_seeds.json",
                         jsrt_range_shift),
    "qc_built_to_fail": ("experiments/chd_xray_vgg_unet/results/qc_built_to_fail.json",
                         qc_built_to_fail),
    "demo": ("docs/demo/summary.txt", demo_summary),
    "timings": ("docs/timings.json", timings),
    "cardio_localization_224": ("experiments/cardio_xattentionnet/results/localization_224_cpu.json",
                                cardio_localization_224),
    "ecg_cv": ("experiments/ecg_images_5class/results/cv5_leads28.json", ecg_cv),
    "ecg_source_shift": ("experiments/ecg_images_5class/results/cv5_leads28.json",
                         ecg_source_shift),
    "demo_reading": ("docs/demo/results.json", demo_reading),
}


def load(path: Path):
    """A block's source: JSON, or text (``.txt``) passed as it is."""
    text = path.read_text(encoding="utf-8")
    return text if path.suffix == ".txt" else json.loads(text)

MARKER = re.compile(r"(<!-- results: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(\n<!-- /results: (?P=name) -->)",
                    re.S)


def render_text(text: str, root: Path = ROOT) -> str:
    """``text`` with every known block re-rendered from its result file."""

    def repl(m):
        name = m.group("name")
        if name not in BLOCKS:
            raise KeyError(f"unknown results block {name!r}; known: {sorted(BLOCKS)}")
        path, fn = BLOCKS[name]
        body = fn(load(root / path))
        return m.group(1) + body + m.group(4)

    return MARKER.sub(repl, text)


def documents(root: Path = ROOT):
    out = [root / "README.md", *sorted((root / "experiments").glob("*/README.md")),
           root / "models" / "README.md"]
    return [p for p in out if p.is_file() and "<!-- results:" in p.read_text(encoding="utf-8")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="exit 1 if a block differs")
    p.add_argument("--root", default=str(ROOT))
    args = p.parse_args(argv)
    root = Path(args.root)
    stale = []
    for doc in documents(root):
        text = doc.read_text(encoding="utf-8")
        new = render_text(text, root)
        if new != text:
            if args.check:
                names = [m.group("name") for m in MARKER.finditer(text)
                         if m.group(0) not in new]
                stale.append(f"{doc.relative_to(root)}: {', '.join(names)}")
            else:
                tmp = doc.with_suffix(".md.tmp")
                tmp.write_text(new, encoding="utf-8")
                tmp.replace(doc)
                print(f"rendered {doc.relative_to(root)}")
    if stale:
        print("results blocks differ from their result files (run "
              "`python scripts/render_results.py`):\n  " + "\n  ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

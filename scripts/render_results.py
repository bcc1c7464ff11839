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
}

MARKER = re.compile(r"(<!-- results: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(\n<!-- /results: (?P=name) -->)",
                    re.S)


def render_text(text: str, root: Path = ROOT) -> str:
    """``text`` with every known block re-rendered from its result file."""

    def repl(m):
        name = m.group("name")
        if name not in BLOCKS:
            raise KeyError(f"unknown results block {name!r}; known: {sorted(BLOCKS)}")
        path, fn = BLOCKS[name]
        body = fn(json.loads((root / path).read_text(encoding="utf-8")))
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

"""Numbers in the READMEs come from committed result files (scripts/render_results.py):
every block matches its file, and a number changed by hand makes the check fail."""

import shutil
import subprocess
import sys
from pathlib import Path
from tests.conftest import load_module

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "render_results.py"


def _module():
    return load_module(SCRIPT, "render_results")


def test_every_results_block_matches_its_result_file():
    run = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    mod = _module()
    docs = mod.documents()
    assert docs, "no README has a results block"
    names = {m.group("name") for d in docs for m in mod.MARKER.finditer(d.read_text())}
    assert names == set(mod.BLOCKS), f"blocks never used or unknown: {names ^ set(mod.BLOCKS)}"


def test_a_number_changed_by_hand_fails_the_check(tmp_path):
    mod = _module()
    doc = mod.documents()[0]
    rel = doc.relative_to(ROOT)
    copy = tmp_path / "repo"
    (copy / rel).parent.mkdir(parents=True)
    text = doc.read_text()
    for name in {p for p, _ in mod.BLOCKS.values()}:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, copy / name)
    m = next(mod.MARKER.finditer(text))
    body = m.group("body")
    digit = next(i for i, c in enumerate(body) if c.isdigit() and c != "9")
    changed = body[:digit] + "9" + body[digit + 1:]
    (copy / rel).write_text(text.replace(body, changed, 1))
    run = subprocess.run([sys.executable, str(SCRIPT), "--check", "--root", str(copy)],
                         capture_output=True, text=True)
    assert run.returncode == 1 and m.group("name") in run.stderr
    # rendering repairs it
    subprocess.run([sys.executable, str(SCRIPT), "--root", str(copy)], check=True,
                   capture_output=True)
    assert (copy / rel).read_text() == text


def _numbers(text):
    import re

    return [float(x) for x in re.findall(r"[-+]?\d+\.\d+|[-+]?\d+(?=%)", text)]


def test_demo_summary_numbers_come_from_its_results_file():
    """Every AUROC, CI and test of the committed demo summary is the committed results.json's
    number as the demo prints it (the two files come from one run)."""
    import json

    text = (ROOT / "docs" / "demo" / "summary.txt").read_text(encoding="utf-8")
    r = json.loads((ROOT / "docs" / "demo" / "results.json").read_text(encoding="utf-8"))
    lines = text.splitlines()
    for name in ("cxa_densenet121", "densenet121_gap"):
        line = next(line for line in lines if line.startswith(name))
        assert (f"AUROC {r[name + '/auroc']:.3f} [95% CI {r[name + '/auroc_ci_low']:.3f}"
                f"–{r[name + '/auroc_ci_high']:.3f}]") in line, (name, line)
        assert f"accuracy {r[name + '/accuracy']:.3f}" in line
        assert f"AUROC there {r[f'localization/{name}/auroc_at_map_size']:.3f}" in text
        assert f"{r[f'localization/{name}/mass_inside']:.0%} [" in text
    assert f"AUROC {r['ceiling/auroc']:.3f}" in text
    assert f"ΔAUROC {r['delong/cxa_densenet121/difference']:+.3f}" in text
    assert f"p = {r['delong/cxa_densenet121/p']:.3g}" in text

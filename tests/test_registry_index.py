"""heartcv/_registry_index.py (what ``heartcv list-models`` and ``prep --help`` read) matches
the live registries; ``python scripts/registry_index.py`` rewrites it (issue 25)."""

from pathlib import Path

from heartcv import _registry_index
from heartcv.cli import main
from tests.conftest import load_module

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "registry_index.py"
REGENERATE = "out of date: run python scripts/registry_index.py"


def _script():
    return load_module(SCRIPT, "registry_index_script")


def test_the_index_equals_the_live_registries():
    script = _script()
    live = script.live_index()
    assert _registry_index.MODELS == live["models"], REGENERATE
    assert _registry_index.PAPERS == live["papers"], REGENERATE
    assert _registry_index.DATASETS == live["datasets"], REGENERATE
    assert SCRIPT.parent.parent.joinpath("heartcv", "_registry_index.py").read_text() == \
        script.render(live), REGENERATE


def test_check_mode_fails_on_a_stale_index(tmp_path, monkeypatch, capsys):
    script = _script()
    stale = tmp_path / "_registry_index.py"
    stale.write_text(script.render({"models": (), "papers": (), "datasets": ()}))
    monkeypatch.setattr(script, "INDEX", stale)
    assert script.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert script.main([]) == 0 and script.main(["--check"]) == 0


def test_list_models_prints_the_index(capsys):
    assert main(["list-models", "--task", "segmentation"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == [m[0] for m in _registry_index.MODELS if m[1] == "segmentation"]

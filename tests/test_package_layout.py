"""The package layout of issue 11: no import cycles, shared code never imports a paper, one
package per paper keyed by its experiments/ folder, and the registries read from disk."""

import ast
import pathlib

import pytest

from tests.conftest import load_module

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "heartcv"
PAPER_KEYS = ("cardio_xattentionnet", "chd_xray_vgg_unet", "cxr14_transfer_learning",
              "ecg_images_5class", "mitbih_ecg_beats")
# Application entry points may import a paper; shared methods may not.
MAY_IMPORT_PAPERS = {"heartcv", "heartcv.cli", "heartcv.demo"}

def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, pathlib.Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def _imports(path: pathlib.Path, name: str, modules) -> set[str]:
    """Every heartcv module ``name`` imports, at any depth (functions included)."""
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = []
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in modules else base)
        else:
            continue
        out.update(t for t in targets if t in modules and t != name)
    return out


def _graph():
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_heartcv_modules():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_shared_code_never_imports_a_paper():
    offenders = []
    for name, targets in _graph().items():
        if name.startswith("heartcv.papers") or name in MAY_IMPORT_PAPERS:
            continue
        bad = sorted(t for t in targets if t.startswith("heartcv.papers."))
        if bad:
            offenders.append(f"{name} -> {', '.join(bad)}")
    assert not offenders, "shared modules importing a paper: " + "; ".join(offenders)


def test_registry_imports_nothing_of_heartcv():
    assert _graph()["heartcv.registry"] == set()


@pytest.mark.parametrize("key", PAPER_KEYS)
def test_one_folder_per_paper_everywhere(key):
    import heartcv

    assert (PKG / "papers" / key / "__init__.py").is_file()
    assert (PKG / "papers" / key / "experiment.py").is_file()
    assert (ROOT / "experiments" / key / "run.py").is_file()
    assert (ROOT / "tests" / "papers" / key).is_dir()
    paper = heartcv.get_paper(key)
    assert paper.key == key and paper.title and paper.citation
    assert paper.models, f"no registered model has paper={key!r}"
    for name in paper.models:
        assert heartcv.get_spec(name).paper == key


def test_chd_paper_folder_holds_everything_chd_specific():
    names = {p.name for p in (PKG / "papers" / "chd_xray_vgg_unet").iterdir()}
    assert {"__init__.py", "models.py", "segmentation.py", "contours", "prep.py",
            "experiment.py"} <= names


def test_list_models_by_paper():
    import heartcv

    assert heartcv.list_models(paper="chd_xray_vgg_unet") == \
        ["unet", "vgg16_finetune", "vgg16_unet", "vgg16_view"]
    with pytest.raises(ValueError, match="Did you mean 'chd_xray_vgg_unet'"):
        heartcv.list_models(paper="chd_xray_vgg_unt")


@pytest.mark.parametrize("old", [
    "heartcv._compat", "heartcv.models.attention", "heartcv.models.chd",
    "heartcv.models.segmentation", "heartcv.models.ecg_attention", "heartcv.papers.chd_xray",
    "heartcv.papers.ecg_images", "heartcv.data.ecg_layout", "heartcv.data.contours.outline",
    "heartcv.data.prepare.jsrt",
])
def test_the_pre_move_import_paths_are_gone(old):
    """The one-release aliases of issue 11 were retired in issue 22: one path per module."""
    import importlib

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)


def _package_checks():
    return load_module(ROOT / "scripts" / "package_checks.py", "package_checks")


def test_package_structure_limits_of_issue_22():
    """No module over 600 lines, no alias module, no cross-module underscore import, at most 60
    function-local imports of heartcv modules, at most 15 functions of radon grade D or worse
    (when radon is installed): scripts/package_checks.py, whose --list names each offender."""
    checks = _package_checks()
    m = checks.measure()
    assert not m["modules_over_limit"], m["modules_over_limit"]
    assert m["alias_modules"] == 0, m["alias_list"]
    assert m["underscore_imports"] == 0, m["underscore_list"]
    assert m["local_heartcv_imports"] <= checks.LIMITS["local_heartcv_imports"], m["local_list"]
    if m["radon_d_or_worse"] is not None:
        assert m["radon_d_or_worse"] <= checks.LIMITS["radon_d_or_worse"], m["radon_list"]


def test_package_checks_catch_what_they_measure(tmp_path, monkeypatch):
    """The measures are not vacuous: a planted long module, an underscore import across
    modules and a function-local heartcv import are each counted."""
    checks = _package_checks()
    pkg = tmp_path / "heartcv"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def _private():\n    return 1\n" + "x = 1\n" * 700)
    (pkg / "b.py").write_text("from heartcv.a import _private\n\n\ndef f():\n"
                              "    from heartcv import a\n    return a\n")
    monkeypatch.setattr(checks, "ROOT", tmp_path)
    monkeypatch.setattr(checks, "PKG", pkg)
    m = checks.measure()
    assert "heartcv.a" in m["modules_over_limit"]
    assert m["underscore_imports"] == 1 and "heartcv.a._private" in m["underscore_list"][0]
    assert m["local_heartcv_imports"] == 1 and m["local_list"] == ["heartcv.b:5"]

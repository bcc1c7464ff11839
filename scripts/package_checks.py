"""The package's own structure checks (issue 22): module size, complexity, aliases, imports.

    python scripts/package_checks.py            # prints every measure against its limit
    python scripts/package_checks.py --strict   # exit 1 when one is over

Measures (limits in LIMITS):
- lines of every module under heartcv/ (none over 600);
- radon cyclomatic-complexity grade D or worse (complexity > 20), when radon is installed;
- alias modules (a module whose only job is to re-point an old import path);
- function-local imports of heartcv modules (an import statement inside a def);
- cross-module underscore imports (``from heartcv.x import _name`` from another module).
"""

from __future__ import annotations

import argparse
import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "heartcv"
LIMITS = {"max_module_lines": 600, "radon_d_or_worse": 15, "alias_modules": 0,
          "local_heartcv_imports": 60, "underscore_imports": 0}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, name: str, is_pkg: bool) -> str:
    base = node.module or ""
    if node.level:
        anchor = name.split(".") if is_pkg else name.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    return base


def module_lines() -> dict[str, int]:
    return {module_name(p): len(p.read_text().splitlines()) for p in sorted(PKG.rglob("*.py"))}


#: Module ``__getattr__`` hooks that are not old paths, and the only names each may give.
#: ``heartcv.load_model`` / ``save_model`` come from :mod:`heartcv.io`, which imports Keras;
#: ``import heartcv`` must not import Keras while registration is deferred (the ``heartcv``
#: command, ``experiments/*/run.py --help``), so the package gives these two lazily. They are
#: public names of today's API, not a moved module, so this hook is not an alias.
LAZY_ATTRIBUTES = {"heartcv": {"load_model", "save_model"}}


def _hook_names(hook: ast.FunctionDef) -> set[str]:
    """The string constants a ``__getattr__`` hook compares ``name`` with."""
    names = set()
    for node in ast.walk(hook):
        if isinstance(node, ast.Compare):
            for part in [node.left, *node.comparators]:
                elts = part.elts if isinstance(part, (ast.Tuple, ast.List, ast.Set)) else [part]
                names |= {e.value for e in elts
                          if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return names


def alias_modules() -> list[str]:
    """Modules that alias another (``_compat.alias``, ``sys.modules[...] =``) or re-point
    names through a module ``__getattr__`` hook (except those of :data:`LAZY_ATTRIBUTES`,
    as long as they give only the names listed there)."""
    out = []
    for p in sorted(PKG.rglob("*.py")):
        text, name = p.read_text(), module_name(p)
        tree = ast.parse(text, str(p))
        hooks = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "__getattr__"]
        lazy = name in LAZY_ATTRIBUTES and all(
            _hook_names(h) <= LAZY_ATTRIBUTES[name] for h in hooks)
        hook = bool(hooks) and not lazy
        if "_compat" in text or "sys.modules[__name__]" in text or hook or p.name == "_compat.py":
            out.append(name)
    return out


def local_imports() -> list[str]:
    """``module:line`` of every import of a heartcv module inside a function."""
    out = []
    for p in sorted(PKG.rglob("*.py")):
        name, is_pkg = module_name(p), p.name == "__init__.py"
        tree = ast.parse(p.read_text(), str(p))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    mods = [_resolve(node, name, is_pkg)]
                else:
                    continue
                if any(m == "heartcv" or m.startswith("heartcv.") for m in mods):
                    out.append(f"{name}:{node.lineno}")
    return sorted(set(out))


def underscore_imports() -> list[str]:
    """``module:line name`` where a module imports an underscore name of another heartcv
    module (dunder names and a package importing its own submodules' names are allowed)."""
    out = []
    for p in sorted(PKG.rglob("*.py")):
        name, is_pkg = module_name(p), p.name == "__init__.py"
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            if not isinstance(node, ast.ImportFrom):
                continue
            src = _resolve(node, name, is_pkg)
            if not (src == "heartcv" or src.startswith("heartcv.")) or src == name:
                continue
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    out.append(f"{name}:{node.lineno} {src}.{a.name}")
    return out


def radon_grades() -> list[str] | None:
    try:
        from radon.complexity import cc_rank, cc_visit
    except ImportError:
        return None
    out = []
    for p in sorted(PKG.rglob("*.py")):
        for block in cc_visit(p.read_text()):
            if cc_rank(block.complexity) in "DEF":
                out.append(f"{module_name(p)}:{block.lineno} {block.name} "
                           f"{cc_rank(block.complexity)}{block.complexity}")
    return out


def measure() -> dict:
    lines = module_lines()
    radon = radon_grades()
    return {
        "max_module_lines": max(lines.values()),
        "modules_over_limit": {k: v for k, v in lines.items() if v > LIMITS["max_module_lines"]},
        "radon_d_or_worse": None if radon is None else len(radon),
        "radon_list": radon or [],
        "alias_modules": len(aliases := alias_modules()),
        "alias_list": aliases,
        "local_heartcv_imports": len(local := local_imports()),
        "local_list": local,
        "underscore_imports": len(under := underscore_imports()),
        "underscore_list": under,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--strict", action="store_true", help="exit 1 when a measure is over its limit")
    p.add_argument("--list", action="store_true", help="list every offending site")
    args = p.parse_args(argv)
    m = measure()
    over = []
    for key, limit in LIMITS.items():
        value = m[key]
        if value is None:
            print(f"{key}: not measured (pip install radon)")
            continue
        flag = "OVER" if value > limit else "ok"
        over += [key] if value > limit else []
        print(f"{key}: {value} (limit {limit}) {flag}")
    if args.list:
        for k in ("modules_over_limit", "radon_list", "alias_list", "local_list",
                  "underscore_list"):
            print(f"\n{k}:")
            items = m[k].items() if isinstance(m[k], dict) else m[k]
            for item in items:
                print(f"  {item}")
    return 1 if (args.strict and over) else 0


if __name__ == "__main__":
    sys.exit(main())

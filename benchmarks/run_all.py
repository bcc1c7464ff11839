"""Run every benchmark: each ``benchmarks/*.py`` defining a top-level ``main()``.

Each runs in its own process (``python benchmarks/<name>.py``), so TensorFlow state and
memory do not carry over; the exit status is non-zero when any benchmark fails.

Run: ``make bench`` or ``.venv/bin/python benchmarks/run_all.py [NAME ...]``.
"""

import argparse
import ast
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def has_main(path):
    """Whether ``path`` defines a top-level ``main`` function (read, not imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)


def discover(folder=HERE):
    """Benchmark scripts in ``folder``, sorted, this runner excluded."""
    return [p for p in sorted(folder.glob("*.py")) if p.name != Path(__file__).name and has_main(p)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="benchmark file stems to run (default: all)")
    args = parser.parse_args(argv)
    scripts = discover()
    if args.names:
        known = {p.stem: p for p in scripts}
        missing = [n for n in args.names if n not in known]
        if missing:
            parser.error(f"unknown benchmark(s) {missing}; available: {sorted(known)}")
        scripts = [known[n] for n in args.names]
    failed = []
    for script in scripts:
        print(f"=== {script.name}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"=== {script.name}: exit {code} in {time.perf_counter() - start:.0f} s", flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""CPU and wall time of the ``heartcv`` command's fast paths, median of N runs.

    python benchmarks/cli_startup.py [--runs 5]

CPU time is the child's user + system seconds (what a busy machine does not inflate as much
as wall time). Targets (issue 25): ``heartcv --help`` and ``heartcv COMMAND --help`` at most
0.3 s of CPU, ``heartcv list-models`` at most 0.5 s; the exit status is 1 when a median misses
its target. An input error (``train missing.yaml``) is timed too (no target).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: (arguments, CPU-seconds target or None)
CASES = ((["--help"], 0.3), (["train", "--help"], 0.3), (["prep", "--help"], 0.3),
         (["predict", "--help"], 0.3), (["list-models"], 0.5), (["train", "missing.yaml"], None))


def time_command(cmd: list[str]) -> tuple[float, float]:
    """(CPU seconds of the child: user + system, wall seconds) of one run of ``cmd``."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + \
        (after.children_system - before.children_system)
    return cpu, wall


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    exe = shutil.which("heartcv") or str(Path(sys.executable).parent / "heartcv")
    missed = []
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    for cmd, target in CASES:
        runs = [time_command([exe, *cmd]) for _ in range(args.runs)]
        cpu = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        verdict = "" if target is None else (f"  target <= {target} s: "
                                             + ("ok" if cpu <= target else "MISSED"))
        print(f"heartcv {' '.join(cmd):<22} CPU median {cpu:.3f} s, wall median {wall:.3f} s "
              f"(n={args.runs}){verdict}")
        if target is not None and cpu > target:
            missed.append(" ".join(cmd))
    if missed:
        print(f"over target: {', '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

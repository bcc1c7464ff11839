"""Wall time of ``heartcv --help`` and of one input error, median of N runs (target < 1 s).

    python benchmarks/cli_startup.py [--runs 5]
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    exe = shutil.which("heartcv") or str(Path(sys.executable).parent / "heartcv")
    for cmd in (["--help"], ["train", "missing.yaml"], ["prep", "--help"]):
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            subprocess.run([exe, *cmd], capture_output=True)
            times.append(time.perf_counter() - t)
        print(f"heartcv {' '.join(cmd):<22} median {statistics.median(times):.3f} s "
              f"(min {min(times):.3f}, max {max(times):.3f}, n={args.runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

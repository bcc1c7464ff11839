"""Peak memory of ``heartcv predict`` on a 20,000 × 20,000 PNG (issue 24 item 2).

Writes a mostly constant 20,000 × 20,000 grey PNG (0.4 MB on disk, 400 million pixels) and
a small_cnn saved with a card at 96 px, then runs, each as a subprocess under
``/usr/bin/time -v`` (process start included):

(a) ``heartcv predict huge.png`` (one image): expected one ``heartcv: error:`` line naming the
    file, its size and the limit (``--max-pixels``, default 50 million), exit 2;
(b) ``heartcv predict FOLDER`` with the huge PNG and a 1024-px film: the film predicted, the
    huge one in ``skipped.csv`` with the reason, exit 0;
(c) ``heartcv predict big.png`` of a 7,000 × 7,000 grey PNG (49 million pixels, just under
    the limit) alone, and (d) in a batch with the film: predicted, to show what the largest
    accepted image costs (informational: no memory criterion; the one-image path renders
    its overlay at full size).

Prints the exit status, the stderr line, wall time and peak RSS ("Maximum resident set
size") of each, the load average before and after, and whether a ``heartcv train`` was
running (the numbers are meant for a machine without one). Exits 1 when (a) or (b) peaks at
2 GB or more, or any outcome is not the expected one. Before this guard, (a) grew to 23 GB
and was killed by the kernel.

    python benchmarks/huge_image.py [--keep DIR]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT_BYTES = 2 * 1024 ** 3


def _make_inputs(folder: Path) -> dict:
    import cv2
    import numpy as np

    from heartcv._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import heartcv

    huge = np.full((20000, 20000), 40, np.uint8)
    huge[::500] = 200  # a few lines: mostly constant, so the PNG is small
    cv2.imwrite(str(folder / "huge.png"), huge)
    del huge
    big = np.full((7000, 7000), 40, np.uint8)
    big[::250] = 200
    cv2.imwrite(str(folder / "big.png"), big)
    del big
    from heartcv.data.synthetic import generate_chest_xrays

    film = generate_chest_xrays(1, 1, 1024, seed=0)["images"][0, ..., 0]
    for name, other in (("batch", "huge.png"), ("batch_big", "big.png")):
        (folder / name).mkdir()
        shutil.copy(folder / other, folder / name / other)
        cv2.imwrite(str(folder / name / "film.png"), film)
    model = heartcv.build_model("small_cnn", input_shape=(None, None, 1))
    path = heartcv.save_model(model, folder / "model" / "model.h5")
    (folder / "model" / "model.card.json").write_text(json.dumps(
        {"model": "small_cnn", "task": "binary", "class_names": ["No Finding", "Cardiomegaly"],
         "input_size": 96, "channels": 1, "input_range": "[0, 255]"}))
    return {"model": path, "huge": folder / "huge.png", "big": folder / "big.png",
            "batch": folder / "batch", "batch_big": folder / "batch_big"}


def _timed(argv, out_dir: Path) -> dict:
    heartcv = Path(sys.executable).with_name("heartcv")
    cmd = ["/usr/bin/time", "-v", str(heartcv), *argv, "--out", str(out_dir)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    status = int(re.search(r"Exit status: (\d+)", proc.stderr).group(1))
    own = [line for line in proc.stderr.splitlines() if line.startswith("heartcv")]
    return {"rc": status, "wall_s": wall, "peak_rss_bytes": rss_kb * 1024, "stderr": own,
            "stdout": proc.stdout.strip().splitlines()}


def _trains_running() -> list[str]:
    try:
        out = subprocess.run(["pgrep", "-fa", "heartcv train"], capture_output=True, text=True)
    except FileNotFoundError:
        return []
    return [line for line in out.stdout.splitlines() if "pgrep" not in line]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", default=None, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hc_huge_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        trains = _trains_running()
        print(f"heartcv train running: {len(trains)} process(es)" + (
            " (the numbers below are then measured under that load)" if trains else ""))
        inputs = _make_inputs(work)
        print(f"huge.png: {inputs['huge'].stat().st_size / 1e6:.2f} MB on disk, 20000×20000; "
              f"big.png: {inputs['big'].stat().st_size / 1e6:.2f} MB, 7000×7000")
        model = ["--model", str(inputs["model"])]
        runs = {  # name: (argv, expected exit status, must peak under 2 GB)
            "(a) predict huge.png": (["predict", str(inputs["huge"]), *model], 2, True),
            "(b) predict FOLDER (huge + film)": (["predict", str(inputs["batch"]), *model,
                                                  "--no-progress"], 0, True),
            "(c) predict big.png (49 M pixels)": (["predict", str(inputs["big"]), *model], 0,
                                                  False),
            "(d) predict FOLDER (big + film)": (["predict", str(inputs["batch_big"]), *model,
                                                 "--no-progress"], 0, False),
        }
        ok = True
        for i, (name, (cmd, want, capped)) in enumerate(runs.items()):
            load0 = os.getloadavg()[0]
            r = _timed(cmd, work / f"out{i}")
            load1 = os.getloadavg()[0]
            good = r["rc"] == want and (not capped or r["peak_rss_bytes"] < LIMIT_BYTES)
            ok &= good
            print(f"{name}: exit {r['rc']} (expected {want}), wall {r['wall_s']:.1f} s, peak RSS "
                  f"{r['peak_rss_bytes'] / 1024 ** 2:.0f} MiB, load {load0:.1f} → {load1:.1f}"
                  f"{'' if good else '  <-- FAILED'}")
            for line in r["stderr"]:
                print(f"    stderr: {line}")
            if i == 1:
                skipped = (work / f"out{i}" / "skipped.csv").read_text().strip().splitlines()
                print(f"    skipped.csv: {skipped[1:]}")
        print("(a) and (b) under 2 GB, every outcome as expected" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

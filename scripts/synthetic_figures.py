"""Writes figures of the synthetic data (chest phantom, ECG sheets, beats) for a person to look at.

    python scripts/synthetic_figures.py --out figs/
"""

import argparse

from heartcv.papers.ecg_images_5class.figures import save_ecg_figures
from heartcv.data.synthetic.figures import save_chest_figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="synthetic_figures", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=320)
    args = parser.parse_args(argv)
    for path in save_chest_figures(args.out, seed=args.seed, size=args.size):
        print(path)
    for path in save_ecg_figures(args.out, seed=args.seed).values():
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

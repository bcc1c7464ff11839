"""Reproduce the MIT-BIH beat-image classifier (Le, Le & Vu 2021): accuracy, Fig. 3 and Fig. 4.

    python data_prep/mitbih.py --raw ../shared/data/mitdb --out data/mitbih_beats_128.h5
    python experiments/mitbih_ecg_beats/run.py --data data/mitbih_beats_128.h5 \\
        --config configs/small_cnn_cpu.yaml --max-train-per-class 1500 --max-test-per-class 1000
    python experiments/mitbih_ecg_beats/run.py --data data/mitbih_beats_128.h5   # the paper's VGG16

Trains the configured model once per split protocol (``intra``: the paper's beat-level split;
``inter``: de Chazal's DS1 -> DS2) and writes, under runs/<config name>/<protocol>/, the test
report with the confusion matrix (Fig. 3), the training-set report (train_eval/, Fig. 4) and
protocol.json (beats selected, records shared by train and test); summary.md compares the
protocols.
"""

import sys
from pathlib import Path

from heartcv.config import load_config
from heartcv.papers import experiment_parser
from heartcv.data.datasets.mitbih import PROTOCOLS
from heartcv.papers.mitbih_ecg_beats.experiment import VALIDATION, run_experiment

HERE = Path(__file__).resolve().parent


def build_parser():
    p = experiment_parser(__doc__)
    p.add_argument("--data", required=True, help="beat-image bundle (data_prep/mitbih.py --out)")
    p.add_argument("--config", default="configs/paper.yaml",
                   help="run config, relative to this folder or a path "
                        "(default configs/paper.yaml)")
    p.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=tuple(PROTOCOLS),
                   help="split protocols to run (default: intra inter)")
    p.add_argument("--max-train-per-class", type=int, default=None,
                   help="seeded subset: at most N training beats per class (default: all)")
    p.add_argument("--max-test-per-class", type=int, default=None,
                   help="seeded subset: at most N test beats per class (default: all)")
    p.add_argument("--seed", type=int, default=0, help="subset seed (default 0)")
    p.add_argument("--validation", default="test", choices=VALIDATION,
                   help="validation data: the test beats, as the paper (default), or none")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    config = Path(args.config)
    if not config.is_file() and (HERE / config).is_file():
        config = HERE / config
    cfg = load_config(config, [f"output_dir={args.output_dir}"] + args.overrides)
    exp = run_experiment(cfg, args.protocols, bundle=args.data, out_dir=cfg.run_dir,
                         expected_csv=HERE / "expected.csv",
                         max_train_per_class=args.max_train_per_class,
                         max_test_per_class=args.max_test_per_class, seed=args.seed,
                         validation=args.validation)
    print()
    print(exp["paths"]["summary_md"].read_text())
    for name, run in exp["runs"].items():
        print(f"{name}: {run.paths['table_md']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reproduce Chen & Shi's CHD chest X-ray tables: VGG vs VGG+Mask, 10-fold CV, heart attention.

    python experiments/chd_xray_vgg_unet/run.py --quick                 # phantom, CPU-sized
    python experiments/chd_xray_vgg_unet/run.py                         # phantom, paper recipe
    python experiments/chd_xray_vgg_unet/run.py --data data/chd_320.h5 --masks data/chd_heart_320.h5

Trains U-Net and VGG16-U-Net on a patient-disjoint segmentation cohort (Dice on held-out
patients), masks the classification images with VGG16-U-Net (background × 0.2), runs k-fold
patient-wise CV of VGG and VGG+Mask on "Normal vs VSD" and "Normal vs VSD vs ASD", measures
after each fold how much of the saliency and deep Taylor relevance falls on the true heart,
and writes tables.md (the paper's numbers beside ours), figures/ (segmentations, saliency and
deep Taylor overlays, and the block5_conv1 feature maps of both models:
figures/block5_conv1_<setting>_<vgg|vgg_mask>.png) and results.json ("<setting>/vgg16/accuracy",
"<setting>/vgg16_mask/auroc", "unet/dice", ...; its path printed last) under the output folder.
The logic is in heartcv/papers/chd_xray_vgg_unet/experiment.py; the recipes are configs/*.yaml.
"""

import argparse
import sys
from pathlib import Path

# heartcv registers its models (importing TensorFlow, its start-up lines hidden) in main(),
# once the arguments are parsed: --help answers without TensorFlow.
__heartcv_register_later__ = True

import heartcv
from heartcv.config import load_config
from heartcv.papers import experiment_parser
from heartcv.papers.chd_xray_vgg_unet import MODELS, SETTINGS  # light: no Keras
from heartcv.recipes import config_overrides, read_recipe
from heartcv.results import write_results

HERE = Path(__file__).resolve().parent
SEGMENTERS = ("unet", "vgg16_unet")
# --quick: the phantom at 64 px, VGG16 at 1/8 width from scratch, segmenters at 1/4 width
# (configs/quick.yaml: one section per config: paper, unet, vgg16_unet)
QUICK = {name: config_overrides(section)
         for name, section in read_recipe(HERE / "configs" / "quick.yaml").items()}


def build_parser():
    p = experiment_parser(__doc__, set_help="override a classifier config value (repeatable)")
    p.add_argument("--data", help="CHD bundle of labelled images (heartcv prep chd); "
                                  "default: the synthetic phantom")
    p.add_argument("--masks", help="with --data: the traced-heart bundle (heartcv prep chd "
                                   "--masks DIR) the segmenters train on")
    p.add_argument("--quick", action=argparse.BooleanOptionalAction, default=False,
                   help="CPU-sized phantom run (configs/quick.yaml)")
    p.add_argument("--patients", type=int, default=360,
                   help="phantom patients (one frontal image each; default 360)")
    p.add_argument("--segmentation-fraction", type=float, default=0.3,
                   help="share of patients kept for training the segmenters (default 0.3)")
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS),
                   metavar="SETTING", help=f"data set settings (default: {list(SETTINGS)})")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--folds", type=int, default=None, help="override train.folds (paper: 10)")
    p.add_argument("--seg-set", dest="seg_overrides", action="append", default=[],
                   metavar="KEY=VALUE", help="override a segmenter config value (repeatable)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    heartcv.register_all(debug=args.debug)
    from heartcv.papers.chd_xray_vgg_unet import experiment as chd_xray

    base = [f"output_dir={args.output_dir}"]
    cls_cfg = load_config(HERE / "configs" / "paper.yaml",
                          base + (QUICK["paper"] if args.quick else []) + args.overrides
                          + ([f"train.folds={args.folds}"] if args.folds else []))
    same_images = [f"data.image_size={cls_cfg.data.image_size}",  # the segmenter masks
                   f"data.channels={cls_cfg.data.channels}"]         # the classifier's images
    seg_cfgs = {name: load_config(HERE / "configs" / f"{name}.yaml",
                                  base + (QUICK[name] if args.quick else []) + same_images
                                  + args.seg_overrides)
                for name in SEGMENTERS}
    if args.data:
        if not args.masks:
            print("error: --data needs --masks (the traced-heart bundle)", file=sys.stderr)
            return 2
        cohorts = chd_xray.bundle_cohorts(args.data, args.masks,
                                          image_size=cls_cfg.data.image_size)
        label = Path(args.data).name
    else:
        cohorts = chd_xray.phantom_cohorts(n_patients=args.patients,
                                           image_size=cls_cfg.data.image_size,
                                           seed=cls_cfg.data.seed,
                                           segmentation_fraction=args.segmentation_fraction)
        label = "phantom"
    out = chd_xray.run_experiment(cls_cfg, seg_cfgs, cohorts=cohorts, out_dir=cls_cfg.run_dir,
                                  settings=args.settings, models=args.models,
                                  expected_csv=HERE / "expected.csv", source_label=label)
    print(Path(out["paths"]["tables_md"]).read_text())
    print(f"tables: {out['paths']['tables_md']}")
    for key, path in out["paths"].items():
        if key.startswith(chd_xray.FEATURE_LAYER):
            print(f"{chd_xray.FEATURE_LAYER} features: {path}")
    write_results(cls_cfg.run_dir, chd_xray.results_numbers(out))  # prints its path, last
    return 0


if __name__ == "__main__":
    sys.exit(main())

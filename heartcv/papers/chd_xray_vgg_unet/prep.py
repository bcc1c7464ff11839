"""Heart outlines from two marked rows per image -> ``<stem>.txt`` polygon traces (CHD paper).

    heartcv prep contours --images DIR --rows rows.csv
    heartcv prep contours --images JSRT/png --from-masks JSRT/mask/heart \
        --reference-masks JSRT/mask/heart --traces-out out/traces --masks-out out/masks

The CHD paper's semi-automatic labelling: a person marks the upper and lower heart
boundaries (``rows.csv``: ``image,top_row,bottom_row``), OpenCV binarizes, opens/closes,
flood-fills, selects the heart between the lungs and fits a polygon (``cv2.approxPolyDP``);
each image gets ``<stem>.txt`` (one ``x y`` vertex per line) beside it or in
``--traces-out``. ``--from-masks`` takes the rows from reference masks instead (the
measurement protocol); ``--reference-masks`` prints the Dice of the traces' masks against
them; ``--masks-out`` renders the traces to 0/255 masks; ``--figure`` draws the steps for a
few images; ``--tune`` searches the parameters on the selected images (needs
``--reference-masks``) and prints them as ``--set`` options, writing nothing. Existing traces
are kept unless ``--overwrite``. The steps and every parameter are described in
``heartcv.papers.chd_xray_vgg_unet.contours``.
"""

import argparse
import sys
from pathlib import Path

from heartcv.data.datasets._prep import CONVERT_ERRORS, first_line
from heartcv.files import atomic_write_text, check_output_dir, check_output_file
from heartcv.papers.chd_xray_vgg_unet import contours
from heartcv.registry import register_dataset

PROG = "heartcv prep contours"


def _parse_set(text):
    """``name=value`` -> (name, value) with int, float, None or string values."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name, value = (s.strip() for s in text.split("=", 1))
    for cast in (int, float):
        try:
            return name, cast(value)
        except ValueError:
            pass
    return name, None if value.lower() == "none" else value


def build_parser(prog=PROG):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                epilog="See data_prep/README.md and heartcv.papers.chd_xray_vgg_unet.contours.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, help="folder of images (not recursive)")
    marks = p.add_mutually_exclusive_group(required=True)
    marks.add_argument("--rows", help="CSV image,top_row,bottom_row: the marked heart rows")
    marks.add_argument("--from-masks", metavar="DIR",
                       help="take the rows from these reference masks (<stem>.png)")
    p.add_argument("--traces-out", metavar="DIR", default=None,
                   help="where to write <stem>.txt (default: beside the images)")
    p.add_argument("--masks-out", metavar="DIR", default=None,
                   help="also render each trace to DIR/<stem>.png (0/255)")
    p.add_argument("--reference-masks", metavar="DIR", default=None,
                   help="print the Dice of each trace's mask against DIR/<stem>.*")
    p.add_argument("--rows-out", metavar="CSV", default=None,
                   help="write the rows used (image,top_row,bottom_row) to this CSV")
    p.add_argument("--report", metavar="CSV", default=None,
                   help="write the per-image table (status, error, Dice) to this CSV")
    p.add_argument("--set", dest="overrides", metavar="NAME=VALUE", type=_parse_set,
                   action="append", default=[],
                   help="an OutlineParams value, e.g. --set open_kernel=9 (repeatable)")
    p.add_argument("--subset", choices=("all", "even", "odd"), default="all",
                   help="every image, or every other one in sorted order (default all)")
    p.add_argument("--tune", action="store_true",
                   help="tune the parameters on the selected images (needs --reference-masks); "
                        "prints them and writes nothing")
    p.add_argument("--figure", metavar="PNG", default=None,
                   help="draw the steps for the first --figure-count images")
    p.add_argument("--figure-count", type=int, default=4, help="images in --figure (default 4)")
    p.add_argument("--overwrite", action="store_true", help="redo images whose trace exists")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="progress bar (default on)")
    return p


def _tune(args, params):
    if args.reference_masks is None:
        raise ValueError("--tune needs --reference-masks (the masks to score against)")
    plan = contours.marked_images(args.images, args.rows, masks_dir=args.from_masks,
                                  reference_masks=args.reference_masks, subset=args.subset)
    loaded = [contours.load_marked(rec) for rec in plan.to_dict("records")]
    images = [x[0] for x in loaded]
    rows = [(x[1], x[2]) for x in loaded]
    masks = [x[3] for x in loaded]
    best, score = contours.tune_outline_params(images, rows, masks, params=params, log=print)
    default = contours.OutlineParams()
    changed = [f"--set {k}={v}" for k, v in vars(best).items() if getattr(default, k) != v]
    print(f"tuned on {len(images)} image(s) (subset {args.subset}): mean Dice {score:.4f}")
    print("parameters: " + (" ".join(changed) if changed else "(the defaults)"))


def _figure(args, df, params):
    done = df[df["status"] != "failed"].head(max(1, args.figure_count))
    if done.empty:
        print("no outlined image to draw")
        return
    plan = contours.marked_images(args.images, args.rows, masks_dir=args.from_masks,
                                  reference_masks=args.reference_masks)
    plan = plan[plan["image_id"].isin(done["image_id"])]
    loaded = [contours.load_marked(rec) for rec in plan.to_dict("records")]
    results = [contours.extract_heart_outline(im, t, b, params, diagnostics=True)
               for im, t, b, _ in loaded]
    refs = None if args.reference_masks is None else [x[3] for x in loaded]
    contours.save_outline_figure(args.figure, [x[0] for x in loaded], results, references=refs,
                                 titles=list(plan["image_id"]))
    print(f"figure: {args.figure}")


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    for name in ("images", "from_masks", "reference_masks"):
        value = getattr(args, name)
        if value is not None and not Path(value).is_dir():
            print(f"{prog}: error: --{name.replace('_', '-')} folder not found: {value}",
                  file=sys.stderr)
            return 2
    try:
        _check_outputs(args)
        return _work(args)
    except CONVERT_ERRORS as e:
        print(f"{prog}: error: {first_line(e)}", file=sys.stderr)
        return 2


def _check_outputs(args):
    """Output folders and files must be writable (or creatable) before any image is read."""
    for name in ("traces_out", "masks_out"):
        if getattr(args, name, None):
            check_output_dir(getattr(args, name))
    for name in ("rows_out", "report", "figure"):
        if getattr(args, name, None):
            check_output_file(getattr(args, name))


def _work(args):
    params = contours.make_params(None, **dict(args.overrides))
    if args.tune:
        _tune(args, params)
        return 0
    df = contours.outline_folder(args.images, args.rows, masks_dir=args.from_masks,
                                 traces_dir=args.traces_out, masks_out=args.masks_out,
                                 reference_masks=args.reference_masks, params=params,
                                 overwrite=args.overwrite, subset=args.subset,
                                 progress=args.progress)
    for line in df.loc[df["status"] == "failed", "error"].head(10):
        print(f"failed: {line}")
    if args.rows_out:
        ok = df[df["top_row"].notna()]
        contours.write_rows_csv(args.rows_out, {Path(p).name: (int(t), int(b)) for p, t, b in
                                                zip(ok["path"], ok["top_row"], ok["bottom_row"])})
    if args.report:
        atomic_write_text(args.report, df.to_csv(index=False))
    if args.figure:
        _figure(args, df, params)
    print(contours.summarize_outlines(df))
    return 0


register_dataset("contours", main=main, build_parser=build_parser, reader=None,
                 description="the CHD paper's OpenCV heart outlines of a folder (.txt traces, masks, Dice)", module=__name__)

"""Figure of the 13 lead crops found on real ECG printouts, for a person to check.

    python scripts/ecg_crops_figure.py --raw ../shared/data/ecg_khan/printouts \\
        --out experiments/ecg_images_5class/figures/real_crops.png

For every printout under ``--raw`` (class folders as published, see
``heartcv.data.datasets.ecg_khan``): the sheet at half size with the 13 boxes found by
``heartcv.papers.ecg_images_5class.detect.detect_layout`` drawn and named, and beside it the 13 crops after the
paper's preprocessing (greyscale, invert, dilate, resize; ``heartcv.papers.ecg_images_5class.leads.lead_volume``)
in sheet order: I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6 / rhythm strip. Check that each
crop holds its own lead's trace and no neighbouring lead's label or trace. To keep the PNG
small the paper grid is drawn white in the sheet pictures (not in the crops) and colours are
reduced to a palette of greys and the box colours. Sheets whose grid is not found are listed
and left out (exit code 1). Data: Khan, Hussain & Malik, ECG Images dataset of Cardiac and
COVID-19 Patients, Data in Brief 34:106762 (2021), doi:10.17632/gwbz3fsgp8.
"""

import argparse
import sys

import cv2
import numpy as np
from PIL import Image

from heartcv.data.datasets import ecg_khan
from heartcv.papers.ecg_images_5class.detect import LayoutError, detect_layout
from heartcv.papers.ecg_images_5class.layout import LEAD_NAMES, draw_layout
from heartcv.papers.ecg_images_5class.leads import lead_volume
from heartcv.data.images import read_image
from heartcv.files import atomic_path

CELL, GAP, LABEL, TITLE = 64, 4, 12, 18
PAPER = 215  # grey level above which the sheet picture is drawn white
#: Box colours of heartcv.papers.ecg_images_5class.layout.draw_layout, kept exact in the palette.
BOX_COLOURS = ((220, 30, 30), (20, 150, 40), (230, 120, 0), (30, 60, 220))


def _text(img, text, org, scale=0.35, colour=(0, 0, 0)):
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def crops_grid(volume):
    """The 13 channels of a lead volume as a 4 x 4 grid (three lead rows, then the rhythm strip)."""
    step_x, step_y = CELL + GAP, CELL + GAP + LABEL
    out = np.full((4 * step_y, 4 * step_x, 3), 255, np.uint8)
    for i, lead in enumerate(LEAD_NAMES):
        r, c = divmod(i, 4)
        y, x = r * step_y + LABEL, c * step_x
        out[y:y + CELL, x:x + CELL] = volume[..., i, None]
        _text(out, lead, (x + 1, y - 3))
    return out


def panel(sheet, layout, title, size=CELL, scale=0.5):
    """One sheet at ``scale`` with its boxes, beside its preprocessed crops, under a title.

    In the sheet picture only, light pixels (the paper grid) are drawn white to keep the file
    small; the crops are cut from the unchanged sheet.
    """
    view = np.array(sheet, dtype=np.uint8)
    grey = view if view.ndim == 2 else view[..., :3].mean(axis=2)
    view[grey > PAPER] = 255
    left = draw_layout(view, layout, scale=scale)
    right = crops_grid(lead_volume(sheet, size, layout=layout))
    h = max(left.shape[0], right.shape[0])
    out = np.full((h + TITLE, left.shape[1] + GAP * 2 + right.shape[1] + GAP, 3), 255, np.uint8)
    out[TITLE:TITLE + left.shape[0], :left.shape[1]] = left
    x = left.shape[1] + 2 * GAP
    out[TITLE:TITLE + right.shape[0], x:x + right.shape[1]] = right
    _text(out, title, (2, TITLE - 5), scale=0.45)
    return out


def stack_panels(panels, columns):
    """Panels in a grid, ``columns`` wide, padded to equal size."""
    h = max(p.shape[0] for p in panels) + GAP
    w = max(p.shape[1] for p in panels) + 3 * GAP
    rows = -(-len(panels) // columns)
    out = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for k, p in enumerate(panels):
        r, c = divmod(k, columns)
        out[r * h:r * h + p.shape[0], c * w:c * w + p.shape[1]] = p
    return out


def write_png(path, rgb, greys=12):
    """Write ``rgb`` as a palette PNG (``greys`` grey levels and the box colours; atomically)."""
    levels = np.linspace(0, 255, greys).round().astype(int)
    colours = [(v, v, v) for v in levels] + list(BOX_COLOURS)
    palette = Image.new("P", (1, 1))
    palette.putpalette([v for c in colours for v in c] + [0] * 3 * (256 - len(colours)))
    img = Image.fromarray(rgb).quantize(palette=palette, dither=Image.Dither.NONE)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", optimize=True)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", required=True, help="folder holding the class folders")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--columns", type=int, default=2, help="panels per row (default 2)")
    parser.add_argument("--scale", type=float, default=0.5,
                        help="size of the sheets in the figure (default 0.5)")
    args = parser.parse_args(argv)
    try:
        index = ecg_khan.printouts_index(args.raw)
    except (FileNotFoundError, ValueError) as e:
        print(f"ecg_crops_figure: error: {e}", file=sys.stderr)
        return 2
    panels, failed = [], []
    for row in index.itertuples():
        sheet = read_image(row.path, grey=False)
        try:
            layout = detect_layout(sheet, name=row.path)
        except LayoutError as e:
            failed.append(str(e))
            continue
        title = f"{row.patient_id} ({row.folder}): {layout.source} grid"
        panels.append(panel(sheet, layout, title, scale=args.scale))
    if panels:
        write_png(args.out, stack_panels(panels, args.columns))
        print(f"{args.out}: {len(panels)} sheets")
    for message in failed:
        print(message, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

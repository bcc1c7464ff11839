"""JSRT chest radiographs with the SCR heart and lung masks (247 images).

Where to get it:
    JSRT database: http://db.jsrt.or.jp/eng.php (Japanese Society of Radiological
    Technology; free for research and education, registration required). SCR masks:
    https://www.isi.uu.nl/Research/Databases/SCR/ (van Ginneken et al.). The layout read here
    is the 512x512 PNG packaging by N. Dong (MIT licence), e.g. the ``jsrt_heart`` folder:

Raw layout:
    ``png/JPC*.png``: 247 radiographs, 512x512 8-bit grey (the originals are 2048x2048
        12-bit ``.IMG`` files; this packaging has downsampled them).
    ``mask/heart/<same name>.png``, ``mask/left_lung/<same name>.png``,
    ``mask/right_lung/<same name>.png``: SCR masks, 0/255 with softened (resampled) edges,
        binarised here at :data:`MASK_THRESHOLD` (>= 128 is inside).

Labels:
    ``JPCLN###`` images contain a lung nodule (154), ``JPCNN###`` do not (93); the index has
    one class column ``nodule`` (1/0). The segmentation targets are the three structures of
    :data:`STRUCTURES`, in the columns ``mask_path:heart``, ``mask_path:left_lung``,
    ``mask_path:right_lung``.

Patients:
    JSRT has one radiograph per patient, so each image is its own patient
    (``patient_id == image_id``); any split of images is therefore patient-disjoint.

Cardiothoracic ratio:
    :func:`cardiothoracic_ratio` = widest horizontal extent of the heart (leftmost to
    rightmost heart column, i.e. the right plus left maximal heart diameters, which may lie
    on different rows) over the widest horizontal extent of the two lungs together (the
    largest leftmost-to-rightmost lung span on a single row: the internal thoracic
    diameter). CTR > 0.5 on a PA film is the usual threshold for cardiomegaly.

References:
    Shiraishi J, Katsuragawa S, Ikezoe J, et al. Development of a digital image database for
    chest radiographs with and without a lung nodule. AJR 174(1):71-74, 2000.
    van Ginneken B, Stegmann MB, Loog M. Segmentation of anatomical structures in chest
    radiographs using supervised methods: a comparative study on a public database. Medical
    Image Analysis 10(1):19-40, 2006.
    Danzer CS. The cardio-thoracic ratio: an index of cardiac enlargement. Am J Med Sci
    157:513-521, 1919.
"""

import re

import numpy as np
import pandas as pd

from heartcv.data import images
from heartcv.data.datasets import assign_split
from heartcv.data.datasets import finalize_index, require_dir, require_file
from heartcv.data.datasets._prep import convert, dataset_parser, run
from heartcv.data.splits import assert_disjoint, patient_split
from heartcv.registry import register_dataset

__all__ = [
    "MASK_THRESHOLD",
    "SOURCE",
    "STRUCTURES",
    "cardiothoracic_ratio",
    "heart_width",
    "jsrt_ctr_table",
    "jsrt_index",
    "read_mask",
    "thorax_width",
]

SOURCE = ("JSRT (Shiraishi et al., AJR 2000) with SCR masks (van Ginneken et al., "
          "MedIA 2006)")
STRUCTURES = ("heart", "left_lung", "right_lung")
MASK_THRESHOLD = 128
NAME_PATTERN = re.compile(r"^JPC(LN|NN)\d{3}$")


def read_mask(path, threshold=MASK_THRESHOLD):
    """Read a mask PNG and binarise it: uint8 (H, W), 1 where value >= ``threshold``.

    Raises:
        FileNotFoundError: if ``path`` is missing; ValueError: if it cannot be decoded.
    """
    return images.read_mask(require_file(path, "path"), threshold=threshold)


def jsrt_index(root, *, require_masks=True, ctr=False):
    """Index of the JSRT images with the three SCR mask paths and the ``nodule`` label.

    Args:
        root: the folder holding ``png/`` and ``mask/`` (see the module docstring).
        require_masks: raise when an image lacks one of its three masks (default). With
            False, a missing mask leaves NaN in its ``mask_path:<structure>`` column.
        ctr: add ``heart_width``, ``thorax_width`` and ``ctr`` columns computed from the
            masks (see :func:`jsrt_ctr_table`; needs every mask).

    Returns:
        Index with ``image_id, path, patient_id, mask_path:heart, mask_path:left_lung,
        mask_path:right_lung, nodule``; task "segmentation", class_names ``["nodule"]``,
        ``df.attrs["structures"]`` = :data:`STRUCTURES`.

    Raises:
        FileNotFoundError: if ``root/png`` is missing, or a mask is missing while
            ``require_masks`` is set (count and examples in the message).
        ValueError: for image names not of the form ``JPCLN###`` / ``JPCNN###``.
    """
    root = require_dir(root, "root")
    png = root / "png"
    if not png.is_dir():
        raise FileNotFoundError(f"Expected the JSRT images in {str(png)!r} (layout png/JPC*.png, "
                                f"mask/<structure>/JPC*.png). Received: root={str(root)!r}")
    files = sorted(png.glob("*.png"))
    bad = [f.name for f in files if not NAME_PATTERN.match(f.stem)]
    if bad:
        raise ValueError(f"{len(bad)} file(s) in {str(png)!r} are not named JPCLN###.png or "
                         f"JPCNN###.png, e.g. {bad[:3]}")
    if not files:
        raise FileNotFoundError(f"No JPC*.png images in {str(png)!r}. Received: root={str(root)!r}")
    rows = []
    missing = []
    for f in files:
        row = {"image_id": f.stem, "path": str(f), "patient_id": f.stem,
               "nodule": 1.0 if f.stem.startswith("JPCLN") else 0.0}
        for s in STRUCTURES:
            m = root / "mask" / s / f.name
            if m.is_file():
                row[f"mask_path:{s}"] = str(m)
            else:
                row[f"mask_path:{s}"] = np.nan
                missing.append(str(m))
        rows.append(row)
    if missing and require_masks:
        raise FileNotFoundError(f"{len(missing)} mask file(s) are missing under "
                                f"{str(root / 'mask')!r}, e.g. {missing[:3]}")
    columns = ["image_id", "path", "patient_id"] + [f"mask_path:{s}" for s in STRUCTURES]
    df = pd.DataFrame(rows, columns=columns + ["nodule"])
    df = finalize_index(df, class_names=["nodule"], task="segmentation", source=SOURCE,
                        structures=list(STRUCTURES), missing_masks=len(missing))
    if ctr:
        if missing:
            raise FileNotFoundError(f"ctr=True needs every mask; {len(missing)} are missing, "
                                    f"e.g. {missing[:3]}")
        table = _ctr_rows(df, MASK_THRESHOLD)
        for c in ("heart_width", "thorax_width", "ctr"):
            df[c] = table[c].to_numpy()
    return df


def _check_masks(**masks):
    shape = None
    out = {}
    for name, m in masks.items():
        m = np.asarray(m)
        if m.ndim != 2:
            raise ValueError(f"Expected `{name}` to be a 2-D mask. "
                             f"Received: {name}.shape={m.shape}")
        if shape is not None and m.shape != shape:
            raise ValueError(f"Masks must share one shape; `{name}` differs. "
                             f"Received: {name}.shape={m.shape}, expected {shape}")
        shape = m.shape
        out[name] = m > 0
    return out


def heart_width(heart_mask):
    """Columns spanned by the heart (rightmost - leftmost heart column + 1), in pixels."""
    heart = _check_masks(heart_mask=heart_mask)["heart_mask"]
    cols = np.flatnonzero(heart.any(axis=0))
    if cols.size == 0:
        raise ValueError("The heart mask is empty; the cardiothoracic ratio is undefined.")
    return int(cols[-1] - cols[0] + 1)


def thorax_width(left_lung_mask, right_lung_mask):
    """Largest single-row span from the leftmost to the rightmost lung pixel, in pixels."""
    m = _check_masks(left_lung_mask=left_lung_mask, right_lung_mask=right_lung_mask)
    lungs = m["left_lung_mask"] | m["right_lung_mask"]
    rows = np.flatnonzero(lungs.any(axis=1))
    if rows.size == 0:
        raise ValueError("Both lung masks are empty; the cardiothoracic ratio is undefined.")
    sub = lungs[rows]
    width = sub.shape[1]
    first = np.argmax(sub, axis=1)
    last = width - 1 - np.argmax(sub[:, ::-1], axis=1)
    return int((last - first + 1).max())


def cardiothoracic_ratio(heart_mask, left_lung_mask, right_lung_mask):
    """Cardiothoracic ratio from binary (or 0/255) masks of one image.

    Args:
        heart_mask, left_lung_mask, right_lung_mask: 2-D arrays of one shape; nonzero = inside.

    Returns:
        :func:`heart_width` / :func:`thorax_width` as a float.

    Raises:
        ValueError: if a mask is not 2-D, the shapes differ, or the heart or lungs are empty.
    """
    _check_masks(heart_mask=heart_mask, left_lung_mask=left_lung_mask,
                 right_lung_mask=right_lung_mask)
    return heart_width(heart_mask) / thorax_width(left_lung_mask, right_lung_mask)


def _ctr_rows(index, threshold):
    rows = []
    for i in range(len(index)):
        heart, left, right = (read_mask(index[f"mask_path:{s}"].iat[i], threshold)
                              for s in STRUCTURES)
        hw, tw = heart_width(heart), thorax_width(left, right)
        rows.append({"image_id": index["image_id"].iat[i], "nodule": int(index["nodule"].iat[i]),
                     "heart_width": hw, "thorax_width": tw, "ctr": hw / tw})
    return pd.DataFrame(rows, columns=["image_id", "nodule", "heart_width", "thorax_width", "ctr"])


def jsrt_ctr_table(root, threshold=MASK_THRESHOLD):
    """Cardiothoracic ratio of every JSRT image, from its SCR masks.

    Returns:
        DataFrame ``image_id, nodule, heart_width, thorax_width, ctr`` (widths in pixels of
        the mask files), one row per image in :func:`jsrt_index` order.
    """
    return _ctr_rows(jsrt_index(root, require_masks=True), threshold)


# ----------------------------------------------------------------------------- heartcv prep jsrt

PREP_DOC = '''JSRT + SCR masks -> heartcv HDF5 segmentation bundle (heart, left lung, right lung).

    python data_prep/jsrt.py --raw ../shared/data/jsrt_heart --out data/jsrt_320.h5 --size 320

Reads the ``png/`` + ``mask/<structure>/`` layout (see ``heartcv.data.datasets.jsrt``), adds
the label ``nodule`` and the cardiothoracic ratio measured on the masks (``meta/ctr``), makes
a seeded 72/8/20 split (one image per patient; stratified on ``nodule``), converts images and
masks, and prints the counts per class and split.
'''

PROG = "heartcv prep jsrt"


def build_parser(prog=PROG):
    p = dataset_parser(prog, PREP_DOC, raw_help="folder holding png/ and mask/")
    p.add_argument("--hold-out-top-ctr", type=float, default=None, metavar="FRACTION",
                   help="range-shift split: the FRACTION of patients with the largest CTR "
                        "form the test split, the rest are split 90/10 train/val (seeded); "
                        "a model is then tested on hearts larger than any it trained on")
    return p


def range_shift_split(index, fraction, *, seed):
    """Test = the ``fraction`` of images with the largest ``ctr``; the rest 90/10 train/val.

    A developer-side proxy for another hospital whose hearts are larger than any in the
    training set (the extreme end held out). One image per patient, so patient-disjoint.

    Raises:
        ValueError: ``fraction`` not in (0, 0.5].
    """
    if not (isinstance(fraction, (int, float)) and 0.0 < fraction <= 0.5):
        raise ValueError(f"Expected `--hold-out-top-ctr` in (0, 0.5]. Received: {fraction!r}")
    df = index.copy()
    df.attrs = dict(index.attrs)
    n_test = max(1, int(round(fraction * len(df))))
    order = np.argsort(-df["ctr"].to_numpy(), kind="stable")
    test = np.zeros(len(df), dtype=bool)
    test[order[:n_test]] = True
    rest = patient_split(df.loc[~test, "patient_id"].to_numpy(),
                         fractions={"train": 0.9, "val": 0.1}, seed=seed)
    split = np.full(len(df), "test", dtype=object)
    split[~test] = rest
    df["split"] = split.astype(str)
    cols = ["image_id", "path", "patient_id", "split"]
    df = df[cols + [c for c in df.columns if c not in cols]]
    cut = float(df.loc[test, "ctr"].min())
    df.attrs = dict(index.attrs, split_source=f"range shift: top {fraction:g} CTR (>= {cut:.3f}) "
                                              f"in test, rest 90/10 train/val, seed={seed}")
    assert_disjoint(df["patient_id"].to_numpy(), df["split"].to_numpy())
    return df


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)

    def work():
        index = jsrt_index(args.raw, ctr=True)
        if args.hold_out_top_ctr is not None:
            index = range_shift_split(index, args.hold_out_top_ctr, seed=args.seed)
            for name in ("train", "val", "test"):
                part = index.loc[index["split"] == name, "ctr"]
                print(f"{name}: {len(part)} patients, CTR {part.min():.3f}-{part.max():.3f}")
        else:
            index = assign_split(index, seed=args.seed, stratify="nodule")
        ctr = index["ctr"]
        print(f"CTR: mean {ctr.mean():.3f}, sd {ctr.std():.3f}, min {ctr.min():.3f}, "
              f"max {ctr.max():.3f}, > 0.5: {int((ctr > 0.5).sum())} of {len(ctr)}")
        convert(index, args)

    return run(prog, args, work)


register_dataset("jsrt", main=main, build_parser=build_parser, reader=jsrt_index,
                 description="JSRT radiographs + SCR heart/lung masks (segmentation, CTR)", module=__name__)

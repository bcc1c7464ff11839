"""Any folder of images + masks (an external validation set, say) -> segmentation bundle.

For evaluating a segmentation model where it was not fit: radiographs and reference masks
from another hospital, arranged like the JSRT/SCR packaging. :func:`masks_index` checks the
whole folder first and ``heartcv prep masks`` writes nothing when something is wrong; the
conversion is :func:`heartcv.data.convert.convert_index`, so the bundle has the schema of
``heartcv prep jsrt``: ``images`` (N, S, S, 1), ``masks`` (N, S, S, K) with the attribute
``mask_names``, ``patient_id``, ``split``, ``meta/<column>``.

Raw layout:
    ``png/<any name>.<ext>``: the images, any file names, ``<ext>`` one that
        :mod:`heartcv.data.images` reads (.png, .jpg, .jpeg, .bmp, .tif, .tiff, .dcm, .dicom;
        any case). The folder is called ``png/`` whatever the formats, as in the JSRT
        packaging. Hidden files, sub-folders and other files are ignored (and counted).
        ``image_id`` is the file stem, so stems must be unique.
    ``mask/<structure>/<same stem>.<ext>``: one mask per image and structure, of its image's
        size, any supported extension (not necessarily the image's). Masks are binarised as
        :func:`heartcv.data.images.read_mask` does: 0/1 at 0.5, 8-bit 0/255 (also with soft
        edges, as the SCR masks) at 128, 16-bit at half range. The structures are the
        sub-folder names: ``heart``, ``left_lung``, ``right_lung`` first, in that order,
        where present, then the others sorted. ``left_lung`` is the patient's left lung (the
        image's right on a PA film).
    ``labels.csv`` (optional): per-image metadata, see below.

labels.csv:
    - one image column, ``image``, ``file`` or ``image_id`` (exactly one of these), holding
      the file name (``x-ray_2.png``) or the stem (``x-ray_2``) of an image in ``png/``; a
      leading folder (``png/x-ray_2.png``) is dropped. One row per image at most.
    - ``patient_id`` (optional): default, and for images without a row, the image stem (one
      image per patient).
    - ``split`` (optional): ``train``, ``val`` or ``test`` for every image, patient-disjoint
      (:func:`heartcv.data.splits.assert_disjoint`). Without it every image is ``test``:
      an external set is for evaluation.
    - every other column becomes ``meta/<column>`` in the bundle: numeric columns (every
      non-blank value a number) as float64 with NaN for blanks and for images without a row,
      others as strings ("" there). They are metadata, not class labels: the bundle has no
      ``labels`` and ``class_names`` is empty. Columns named like the index's own
      (``path``, ``mask_path``, ``mask_path:*``, ``orig_w``, ``orig_h``, and the CTR
      columns below when the CTR is measured) are refused.
    Images without a row are allowed (counted) unless the file has a ``split`` column.

Cardiothoracic ratio:
    When the structures include ``heart``, ``left_lung`` and ``right_lung``, each image's
    CTR is measured on its full-resolution masks with the JSRT reader's widths
    (:func:`heartcv.data.datasets.jsrt.heart_width` over
    :func:`heartcv.data.datasets.jsrt.thorax_width`; :mod:`heartcv.ctr` measures predicted
    masks the same way) and kept as ``meta/heart_width``, ``meta/thorax_width`` (pixels of
    the mask files) and ``meta/ctr``, as ``heartcv prep jsrt`` keeps them, so
    ``heartcv evaluate`` can compare predicted CTRs with it. An empty heart mask or an empty
    lung mask leaves NaN there (counted; :mod:`heartcv.ctr` calls such predictions
    unmeasurable too). Without those three structures nothing is measured, and a ``ctr``
    column of labels.csv (a CTR measured some other way) is kept as ``meta/ctr``.

Checks, all before anything is written, each a ``FileNotFoundError``/``ValueError`` naming
the file (``heartcv prep masks``: one line, exit code 2): ``png/`` or ``mask/`` missing; no
images; two images, or two masks of one structure, with one stem; no structure folder; a mask
file directly in ``mask/``; an image without a mask in some structure; a mask without an
image; an unreadable image or mask; a mask whose size differs from its image's; labels.csv
unreadable, without exactly one image column, naming an unknown image (or one twice), with a
reserved column, a bad or missing split value, or a patient in two splits.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from heartcv.data.datasets import SPLITS, did_you_mean, finalize_index, require_dir
from heartcv.data.datasets._prep import convert, dataset_parser, run
from heartcv.data.datasets.jsrt import heart_width, thorax_width
from heartcv.data.images import SUPPORTED_EXTENSIONS, ImageReadError, load_image, read_mask
from heartcv.data.splits import LeakageError, assert_disjoint
from heartcv.progress import progress_bar
from heartcv.registry import register_dataset

__all__ = [
    "CTR_COLUMNS",
    "CTR_STRUCTURES",
    "IMAGE_COLUMNS",
    "LABELS_FILE",
    "masks_index",
    "structures_of",
]

CTR_STRUCTURES = ("heart", "left_lung", "right_lung")
CTR_COLUMNS = ("heart_width", "thorax_width", "ctr")
IMAGE_COLUMNS = ("image", "file", "image_id")
LABELS_FILE = "labels.csv"
_RESERVED = ("path", "mask_path", "orig_w", "orig_h")


def _image_files(folder, what):
    """``{stem: path}`` of the readable-looking files in ``folder``, and the ignored entries."""
    files, ignored = {}, []
    for f in sorted(folder.iterdir()):
        if f.name.startswith(".") or not f.is_file() \
                or f.suffix.lower() not in SUPPORTED_EXTENSIONS:
            ignored.append(str(f))
            continue
        if f.stem in files:
            raise ValueError(f"{folder}: two {what}s share the stem {f.stem!r} "
                             f"({files[f.stem].name}, {f.name}); stems must be unique")
        files[f.stem] = f
    return files, ignored


def structures_of(mask_dir):
    """The structure sub-folders of ``mask_dir``: heart, left_lung, right_lung, then sorted."""
    names = sorted(d.name for d in Path(mask_dir).iterdir()
                   if d.is_dir() and not d.name.startswith("."))
    first = [s for s in CTR_STRUCTURES if s in names]
    return first + [s for s in names if s not in first]


def _mask_files(mask_dir, images, ignored):
    """``{structure: {stem: path}}``, every image with one mask per structure and vice versa."""
    structures = structures_of(mask_dir)
    if not structures:
        raise FileNotFoundError(f"{mask_dir}: no structure folders; expected "
                                f"mask/<structure>/<image stem>.png, e.g. mask/heart/")
    loose, _ = _image_files(mask_dir, "mask")
    if loose:
        raise ValueError(f"{next(iter(loose.values()))}: a mask directly in mask/; masks go in "
                         f"mask/<structure>/ (structures found: {structures})")
    out = {}
    for s in structures:
        folder = mask_dir / s
        files, skipped = _image_files(folder, "mask")
        ignored += skipped
        orphans = [p for stem, p in files.items() if stem not in images]
        if orphans:
            more = f" ({len(orphans) - 1} more in {folder})" if len(orphans) > 1 else ""
            raise ValueError(f"{orphans[0]}: mask without an image (no png/{orphans[0].stem}.* "
                             f"image){more}")
        lacking = [p for stem, p in images.items() if stem not in files]
        if lacking:
            more = f" ({len(lacking) - 1} more images lack one)" if len(lacking) > 1 else ""
            raise FileNotFoundError(f"{lacking[0]}: image without a mask in structure {s!r} "
                                    f"(expected {folder}/{lacking[0].stem}.png or another "
                                    f"image extension){more}")
        out[s] = files
    return out


# ----------------------------------------------------------------------------- labels.csv


def _image_column(csv, columns):
    found = [c for c in IMAGE_COLUMNS if c in columns]
    if len(found) != 1:
        problem = "has no image column" if not found else f"has several image columns {found}"
        hints = [] if found else [did_you_mean(str(c), IMAGE_COLUMNS) for c in columns]
        hint = next((h for h in hints if h), "")
        raise ValueError(f"{csv}: {problem}; expected exactly one of {list(IMAGE_COLUMNS)} "
                         f"(the image file name or stem).{hint} Received: columns={columns}")
    return found[0]


def _check_reserved(csv, columns, reserved):
    for c in columns:
        if c in reserved or c.startswith("mask_path:"):
            raise ValueError(f"{csv}: column {c!r} is reserved (the index's own or measured "
                             f"from the masks); rename it. Received: columns={columns}")


def _match_rows(csv, table, column, images):
    """The image stem of every row of ``table`` (errors name the CSV line)."""
    by_name = {p.name: stem for stem, p in images.items()}
    stems, seen = [], {}
    for i, value in enumerate(table[column].tolist()):
        line = i + 2
        name = "" if pd.isna(value) else Path(str(value).strip()).name
        stem = by_name.get(name, name if name in images else None)
        if stem is None:
            what = "no image named" if name else "an empty image name"
            hint = did_you_mean(name, list(by_name)) if name else ""
            raise ValueError(f"{csv}: line {line}: {what} {name!r} in png/.{hint} "
                             f"Received: {column}={value!r}")
        if stem in seen:
            raise ValueError(f"{csv}: lines {seen[stem]} and {line} both name the image {stem!r}")
        seen[stem] = line
        stems.append(stem)
    return stems


def _meta_column(values):
    """Numeric (float64, NaN blanks) when every non-blank value is a number, else strings."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers[values.notna()].notna().all():
        return numbers.astype(np.float64)
    return values.fillna("").astype(str)


def _check_split(csv, table, stems, images):
    values = table["split"]
    for i, v in enumerate(values.tolist()):
        if v not in SPLITS:
            shown = "an empty split" if v == "" or pd.isna(v) else f"split {v!r}"
            raise ValueError(f"{csv}: line {i + 2}: {shown} for image {stems[i]!r}; expected "
                             f"one of {list(SPLITS)}.{did_you_mean(str(v), SPLITS)}")
    lacking = [s for s in images if s not in set(stems)]
    if lacking:
        raise ValueError(f"{csv}: has a split column but no row for {len(lacking)} image(s), "
                         f"e.g. {str(images[lacking[0]])!r}; give every image a split")


def _read_labels(csv, images, reserved):
    """labels.csv as a DataFrame indexed by image stem (columns: patient_id, split, meta)."""
    try:
        table = pd.read_csv(csv, dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValueError(f"{csv}: cannot be read as CSV ({' '.join(str(e).split())})") from None
    table.columns = [str(c).strip() for c in table.columns]
    columns = list(table.columns)
    column = _image_column(csv, columns)
    _check_reserved(csv, columns, reserved)
    stems = _match_rows(csv, table, column, images)
    table = table.drop(columns=[column])
    for c in ("patient_id", "split"):
        if c in table:
            table[c] = table[c].str.strip()
    if "split" in table:
        _check_split(csv, table, stems, images)
    for c in table.columns:
        if c not in ("patient_id", "split"):
            table[c] = _meta_column(table[c])
    table.index = pd.Index(stems, name="stem")
    return table


# ----------------------------------------------------------------------------- pixels


def _check_pixels(index, structures, ctr, progress):
    """Read every image and mask: readable, same sizes; the CTR rows when ``ctr``."""
    rows = []
    paths = index["path"].tolist()
    for i in progress_bar(range(len(index)), desc="check", unit="img", disable=not progress,
                          file=sys.stdout, leave=False):
        try:
            image = load_image(paths[i])[0]
        except ImageReadError as e:
            raise ValueError(f"{paths[i]}: cannot read the image ({e.reason})") from None
        masks = {}
        for s in structures:
            mpath = index[f"mask_path:{s}"].iat[i]
            try:
                m = read_mask(mpath)
            except ImageReadError as e:
                raise ValueError(f"{mpath}: cannot read the mask ({e.reason})") from None
            if m.shape != image.shape[:2]:
                raise ValueError(f"{mpath}: mask size {m.shape[1]}x{m.shape[0]} (w x h) differs "
                                 f"from its image's {image.shape[1]}x{image.shape[0]} "
                                 f"({paths[i]})")
            if ctr and s in CTR_STRUCTURES:
                masks[s] = m
        if ctr:
            rows.append(_ctr_row(masks))
    return pd.DataFrame(rows, columns=list(CTR_COLUMNS), dtype=np.float64) if ctr else None


def _ctr_row(masks):
    heart, left, right = (masks[s] for s in CTR_STRUCTURES)
    hw = heart_width(heart) if heart.any() else np.nan
    tw = thorax_width(left, right) if left.any() and right.any() else np.nan
    return {"heart_width": hw, "thorax_width": tw, "ctr": hw / tw}


# ----------------------------------------------------------------------------- the index


def masks_index(root, *, ctr=True, source=None, progress=False):
    """Index of an images + masks folder, checked image by image (see the module docstring).

    Args:
        root: the folder holding ``png/``, ``mask/<structure>/`` and optionally
            ``labels.csv``.
        ctr: measure the cardiothoracic ratio (columns ``heart_width``, ``thorax_width``,
            ``ctr``) when heart, left_lung and right_lung are structures.
        source: ``df.attrs["source"]`` (default: the folder's name and "heartcv prep masks").
        progress: a progress bar (on stdout) while the images and masks are read.

    Returns:
        Index with ``image_id`` (the stem), ``path``, ``patient_id``, ``split``,
        ``mask_path:<structure>`` per structure, the labels.csv columns and the CTR columns;
        task "segmentation", class_names ``[]``, ``df.attrs["structures"]`` (the mask
        channels in order), ``split_source``, ``ignored_files`` (list of paths),
        ``without_labels`` (images with no labels.csv row) and ``ctr_undefined`` (image ids).

    Raises:
        FileNotFoundError, ValueError: naming the file and the problem (module docstring).
    """
    root = require_dir(root, "root")
    png, mask_dir = root / "png", root / "mask"
    for folder, what in ((png, "the images"), (mask_dir, "the masks, one folder per structure")):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: folder not found; expected {what} there "
                                    f"(layout png/<name>.png, mask/<structure>/<name>.png)")
    images, ignored = _image_files(png, "image")
    if not images:
        raise FileNotFoundError(f"{png}: no images (.png, .jpg, .jpeg, .bmp, .tif, .tiff, "
                                f".dcm, .dicom)")
    masks = _mask_files(mask_dir, images, ignored)
    structures = list(masks)
    with_ctr = ctr and all(s in structures for s in CTR_STRUCTURES)
    stems = list(images)
    df = pd.DataFrame({"image_id": stems, "path": [str(images[s]) for s in stems],
                       "patient_id": stems, "split": "test"})
    for s in structures:
        df[f"mask_path:{s}"] = [str(masks[s][stem]) for stem in stems]

    csv = root / LABELS_FILE
    without_labels, split_source = 0, "all test (no labels.csv)"
    if csv.is_file():
        reserved = set(_RESERVED) | (set(CTR_COLUMNS) if with_ctr else set())
        df, without_labels, split_source = _merge_labels(df, csv, images, reserved)

    table = _check_pixels(df, structures, with_ctr, progress)
    undefined = []
    if with_ctr:
        undefined = df.loc[table["ctr"].isna().to_numpy(), "image_id"].tolist()
        for c in CTR_COLUMNS:  # pixel widths are ints, as prep jsrt writes them, unless NaN
            whole = c != "ctr" and table[c].notna().all()
            df[c] = table[c].to_numpy(np.int64 if whole else np.float64)
    return finalize_index(
        df, class_names=[], task="segmentation",
        source=source or f"{root.name} (images + masks, heartcv prep masks)",
        structures=structures, split_source=split_source, ignored_files=ignored,
        without_labels=without_labels, ctr_undefined=undefined)


def _merge_labels(df, csv, images, reserved):
    """``df`` with labels.csv's patient_id, split and meta columns; rows missing, split source."""
    table = _read_labels(csv, images, reserved)
    without_labels = len(df) - len(table)
    table = table.reindex(df["image_id"].tolist())
    split_source = "all test (no split column in labels.csv)"
    if "patient_id" in table:
        pid = table["patient_id"].fillna("").to_numpy(object)
        df["patient_id"] = np.where(pid == "", df["patient_id"].to_numpy(object), pid)
    if "split" in table:
        df["split"] = table["split"].to_numpy(object)
        split_source = f"{LABELS_FILE} split column"
        _check_disjoint(csv, df)
    for c in table.columns:
        if c not in ("patient_id", "split"):
            col = table[c]
            numeric = pd.api.types.is_numeric_dtype(col)
            df[c] = col.to_numpy(np.float64) if numeric else col.fillna("").to_numpy(object)
    return df, without_labels, split_source


def _check_disjoint(csv, df):
    try:
        assert_disjoint(df["patient_id"].to_numpy(), df["split"].to_numpy())
    except LeakageError as e:
        raise ValueError(f"{csv}: the split is not patient-disjoint: {e}") from None


# ----------------------------------------------------------------------------- heartcv prep masks

PREP_DOC = '''Your own images + masks (an external validation set) -> heartcv segmentation bundle.

    heartcv prep masks --raw DIR --out data/external_320.h5 --size 320

DIR holds png/<any name>.<ext> (png, jpg, jpeg, bmp, tif, tiff, dcm) and
mask/<structure>/<same stem>.<ext> (the JSRT/SCR layout), optionally labels.csv with an
image column (image, file or image_id: file name or stem) and optional patient_id, split
(train/val/test) and other columns (kept as meta/<column>). Without a split column every
image is in split test. Everything is checked before anything is written; the CTR is
measured on the masks when heart, left_lung and right_lung exist (meta/ctr).
See heartcv.data.datasets.masks for the details.
'''

PROG = "heartcv prep masks"


def build_parser(prog=PROG):
    p = dataset_parser(prog, PREP_DOC, raw_help="folder holding png/, mask/<structure>/ and "
                       "optionally labels.csv", seed=False,
                       epilog=PREP_DOC.split("\n\n", 1)[1] + "\nSee data_prep/README.md.")
    p.add_argument("--source", default=None,
                   help="the bundle's source attribute, e.g. 'Hospital B, 2024' (default: the "
                        "folder name)")
    return p


def _print_summary(index):
    counts = index["split"].value_counts()
    print(f"{len(index)} images, {index['patient_id'].nunique()} patients; structures "
          f"{index.attrs['structures']}; split: "
          + ", ".join(f"{s} {int(counts[s])}" for s in SPLITS if s in counts)
          + f" ({index.attrs['split_source']})")
    if index.attrs["ignored_files"]:
        files = index.attrs["ignored_files"]
        print(f"ignored {len(files)} entries that are not image files, e.g. {files[0]}")
    if index.attrs["without_labels"]:
        print(f"{index.attrs['without_labels']} image(s) have no row in {LABELS_FILE} "
              f"(patient_id = stem, meta blank)")
    if "ctr" in index:
        ctr = index["ctr"].dropna()
        if len(ctr):
            print(f"CTR: mean {ctr.mean():.3f}, sd {ctr.std():.3f}, min {ctr.min():.3f}, "
                  f"max {ctr.max():.3f}, > 0.5: {int((ctr > 0.5).sum())} of {len(ctr)}")
        undefined = index.attrs["ctr_undefined"]
        if undefined:
            print(f"CTR undefined (empty heart or lung masks) for {len(undefined)} images, "
                  f"e.g. {undefined[0]!r}")


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)

    def work():
        index = masks_index(args.raw, source=args.source, progress=args.progress)
        _print_summary(index)
        convert(index, args)

    return run(prog, args, work)


register_dataset("masks", main=main, build_parser=build_parser, reader=masks_index,
                 description="your own images + masks folder (external validation; CTR)",
                 module=__name__)

"""NIH ChestX-ray14: 112,120 frontal chest X-rays of 30,805 patients, 14 text-mined labels.

Where to get it:
    https://nihcc.app.box.com/v/ChestXray-NIHCC (NIH Clinical Center; use is unrestricted,
    cite the paper). The same files are mirrored on Kaggle ("nih-chest-xrays/data").

Raw layout (as published; every file is looked for in ``raw_dir`` and ``raw_dir/metadata``):
    ``Data_Entry_2017_v2020.csv`` (or ``.csv.gz``, or the older ``Data_Entry_2017.csv``):
        columns ``Image Index, Finding Labels, Follow-up #, Patient ID, Patient Age,
        Patient Gender, View Position, OriginalImage[Width, Height],
        OriginalImagePixelSpacing[x, y]`` -- the two bracketed headers are split by their
        commas into four columns (``OriginalImage[Width``, ``Height]``,
        ``OriginalImagePixelSpacing[x``, ``y]``); the 2017 file also ends every line with a
        comma (an empty trailing column). Labels are ``|``-separated; ``No Finding`` marks
        images with none of the 14.
    ``BBox_List_2017.csv``: 984 boxes on 880 images in 1024x1024 pixel coordinates, header
        ``Image Index, Finding Label, Bbox [x, y, w, h]`` (split the same way) followed by
        three empty columns. The box file writes ``Infiltrate`` for the label
        ``Infiltration``; :func:`read_bboxes` maps it back.
    ``images/*.png`` or the download layout ``images_001/images/ ... images_012/images/``
        (1024x1024 8-bit grey PNGs; a few are RGBA). Files are found by name.
    ``train_val_list.txt`` / ``test_list.txt``: the official patient-wise split
        (86,524 / 25,596 images), one image name per line.

Counts (``Data_Entry_2017_v2020.csv``): 112,120 images, 30,805 patients, 60,361 ``No
Finding``; per label: Atelectasis 11,559, Cardiomegaly 2,776, Effusion 13,317, Infiltration
19,894, Mass 5,782, Nodule 6,331, Pneumonia 1,431, Pneumothorax 5,302, Consolidation 4,667,
Edema 2,303, Emphysema 2,516, Fibrosis 1,686, Pleural_Thickening 3,385, Hernia 227.

Views:
    :func:`multilabel_index`: the 14 labels of :data:`PATHOLOGIES` (task "multilabel").
    :func:`cardiomegaly_index`: "Cardiomegaly vs No Finding" (task "binary") as in
        Cardio-XAttentionNet: an image is positive when ``Cardiomegaly`` is among its labels
        (alone or with other findings) and negative when its label is exactly ``No
        Finding``; all other images are left out. On the v2020 metadata this gives exactly
        the paper's 2,776 cardiomegaly and 60,361 normal images (63,137 in all); taking
        images labelled ``Cardiomegaly`` *alone* would give only 1,093 positives.

Splits:
    With the official lists, ``test_list.txt`` is the test split and ``train_val_list.txt``
    is divided patient-wise into train and val (``val_fraction`` = 10% of its patients,
    seeded). Without them ``split`` is absent and :func:`assign_split` makes a seeded
    patient-wise split with the cardiomegaly paper's proportions: 80% train+val / 20% test,
    then 10% of train+val for validation (72 / 8 / 20).

Metadata columns:
    ``finding_labels`` (the raw ``|`` string), ``follow_up``, ``age`` (years), ``sex``,
    ``view`` (PA/AP), ``original_width``/``original_height`` and ``pixel_spacing_x/y``
    (the published ``OriginalImage[...]`` columns: the size and spacing of the scan *before*
    NIH resized it to the 1024x1024 PNG). They are deliberately not called ``orig_w`` /
    ``orig_h``: in the index contract those name the frame of the stored image and its
    boxes, which for ChestX-ray14 is the 1024x1024 PNG, not the original scan.

Missing images:
    With ``require_images=True`` (default) metadata rows whose PNG is not on disk are
    dropped; their count is logged and kept in ``df.attrs["missing_images"]``. With
    ``require_images=False`` every metadata row is kept and ``path`` is NaN where the file
    is absent (useful to compute label statistics without the 42 GB of images).

References:
    Wang X, Peng Y, Lu L, Lu Z, Bagheri M, Summers RM. ChestX-ray8: Hospital-scale chest
    X-ray database and benchmarks on weakly-supervised classification and localization of
    common thorax diseases. CVPR 2017, 2097-2106.
    Innat M, Hossain MF, Mader K, Kouzani AZ. A convolutional attention mapping deep neural
    network for classification and localization of cardiomegaly on chest X-rays
    (Cardio-XAttentionNet). Sci Rep 13:6247, 2023.
"""

import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from heartcv.data.datasets import assign_split as _assign_split
from heartcv.data.datasets import did_you_mean, finalize_index, require_dir, require_file
from heartcv.data.datasets._prep import convert, dataset_parser, run
from heartcv.data.splits import assert_disjoint, patient_split
from heartcv.registry import register_dataset

__all__ = [
    "BBOX_FILE",
    "METADATA_FILES",
    "NO_FINDING",
    "PATHOLOGIES",
    "SOURCE",
    "assign_split",
    "cardiomegaly_index",
    "find_images",
    "find_metadata",
    "multilabel_index",
    "read_bboxes",
    "read_metadata",
    "read_official_lists",
]

logger = logging.getLogger(__name__)

SOURCE = "NIH ChestX-ray14 (Wang et al., CVPR 2017)"

#: The 14 labels in the official order (the paper's Table / ``Data_Entry`` README).
PATHOLOGIES = (
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening",
    "Hernia",
)
NO_FINDING = "No Finding"

#: Metadata file names as published, most recent first.
METADATA_FILES = ("Data_Entry_2017_v2020.csv", "Data_Entry_2017_v2020.csv.gz",
                  "Data_Entry_2017.csv", "Data_Entry_2017.csv.gz")
BBOX_FILE = "BBox_List_2017.csv"
TRAIN_VAL_LIST = "train_val_list.txt"
TEST_LIST = "test_list.txt"

#: Published metadata column -> index column.
METADATA_COLUMNS = {
    "Image Index": "image_id",
    "Finding Labels": "finding_labels",
    "Follow-up #": "follow_up",
    "Patient ID": "patient_id",
    "Patient Age": "age",
    "Patient Gender": "sex",
    "View Position": "view",
    "OriginalImage[Width": "original_width",
    "Height]": "original_height",
    "OriginalImagePixelSpacing[x": "pixel_spacing_x",
    "y]": "pixel_spacing_y",
}
BBOX_COLUMNS = {"Image Index": "image_id", "Finding Label": "label",
                "Bbox [x": "x", "y": "y", "w": "w", "h]": "h"}
#: Box-file spellings that differ from :data:`PATHOLOGIES`.
BBOX_LABEL_ALIASES = {"Infiltrate": "Infiltration"}

#: Cardio-XAttentionNet proportions: 80/20, then 10% of the 80 for validation.
FALLBACK_FRACTIONS = {"train": 0.72, "val": 0.08, "test": 0.2}
VAL_FRACTION = 0.1

_AGE = re.compile(r"^\s*(\d+)\s*([YMD]?)\s*$", re.IGNORECASE)


def _locate(raw_dir, names):
    for sub in ("", "metadata"):
        for name in names:
            path = Path(raw_dir) / sub / name
            if path.is_file():
                return path.resolve()
    return None


def find_metadata(raw_dir):
    """Return the metadata CSV in ``raw_dir`` (or ``raw_dir/metadata``), v2020 first.

    Raises:
        FileNotFoundError: naming the file names looked for.
    """
    raw_dir = require_dir(raw_dir)
    path = _locate(raw_dir, METADATA_FILES)
    if path is None:
        raise FileNotFoundError(f"No ChestX-ray14 metadata in {str(raw_dir)!r} or its metadata/ "
                                f"folder; expected one of {list(METADATA_FILES)}. "
                                f"Received: raw_dir={str(raw_dir)!r}")
    return path


def _parse_age(values, csv):
    """Ages are integers (v2020) or strings like ``058Y`` (early 2017 releases)."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(np.float32)
    out = np.empty(len(values), np.float32)
    scale = {"": 1.0, "Y": 1.0, "M": 1 / 12, "D": 1 / 365}
    for i, v in enumerate(values.astype(str)):
        m = _AGE.match(v)
        if not m:
            raise ValueError(f"Unreadable `Patient Age` in {str(csv)!r} row {i}. "
                             f"Received: age={v!r}")
        out[i] = int(m.group(1)) * scale[m.group(2).upper()]
    return out


def read_metadata(csv):
    """Read ``Data_Entry_2017.csv`` or ``Data_Entry_2017_v2020.csv(.gz)``.

    Args:
        csv: path to the file (gzip is read transparently).

    Returns:
        DataFrame with the published column names (see :data:`METADATA_COLUMNS`), empty
        trailing columns removed, ``Patient Age`` as float32 years, one row per image.

    Raises:
        FileNotFoundError: if ``csv`` is missing.
        ValueError: on missing columns, duplicated image names, or labels outside
            :data:`PATHOLOGIES` + ``No Finding``.
    """
    csv = require_file(csv, "csv")
    df = pd.read_csv(csv, dtype={"Image Index": str, "Finding Labels": str})
    empty = [c for c in df.columns if str(c).startswith("Unnamed:") and df[c].isna().all()]
    df = df.drop(columns=empty)
    missing = [c for c in METADATA_COLUMNS if c not in df.columns]
    if missing:
        hint = did_you_mean(missing[0], df.columns)
        raise ValueError(f"{str(csv)!r} lacks the ChestX-ray14 column(s) {missing}.{hint} "
                         f"Received: columns={list(df.columns)}")
    dup = df["Image Index"][df["Image Index"].duplicated()]
    if len(dup):
        raise ValueError(f"{str(csv)!r} lists {len(dup)} image(s) twice, e.g. {list(dup[:3])}")
    tokens = set()
    for labels in df["Finding Labels"].dropna().unique():
        tokens.update(labels.split("|"))
    unknown = sorted(tokens - set(PATHOLOGIES) - {NO_FINDING})
    if unknown or df["Finding Labels"].isna().any():
        bad = unknown[0] if unknown else "<empty>"
        raise ValueError(f"{str(csv)!r} has a finding outside the 14 labels and 'No Finding'."
                         f"{did_you_mean(bad, PATHOLOGIES)} Received: label={bad!r}")
    df["Patient Age"] = _parse_age(df["Patient Age"], csv)
    return df


def read_bboxes(csv, canonical_labels=True):
    """Read ``BBox_List_2017.csv`` into ``image_id, label, x, y, w, h``.

    Args:
        csv: path to the box file.
        canonical_labels: map the file's ``Infiltrate`` to ``Infiltration`` so labels match
            :data:`PATHOLOGIES`.

    Returns:
        DataFrame, one row per box, coordinates as float64 in the original 1024x1024 pixels.

    Raises:
        ValueError: if the published columns are missing or a coordinate is not a number.
    """
    csv = require_file(csv, "csv")
    raw = pd.read_csv(csv, dtype={"Image Index": str})
    missing = [c for c in BBOX_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{str(csv)!r} lacks the box column(s) {missing}; expected the header "
                         f"'Image Index,Finding Label,Bbox [x,y,w,h]'. "
                         f"Received: columns={list(raw.columns)}")
    extra = [c for c in raw.columns if c not in BBOX_COLUMNS and raw[c].notna().any()]
    if extra:
        raise ValueError(f"{str(csv)!r} has unexpected non-empty column(s) {extra}")
    boxes = raw[list(BBOX_COLUMNS)].rename(columns=BBOX_COLUMNS)
    for c in ("x", "y", "w", "h"):
        values = pd.to_numeric(boxes[c], errors="coerce")
        if values.isna().any():
            i = int(np.flatnonzero(values.isna())[0])
            raise ValueError(f"{str(csv)!r} row {i}: box {c} is not a number. "
                             f"Received: {c}={boxes[c].iloc[i]!r}")
        boxes[c] = values.astype(np.float64)
    if canonical_labels:
        boxes["label"] = boxes["label"].replace(BBOX_LABEL_ALIASES)
    return boxes.reset_index(drop=True)


def find_images(raw_dir):
    """Map image file name -> absolute path over ``images/`` and ``images_*/images/``.

    Also accepts ``images_*/`` holding PNGs directly.

    Raises:
        ValueError: if one file name appears in two folders.
    """
    raw_dir = require_dir(raw_dir)
    folders = [raw_dir / "images"]
    for entry in sorted(raw_dir.glob("images_*")):
        if entry.is_dir():
            folders += [entry / "images", entry]
    found = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        with os.scandir(folder) as it:
            for e in it:
                if e.name.lower().endswith(".png") and e.is_file():
                    if e.name in found and found[e.name] != e.path:
                        raise ValueError(f"Image {e.name!r} is in two folders: "
                                         f"{found[e.name]!r} and {e.path!r}")
                    found[e.name] = os.path.abspath(e.path)
    return found


def read_official_lists(raw_dir):
    """Read ``train_val_list.txt`` and ``test_list.txt`` when both are present.

    Returns:
        ``{image_name: "train_val" | "test"}``, or ``None`` when neither file exists.

    Raises:
        FileNotFoundError: if only one of the two files exists.
        ValueError: if an image is named in both.
    """
    raw_dir = require_dir(raw_dir)
    tv, te = _locate(raw_dir, [TRAIN_VAL_LIST]), _locate(raw_dir, [TEST_LIST])
    if tv is None and te is None:
        return None
    if tv is None or te is None:
        have, lack = (tv, TEST_LIST) if te is None else (te, TRAIN_VAL_LIST)
        raise FileNotFoundError(f"Found {str(have)!r} but not {lack!r}; the official split needs "
                                f"both. Received: raw_dir={str(raw_dir)!r}")
    out = {}
    for path, name in ((tv, "train_val"), (te, "test")):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"Split list {str(path)!r} is not text (byte {err.start} is not "
                             "UTF-8); expected one image name per line") from None
        for line in text.splitlines():
            image = line.strip()
            if not image:
                continue
            if image in out and out[image] != name:
                raise ValueError(f"Image {image!r} is in both {TRAIN_VAL_LIST!r} and "
                                 f"{TEST_LIST!r} (folder {str(raw_dir)!r})")
            out[image] = name
    return out


def _base_index(raw_dir, metadata):
    """Metadata + image paths, index column names, 14 label columns."""
    raw_dir = require_dir(raw_dir)
    csv = find_metadata(raw_dir) if metadata is None else require_file(metadata, "metadata")
    meta = read_metadata(csv)
    df = meta[list(METADATA_COLUMNS)].rename(columns=METADATA_COLUMNS)
    df["patient_id"] = df["patient_id"].astype(np.int64).map("{:08d}".format)
    codes, uniques = pd.factorize(df["finding_labels"])  # ~800 distinct label strings
    column = {name: k for k, name in enumerate(PATHOLOGIES)}
    hot = np.zeros((len(uniques), len(PATHOLOGIES)), np.float32)
    for i, labels in enumerate(uniques):
        for label in labels.split("|"):
            if label != NO_FINDING:
                hot[i, column[label]] = 1.0
    hot = hot[codes]
    for k, name in enumerate(PATHOLOGIES):
        df[name] = hot[:, k]
    images = find_images(raw_dir)
    df["path"] = df["image_id"].map(images)
    n_missing = int(df["path"].isna().sum())
    return raw_dir, csv, df, n_missing


def _drop_missing(df, n_missing, require_images):
    if require_images and n_missing:
        logger.warning("ChestX-ray14: %d of %d images in the metadata are not on disk; "
                       "dropped (require_images=True).", n_missing, len(df))
        df = df[df["path"].notna()]
    return df


def _official_split(df, lists, *, seed, val_fraction, stratify):
    """Apply the official lists to ``df`` (already restricted to a view)."""
    coarse = df["image_id"].map(lists)
    n_unlisted = int(coarse.isna().sum())
    if n_unlisted:
        logger.warning("ChestX-ray14: %d image(s) are in neither %s nor %s; dropped.",
                       n_unlisted, TRAIN_VAL_LIST, TEST_LIST)
    keep = coarse.notna().to_numpy()
    df, coarse = df[keep].copy(), coarse[keep]
    split = np.full(len(df), "test", dtype=object)
    tv = (coarse == "train_val").to_numpy()
    if tv.any():
        strat = None if stratify is None else np.asarray(df[stratify])[tv]
        split[tv] = patient_split(df["patient_id"].to_numpy()[tv],
                                  fractions={"train": 1.0 - val_fraction, "val": val_fraction},
                                  seed=seed, stratify=strat)
    df["split"] = split.astype(str)
    assert_disjoint(df["patient_id"].to_numpy(), df["split"].to_numpy())
    return df, n_unlisted


def _build(raw_dir, *, metadata, require_images, seed, val_fraction, official, view):
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"Expected `val_fraction` in (0, 1). "
                         f"Received: val_fraction={val_fraction}")
    raw_dir, csv, df, n_missing = _base_index(raw_dir, metadata)
    lists = read_official_lists(raw_dir) if official else None
    if lists is not None:
        # Checked against every metadata row, before any row is dropped.
        unknown = sorted(set(lists) - set(df["image_id"]))
        if unknown:
            raise ValueError(f"{len(unknown)} image(s) in the official split lists are not in "
                             f"{str(csv)!r}, e.g. {unknown[:3]}")
        # One patient on both sides of the official lists -> LeakageError naming the patient
        # (checked on every listed image, whether on disk or not).
        listed = df["image_id"].map(lists)
        sel = listed.notna().to_numpy()
        assert_disjoint(df["patient_id"].to_numpy()[sel],
                        np.where(listed.to_numpy()[sel] == "test", "test", "train"))
    boxes = None
    box_csv = _locate(raw_dir, [BBOX_FILE])
    if box_csv is not None:
        boxes = read_bboxes(box_csv)
    if view == "cardiomegaly":
        labels = df["finding_labels"]
        positive = df["Cardiomegaly"] == 1.0
        negative = labels == NO_FINDING
        df = df[positive | negative].copy()
        class_names, task, stratify = ["Cardiomegaly"], "binary", "Cardiomegaly"
        n_missing = int(df["path"].isna().sum())
        if boxes is not None:
            boxes = boxes[boxes["label"] == "Cardiomegaly"]
    else:
        class_names, task, stratify = list(PATHOLOGIES), "multilabel", None
    df = _drop_missing(df, n_missing, require_images)
    n_unlisted = 0
    if lists is not None:
        df, n_unlisted = _official_split(df, lists, seed=seed, val_fraction=val_fraction,
                                         stratify=stratify)
    if boxes is not None:
        boxes = boxes[boxes["image_id"].isin(set(df["image_id"]))].reset_index(drop=True)
    columns = ["image_id", "path", "patient_id"] + (["split"] if "split" in df else [])
    columns += class_names + [c for c in df.columns if c not in columns and c not in PATHOLOGIES]
    source = SOURCE if view == "multilabel" else f"{SOURCE}; Cardiomegaly vs No Finding"
    return finalize_index(df[columns], class_names=class_names, task=task, source=source,
                          boxes=boxes, metadata_file=str(csv), missing_images=n_missing,
                          unlisted_images=n_unlisted,
                          split_source="official" if lists is not None else "none",
                          **({"negative_class": NO_FINDING} if view == "cardiomegaly" else {}))


def multilabel_index(raw_dir, *, metadata=None, require_images=True, seed=0,
                     val_fraction=VAL_FRACTION, official=True):
    """Index of all images with the 14 labels (task "multilabel").

    Args:
        raw_dir: the ChestX-ray14 folder (see the module docstring for the layout).
        metadata: explicit metadata CSV; default: found in ``raw_dir`` (v2020 first).
        require_images: drop rows whose PNG is missing (True) or keep them with NaN path.
        seed: seed of the train/val division of ``train_val_list.txt``.
        val_fraction: share of train_val patients put in ``val``.
        official: use ``train_val_list.txt``/``test_list.txt`` when present.

    Returns:
        The index (see :mod:`heartcv.data.datasets`); ``df.attrs["boxes"]`` holds the boxes of
        the indexed images when ``BBox_List_2017.csv`` is present.

    Raises:
        heartcv.data.splits.LeakageError: if the official lists put one patient on both sides.
    """
    return _build(raw_dir, metadata=metadata, require_images=require_images, seed=seed,
                  val_fraction=val_fraction, official=official, view="multilabel")


def cardiomegaly_index(raw_dir, *, metadata=None, require_images=True, seed=0,
                       val_fraction=VAL_FRACTION, official=True):
    """Index for "Cardiomegaly vs No Finding" (task "binary", class ``Cardiomegaly``).

    Positive: ``Cardiomegaly`` among the labels (with or without other findings); negative:
    exactly ``No Finding``; everything else left out. 2,776 + 60,361 images on the v2020
    metadata. Arguments as :func:`multilabel_index`; the train/val division of the official
    list is stratified on the label. Boxes are restricted to Cardiomegaly boxes.
    """
    return _build(raw_dir, metadata=metadata, require_images=require_images, seed=seed,
                  val_fraction=val_fraction, official=official, view="cardiomegaly")


def assign_split(index, *, seed, fractions=None):
    """Give an index a seeded patient-wise split when it has none (official lists absent).

    Args:
        index: an index from :func:`multilabel_index` or :func:`cardiomegaly_index`.
        seed: seed of the split.
        fractions: ``{"train", "val", "test"}`` shares; default :data:`FALLBACK_FRACTIONS`
            (80/20, then 10% of the 80 for validation); the binary view is stratified on
            its label.

    Returns:
        A copy with ``split``; an index that already has a complete ``split`` (official
        lists) is returned unchanged (copied). Either way
        :func:`~heartcv.data.splits.assert_disjoint` is run.
    """
    return _assign_split(index, seed=seed, fractions=dict(fractions or FALLBACK_FRACTIONS))


# ----------------------------------------------------------------------------- heartcv prep cxr14

PREP_DOC = '''NIH ChestX-ray14 -> heartcv HDF5 bundle (14-label or Cardiomegaly-vs-No-Finding view).

    python data_prep/cxr14.py --raw RAW_DIR --out data/cxr14_cardiomegaly_320.h5         --view cardiomegaly --size 320 --seed 0

Reads the raw download as published (see ``heartcv.data.datasets.cxr14``), takes the official
``train_val_list.txt``/``test_list.txt`` split when present (train_val divided patient-wise,
10% of its patients for validation) or else a seeded patient-wise 72/8/20 split, checks that
no patient is in two splits, converts the images found on disk, and prints the counts per
class and split. Images listed in the metadata but absent from disk are left out (counted).
'''

PROG = "heartcv prep cxr14"


def build_parser(prog=PROG):
    p = dataset_parser(prog, PREP_DOC, raw_help="ChestX-ray14 folder (metadata CSV + images)")
    p.add_argument("--view", choices=("multilabel", "cardiomegaly"), default="multilabel",
                   help="14 labels, or Cardiomegaly (any) vs No Finding (default: multilabel)")
    p.add_argument("--splits", nargs="+", choices=("train", "val", "test"), default=None,
                   metavar="SPLIT",
                   help="write only these splits (train, val, test; default: all), e.g. "
                        "--size 1024 --splits test: the full-resolution test bundle the "
                        "Cardio-XAttentionNet paper tests on (heartcv evaluate MODEL --data "
                        "IT --image-size full). The split itself is drawn as without it.")
    return p


def keep_splits(index, splits):
    """The rows of ``index`` in ``splits`` (after :func:`assign_split`: the same patients
    and split as a full bundle of the same seed); ``ValueError`` if none is left."""
    if not splits:
        return index
    kept = index[index["split"].isin(list(splits))].copy()
    kept.attrs.update(index.attrs)
    boxes = index.attrs.get("boxes")
    if boxes is not None:  # the boxes of the images kept (the others are not "dropped")
        boxes = pd.DataFrame(boxes)
        kept.attrs["boxes"] = boxes[boxes["image_id"].astype(str).isin(
            kept["image_id"].astype(str))].reset_index(drop=True)
    if kept.empty:
        counts = index["split"].value_counts().to_dict()
        raise ValueError(f"No image in splits {list(splits)} (the index has {counts}). "
                         f"Received: --splits {' '.join(splits)}")
    return kept


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)

    def work():
        build = cardiomegaly_index if args.view == "cardiomegaly" else multilabel_index
        index = assign_split(build(args.raw, seed=args.seed), seed=args.seed)
        print(f"split: {index.attrs['split_source']}; images in the metadata but not on disk: "
              f"{index.attrs['missing_images']}")
        if args.splits:
            index = keep_splits(index, args.splits)
            print(f"writing only splits {sorted(set(args.splits))}: {len(index)} images at "
                  f"{args.size} px")
        convert(index, args)

    return run(prog, args, work)


register_dataset("cxr14", main=main, build_parser=build_parser, reader=multilabel_index,
                 description="NIH ChestX-ray14: 14 labels or the cardiomegaly view", module=__name__)

"""ECG Images dataset of Cardiac and COVID-19 Patients (Khan, Hussain & Malik, 2021).

Scanned 12-lead ECG printouts (about 2213x1572 px JPEGs), one folder per class, one printout
per patient record. Used by the five-class ECG-image paper (Paul & Azad, "Heart Condition
Classification based on ECG Images"), which cuts every sheet into 13 lead images (12 leads +
the rhythm strip, see :mod:`heartcv.papers.ecg_images_5class.layout`).

Where to get it:
    Mendeley Data, doi:10.17632/gwbz3fsgp8 (terms on that page); the four cardiac classes
    are also mirrored on Kaggle. Cite Khan AH, Hussain M, Malik MK, "ECG Images dataset of
    Cardiac and COVID-19 Patients", Data in Brief 34:106762 (2021).

Class folders, names exactly as published (typos kept) -> class (:data:`FOLDER_CLASSES`).
The five-class release (1,937 records):

- ``Normal Person ECG Images (859)`` -> ``normal``
- ``ECG Images of Patient that have abnormal heart beats (548)`` -> ``abnormal_heartbeat``
- ``ECG Images of Myocardial Infarction Patients (77)`` -> ``myocardial_infarction``
- ``ECG Images of Patient that have History of MI (203)`` -> ``history_of_mi``
- ``ECG Images of COVID-19 Patients (250)`` -> ``covid19``

the cardiac-only release:

- ``Normal Person ECG Images (284x12=3408)`` -> ``normal``
- ``ECG Images of Patient that have abnormal heartbeat (233x12=2796)`` ->
  ``abnormal_heartbeat``
- ``ECG Images of Myocardial Infarction Patients (240x12=2880)`` -> ``myocardial_infarction``
- ``ECG Images of Patient that have History of MI (172x12=2064)`` -> ``history_of_mi``

and the test subset distributed with it (file names ``Normal(101).jpg``, ``HB(101).jpg``,
``MI(101).jpg``; the 30 printouts under ``../shared/data/ecg_khan/printouts`` are 10 of each):

- ``Normal Person test`` -> ``normal``
- ``Abnormal Hearbeat test`` -> ``abnormal_heartbeat``
- ``Myocardical Infraction test`` -> ``myocardial_infarction``

Folder names are matched exactly, or with the parenthesised count removed (releases differ
in that count only). The five-class paper reports 2,746 ECGs: normal 1,143, abnormal 714,
MI 313, history of MI 327, COVID-19 250 (41.6 / 26 / 11.4 / 11.9 / 9.1 %).

Patients:
    Every printout is one patient record, identified by its file stem (``HB(101)``); a stem
    found in two folders (a release and its test subset) is taken as the same record, so it
    never straddles a split. ``image_id`` is ``<folder>/<file name>``.

Lead crops (``leads28/``):
    ``covid.npy``, ``mi.npy``, ``pmi.npy``: uint8 arrays (N*13, 28, 28), each ECG's 13 lead
    crops consecutive, already greyscale, inverted and dilated (175 COVID-19, 219 MI and 228
    history-of-MI ECGs in the copy under ``../shared/data``). :func:`leads28_dataset`
    regroups them to (N, 13, 28, 28) with one patient id per ECG (``<stem>-<i>``; the arrays
    carry no patient information, so each ECG is taken as its own patient).
"""

import re
from typing import NamedTuple

import numpy as np
import pandas as pd

from heartcv.data.datasets import did_you_mean, finalize_index, require_dir, require_file


# ----------------------------------------------------------------------------- sheet geometry
# The published 13-lead crop of the printouts (data README), used by the ECG-image paper's
# layout (heartcv.papers.ecg_images_5class.layout) and by the synthetic sheets
# (heartcv.data.synthetic.ecg), which are drawn in this layout.

#: Size (rows, columns) of the sheet on which the crop boxes were defined.
REFERENCE_SHAPE = (1572, 2213)

#: The 13 lead crops, in the order they are cut from a sheet (row by row, then the rhythm strip).
LEAD_NAMES = (
    "I",
    "aVR",
    "V1",
    "V4",
    "II",
    "aVL",
    "V2",
    "V5",
    "III",
    "aVF",
    "V3",
    "V6",
    "rhythm(II)",
)

_ROW_BANDS = ((300, 600), (600, 900), (900, 1200))
_COLUMNS = ((150, 643), (646, 1135), (1140, 1625), (1630, 2125))
_RHYTHM_BOX = (1250, 1480, 150, 2125)


def _reference_boxes():
    boxes = [(y0, y1, x0, x1) for (y0, y1) in _ROW_BANDS for (x0, x1) in _COLUMNS]
    boxes.append(_RHYTHM_BOX)
    return tuple(boxes)


#: Boxes ``(y0, y1, x0, x1)`` in pixels on the reference sheet, in :data:`LEAD_NAMES` order.
REFERENCE_BOXES = _reference_boxes()

#: The same boxes as fractions ``(y0, y1, x0, x1)`` of the sheet's height and width.
RELATIVE_BOXES = tuple(
    (y0 / REFERENCE_SHAPE[0], y1 / REFERENCE_SHAPE[0], x0 / REFERENCE_SHAPE[1],
     x1 / REFERENCE_SHAPE[1])
    for (y0, y1, x0, x1) in REFERENCE_BOXES
)

__all__ = [
    "CLASS_NAMES",
    "FOLDER_CLASSES",
    "LEADS28_FILES",
    "LEADS_PER_ECG",
    "SOURCE",
    "Leads28",
    "folder_class",
    "leads28_dataset",
    "printouts_index",
    "read_leads28",
]

SOURCE = ("ECG Images dataset of Cardiac and COVID-19 Patients (Khan, Hussain & Malik, "
          "Data in Brief 2021)")
#: Classes in the order of the five-class paper.
CLASS_NAMES = ("normal", "abnormal_heartbeat", "myocardial_infarction", "history_of_mi",
               "covid19")

#: Published class-folder names -> class.
FOLDER_CLASSES = {
    "Normal Person ECG Images (859)": "normal",
    "ECG Images of Patient that have abnormal heart beats (548)": "abnormal_heartbeat",
    "ECG Images of Myocardial Infarction Patients (77)": "myocardial_infarction",
    "ECG Images of Patient that have History of MI (203)": "history_of_mi",
    "ECG Images of COVID-19 Patients (250)": "covid19",
    "Normal Person ECG Images (284x12=3408)": "normal",
    "ECG Images of Patient that have abnormal heartbeat (233x12=2796)": "abnormal_heartbeat",
    "ECG Images of Myocardial Infarction Patients (240x12=2880)": "myocardial_infarction",
    "ECG Images of Patient that have History of MI (172x12=2064)": "history_of_mi",
    "Normal Person test": "normal",
    "Abnormal Hearbeat test": "abnormal_heartbeat",
    "Myocardical Infraction test": "myocardial_infarction",
}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

#: ``leads28/<stem>.npy`` -> class.
LEADS28_FILES = {"covid": "covid19", "mi": "myocardial_infarction", "pmi": "history_of_mi"}
LEADS_PER_ECG = 13
LEAD_SIZE = (28, 28)

_COUNT = re.compile(r"\s*\([^()]*\)\s*$")


def _strip_count(name):
    return " ".join(_COUNT.sub("", name).split())


_BY_BASE = {_strip_count(k): v for k, v in FOLDER_CLASSES.items()}


def folder_class(name):
    """Class of a published folder name (exact, or without its parenthesised count).

    Raises:
        ValueError: for an unknown folder, with the closest published name.
    """
    if name in FOLDER_CLASSES:
        return FOLDER_CLASSES[name]
    base = _strip_count(name)
    if base in _BY_BASE:
        return _BY_BASE[base]
    raise ValueError(f"Unknown ECG class folder.{did_you_mean(name, FOLDER_CLASSES)} "
                     f"Known folders: {list(FOLDER_CLASSES)}. Received: folder={name!r}")


def _check_classes(class_names):
    names = list(class_names)
    for c in names:
        if c not in CLASS_NAMES:
            raise ValueError(f"Unknown ECG class.{did_you_mean(c, CLASS_NAMES)} Expected some of "
                             f"{list(CLASS_NAMES)}. Received: class_names={names!r}")
    return names


def printouts_index(root, *, class_names=None):
    """Index of the ECG printouts: every class folder found under ``root``.

    Args:
        root: a folder holding the class folders directly, in ``printouts/``, or deeper (e.g.
            ``train/`` and ``test/``); folders are searched recursively.
        class_names: classes to keep, in column order; default: the classes found, in
            :data:`CLASS_NAMES` order.

    Returns:
        Index with ``image_id`` (``<folder>/<file>``), ``path``, ``patient_id`` (file stem),
        one one-hot column per class, ``class`` and ``folder``; task "multiclass".

    Raises:
        ValueError: a folder holding images whose name is not a published class folder.
        FileNotFoundError: no printouts under ``root``.
    """
    root = require_dir(root, "root")
    rows = []
    for folder in sorted([root] + [p for p in root.rglob("*") if p.is_dir()]):
        images = sorted(p for p in folder.iterdir()
                        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not images:
            continue
        cls = folder_class(folder.name)
        for p in images:
            rows.append({"image_id": f"{folder.name}/{p.name}", "path": str(p),
                         "patient_id": p.stem, "class": cls, "folder": folder.name})
    if not rows:
        raise FileNotFoundError(f"No ECG printouts ({', '.join(IMAGE_EXTENSIONS)}) in class "
                                f"folders under {str(root)!r}. Received: root={str(root)!r}")
    df = pd.DataFrame(rows)
    found = [c for c in CLASS_NAMES if c in set(df["class"])]
    names = found if class_names is None else _check_classes(class_names)
    df = df[df["class"].isin(names)].copy()
    if df.empty:
        raise ValueError(f"No printout under {str(root)!r} belongs to the classes asked. "
                         f"Found {found}. Received: class_names={names!r}")
    for c in names:
        df[c] = (df["class"] == c).astype(np.float32)
    columns = ["image_id", "path", "patient_id"] + names + ["class", "folder"]
    return finalize_index(df[columns], class_names=names, task="multiclass", source=SOURCE)


def read_leads28(path):
    """Read one ``leads28`` array and regroup it per ECG.

    Args:
        path: ``.npy`` file holding uint8 (N*13, 28, 28), each ECG's 13 crops consecutive.

    Returns:
        uint8 array (N, 13, 28, 28).

    Raises:
        ValueError: naming the file, if the array is not 3-D with 28x28 crops or its length is
            not a multiple of 13.
        TypeError: if it is not uint8.
    """
    path = require_file(path, "path")
    a = np.load(path, allow_pickle=False)
    if a.ndim != 3 or a.shape[1:] != LEAD_SIZE:
        raise ValueError(f"Expected lead crops of shape (N*13, 28, 28) in {str(path)!r}. "
                         f"Received: shape={a.shape}")
    if a.dtype != np.uint8:
        raise TypeError(f"Expected uint8 lead crops in {str(path)!r}. Received: dtype={a.dtype}")
    if len(a) % LEADS_PER_ECG:
        raise ValueError(f"{str(path)!r} holds {len(a)} lead crops, not a multiple of "
                         f"{LEADS_PER_ECG} (13 per ECG): the file is truncated or not in the "
                         f"leads28 layout. Received: shape={a.shape}")
    return a.reshape(-1, LEADS_PER_ECG, *LEAD_SIZE)


class Leads28(NamedTuple):
    """Lead-crop data set: ``x`` (N, 13, 28, 28) uint8, ``y`` (N,) int64 indices into
    ``class_names``, ``class_names`` (list), ``patient_id`` (N,) str."""

    x: np.ndarray
    y: np.ndarray
    class_names: list
    patient_id: np.ndarray


def leads28_dataset(root, *, class_names=None):
    """Load every ``leads28/<stem>.npy`` of :data:`LEADS28_FILES` found under ``root``.

    Args:
        root: the dataset folder (with ``leads28/``) or the ``leads28`` folder itself.
        class_names: classes to load, in label order; default: those found, in
            :data:`CLASS_NAMES` order.

    Returns:
        :class:`Leads28` ``(x, y, class_names, patient_id)``.

    Raises:
        ValueError: an ``.npy`` file with an unknown stem, a requested class without a file,
            or a malformed array (see :func:`read_leads28`).
        FileNotFoundError: no ``.npy`` files.
    """
    root = require_dir(root, "root")
    folder = root / "leads28" if (root / "leads28").is_dir() else root
    files = {p.stem: p for p in sorted(folder.glob("*.npy"))}
    if not files:
        expected = [stem + ".npy" for stem in LEADS28_FILES]
        raise FileNotFoundError(f"No leads28 .npy files in {str(folder)!r}; expected {expected}. "
                                f"Received: root={str(root)!r}")
    for stem in files:
        if stem not in LEADS28_FILES:
            raise ValueError(f"Unknown leads28 file {str(files[stem])!r}."
                             f"{did_you_mean(stem, LEADS28_FILES)} "
                             f"Expected stems {list(LEADS28_FILES)}")
    by_class = {LEADS28_FILES[s]: s for s in files}
    names = ([c for c in CLASS_NAMES if c in by_class] if class_names is None
             else _check_classes(class_names))
    xs, ys, pids = [], [], []
    for k, c in enumerate(names):
        if c not in by_class:
            raise ValueError(f"No leads28 file for class {c!r} in {str(folder)!r}. "
                             f"Received: class_names={names!r}")
        stem = by_class[c]
        x = read_leads28(files[stem])
        xs.append(x)
        ys.append(np.full(len(x), k, np.int64))
        pids += [f"{stem}-{i:04d}" for i in range(len(x))]
    return Leads28(np.concatenate(xs), np.concatenate(ys), names, np.asarray(pids, dtype=str))

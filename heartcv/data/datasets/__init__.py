"""Readers for the raw public datasets, one module per dataset.

Each image reader returns an *index*: a :class:`pandas.DataFrame` with one row per image and

- ``image_id`` (str, unique), ``path`` (absolute str; NaN only where a reader was asked to
  keep rows whose file is missing), ``patient_id`` (str);
- optional ``split`` ("train"/"val"/"test", from official lists; absent otherwise);
- optional ``mask_path`` or ``mask_path:<structure>`` columns (absolute str);
- one float32 column per class name (1 present, 0 absent, NaN unknown);
- any extra metadata columns (``age``, ``sex``, ``view``, ``orig_w``, ``orig_h``, ...);
- ``df.attrs``: ``class_names`` (list), ``task`` ("binary", "multiclass", "multilabel" or
  "segmentation"), ``source`` (dataset name + short citation) and, where the dataset has
  them, ``boxes``: the columns ``image_id, label, x, y, w, h`` (original pixel coordinates)
  as a dict of plain lists -- ``pd.DataFrame(df.attrs["boxes"])`` or :func:`boxes_frame`
  turns it into a DataFrame. (A DataFrame cannot be stored in ``attrs`` itself: pandas
  compares ``attrs`` with ``==`` when it concatenates, which then raises, and even printing
  a long column of the index concatenates.)

This follows the torchxrayvision dataset contract (a ``pathologies``-like class list, NaN
for unknown labels, patient-unique splits): every split is made by patient, and
:func:`heartcv.data.splits.assert_disjoint` is called whenever a reader sets ``split``.

Modules:
    cxr14: NIH ChestX-ray14 (Wang et al., CVPR 2017): 14-label and cardiomegaly views.
    chd: congenital heart disease chest X-rays with heart polygon traces.
    jsrt: JSRT radiographs with SCR heart/lung masks; cardiothoracic ratio.
    ecg_khan: ECG printouts of Khan et al. (Data in Brief 2021) and their 13-lead crops.
    mitbih: MIT-BIH Arrhythmia Database beats with AAMI classes (read with ``wfdb``).
    masks: any folder of images + masks (png/ + mask/<structure>/): an external set.
    synthetic: the generated chest phantom.

Each module also registers its ``heartcv prep`` conversion (reader + options) with
``heartcv.registry.register_dataset``; :func:`list_datasets` / :func:`get_dataset` import the
modules of this folder (and the ``prep`` modules of the papers that own a conversion) to read
that registry, so adding a dataset is adding one file here. Import the module you need
(``from heartcv.data.datasets import cxr14``); this package imports none of them eagerly.
Modules whose names start with ``_`` are helpers, not datasets.
"""

import importlib
import os
import pkgutil
from pathlib import Path

import numpy as np
import pandas as pd

from heartcv.data.splits import DEFAULT_FRACTIONS, assert_disjoint, patient_split
from heartcv.papers import import_prep_modules
from heartcv.registry import did_you_mean, registered_datasets  # did_you_mean: re-exported

__all__ = [
    "BOX_COLUMNS",
    "get_dataset",
    "list_datasets",
    "INDEX_COLUMNS",
    "SPLITS",
    "TASKS",
    "assign_split",
    "boxes_frame",
    "class_counts",
    "default_stratify",
    "did_you_mean",
    "finalize_index",
    "require_dir",
    "require_file",
    "validate_index",
]

INDEX_COLUMNS = ("image_id", "path", "patient_id")
SPLITS = ("train", "val", "test")
TASKS = ("binary", "multiclass", "multilabel", "segmentation")
BOX_COLUMNS = ("image_id", "label", "x", "y", "w", "h")


def require_dir(path, name="raw_dir"):
    """Return ``path`` as an absolute :class:`Path`, or raise naming the argument.

    Raises:
        FileNotFoundError: if ``path`` is not an existing directory.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        what = "is a file, not a directory" if path.exists() else "does not exist"
        raise FileNotFoundError(f"Expected `{name}` to be a dataset directory; it {what}. "
                                f"Received: {name}={str(path)!r}")
    return path.resolve()


def require_file(path, name):
    """Return ``path`` as an absolute :class:`Path`, or raise naming the argument."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Expected `{name}` to be an existing file. "
                                f"Received: {name}={str(path)!r}")
    return path.resolve()


def finalize_index(df, *, class_names, task, source, boxes=None, **attrs):
    """Cast an index to the contract's dtypes, set ``df.attrs`` and validate it.

    Args:
        df: the index under construction (it is copied, not modified).
        class_names: the class columns, in order.
        task: one of :data:`TASKS`.
        source: dataset name and short citation.
        boxes: optional DataFrame ``image_id, label, x, y, w, h``; stored in ``df.attrs`` as a
            dict of lists (see the module docstring).
        **attrs: extra ``df.attrs`` entries (counts of dropped rows and the like).

    Returns:
        The validated index with a fresh ``RangeIndex``.
    """
    df = df.reset_index(drop=True).copy()
    for col in ("image_id", "patient_id"):
        df[col] = df[col].astype(str)
    df["path"] = df["path"].astype(object)
    for name in class_names:
        df[name] = df[name].astype(np.float32)
    df.attrs = {"class_names": list(class_names), "task": task, "source": source}
    if boxes is not None:
        missing = [c for c in BOX_COLUMNS if c not in boxes]
        if missing:
            raise ValueError(f"`boxes` lacks the column(s) {missing}. "
                             f"Received: columns={list(boxes)}")
        df.attrs["boxes"] = {c: pd.Series(boxes[c]).tolist() for c in BOX_COLUMNS}
    df.attrs.update(attrs)
    validate_index(df)
    return df


def validate_index(df):
    """Check a DataFrame against the index contract (see the module docstring).

    Raises:
        TypeError: if ``df`` is not a DataFrame.
        ValueError: naming the first broken rule.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"Expected `index` to be a pandas DataFrame. Received: index={type(df)}")
    missing = [c for c in INDEX_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"Index lacks the column(s) {missing}; an index needs "
                         f"{list(INDEX_COLUMNS)}. Received: columns={list(df.columns)}")
    for key in ("class_names", "task", "source"):
        if key not in df.attrs:
            raise ValueError(f"Index lacks df.attrs[{key!r}]. "
                             f"Received: attrs keys={sorted(df.attrs)}")
    task = df.attrs["task"]
    if task not in TASKS:
        raise ValueError(f"Expected df.attrs['task'] in {TASKS}.{did_you_mean(task, TASKS)} "
                         f"Received: task={task!r}")
    dup = df["image_id"][df["image_id"].duplicated()]
    if len(dup):
        raise ValueError(f"Index has {len(dup)} duplicated image_id(s), e.g. {list(dup[:3])}")
    if df["patient_id"].isna().any():
        raise ValueError(f"Index has {int(df['patient_id'].isna().sum())} rows with no patient_id")
    paths = df["path"].dropna()
    relative = [p for p in paths.iloc[:1000] if not os.path.isabs(str(p))]
    if relative:
        raise ValueError(f"Index paths must be absolute. Received: path={relative[0]!r}")
    for name in df.attrs["class_names"]:
        if name not in df.columns:
            raise ValueError(f"Class {name!r} of df.attrs['class_names'] has no column. "
                             f"Received: columns={list(df.columns)}")
        col = df[name]
        if col.dtype != np.float32:
            raise ValueError(f"Class column {name!r} must be float32. Received: dtype={col.dtype}")
        bad = col[col.notna() & ~col.isin([0.0, 1.0])]
        if len(bad):
            raise ValueError(f"Class column {name!r} must hold 0, 1 or NaN. "
                             f"Received: value={float(bad.iloc[0])}")
    if "split" in df.columns:
        values = set(df["split"].dropna().unique())
        unknown = sorted(values - set(SPLITS))
        if unknown:
            raise ValueError(f"Expected split values in {SPLITS}. Received: split={unknown[0]!r}")
    return df


def boxes_frame(df):
    """``df.attrs["boxes"]`` as a DataFrame ``image_id, label, x, y, w, h`` (None if absent)."""
    boxes = df.attrs.get("boxes")
    if boxes is None:
        return None
    return pd.DataFrame({c: boxes[c] for c in BOX_COLUMNS}, columns=list(BOX_COLUMNS))


def class_counts(df, by="split"):
    """Positives per class (rows) and ``by`` value (columns), plus an ``images`` row.

    Without a ``by`` column everything counts under ``"all"``. NaN labels are not counted.
    """
    names = list(df.attrs.get("class_names", []))
    groups = df[by].fillna("(none)") if by in df.columns else pd.Series("all", index=df.index)
    table = df[names].fillna(0).groupby(groups).sum().T
    table.loc["images"] = groups.value_counts()
    order = [s for s in SPLITS if s in table.columns]
    table = table[order + [c for c in table.columns if c not in order]]
    table.columns.name = by
    return table.astype(int)


def default_stratify(df):
    """Per-image stratum for a patient split: the class for binary/multiclass, else None."""
    names = list(df.attrs.get("class_names", []))
    task = df.attrs.get("task")
    if task == "binary" and names:
        return df[names[0]].fillna(-1).to_numpy()
    if task == "multiclass" and names:
        values = df[names].to_numpy()
        known = ~np.isnan(values).all(axis=1)
        return np.where(known, np.argmax(np.nan_to_num(values, nan=-1.0), axis=1), -1)
    return None


def assign_split(index, *, seed, fractions=None, stratify="auto"):
    """Give an index a seeded patient-wise split unless it already has a complete one.

    Args:
        index: an index (see the module docstring).
        seed: int seed of :func:`heartcv.data.splits.patient_split`.
        fractions: ``{"train", "val", "test"}`` shares; default 72 / 8 / 20.
        stratify: ``"auto"`` (the class for binary and multiclass indexes, none otherwise),
            None, or a column name.

    Returns:
        A copy with a ``split`` column (kept as is when already complete); in both cases
        :func:`heartcv.data.splits.assert_disjoint` is run (``LeakageError`` on a leak).
    """
    df = index.copy()
    df.attrs = dict(index.attrs)
    if "split" not in df.columns or df["split"].isna().any():
        if stratify == "auto":
            strat = default_stratify(df)
        elif stratify is None:
            strat = None
        else:
            if stratify not in df.columns:
                raise ValueError(f"Unknown `stratify` column.{did_you_mean(stratify, df.columns)} "
                                 f"Received: stratify={stratify!r}")
            strat = df[stratify].to_numpy()
        split = patient_split(df["patient_id"].to_numpy(),
                              fractions=dict(fractions or DEFAULT_FRACTIONS), seed=seed,
                              stratify=strat)
        df["split"] = np.asarray(split).astype(str)
        cols = ["image_id", "path", "patient_id", "split"]
        df = df[cols + [c for c in df.columns if c not in cols]]
        df.attrs = dict(index.attrs, split_source=f"patient-wise, seed={seed}")
    assert_disjoint(df["patient_id"].to_numpy(), df["split"].to_numpy())
    return df


def _import_dataset_modules() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    import_prep_modules()  # papers that own a conversion


def list_datasets() -> list[str]:
    """Sorted names of the datasets ``heartcv prep`` converts (read from the registry)."""
    _import_dataset_modules()
    return sorted(registered_datasets())


def get_dataset(name: str):
    """The registered :class:`heartcv.registry.DatasetSpec` of ``name``.

    Raises:
        ValueError: unknown name, with close matches.
    """
    names = list_datasets()
    if name not in names:
        raise ValueError(f"Unknown dataset {name!r}.{did_you_mean(name, names)} "
                         f"Expected one of {names}. Received: dataset={name!r}")
    return registered_datasets()[name]

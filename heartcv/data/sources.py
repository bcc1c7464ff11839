"""From a ``DataConfig`` to patient-disjoint train/val/test splits and their ``tf.data`` feeds.

Two sources: the embedded synthetic phantom (``source: synthetic``) and HDF5 bundles written
by ``data_prep/`` (``source: path/to/bundle.h5``). Splits are made by patient before anything
is built, and every build asserts that no patient is in two splits.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from heartcv.classes import binary_class_names
from heartcv.data.bundle import read_bundle
from heartcv.data.splits import assert_disjoint, patient_split
from heartcv.data.synthetic import generate_chest_xrays
from heartcv.data.synthetic.ceiling import bayes_ceiling
from heartcv.registry import did_you_mean

SPLITS = ("train", "val", "test")
SYNTHETIC_KINDS = ("cardiomegaly", "chd", "findings", "view", "segmentation")


@dataclasses.dataclass
class SplitArrays:
    """One split in memory: uint8 images and float32 targets (masks for segmentation)."""

    images: np.ndarray
    targets: np.ndarray
    patient_id: np.ndarray
    image_id: np.ndarray
    heart_masks: np.ndarray | None = None  # for localization scores, when known
    ctr: np.ndarray | None = None  # cardiothoracic ratio measured on reference masks, if known
    # synthetic phantom only: the exact (PA-equivalent) CTR and the labels before label noise
    ctr_true: np.ndarray | None = None
    targets_true: np.ndarray | None = None

    def __len__(self):
        return len(self.images)

    def subset(self, idx) -> "SplitArrays":
        pick = (lambda a: None if a is None else a[idx])
        return SplitArrays(self.images[idx], self.targets[idx], self.patient_id[idx],
                           self.image_id[idx], pick(self.heart_masks), pick(self.ctr),
                           pick(self.ctr_true), pick(self.targets_true))


@dataclasses.dataclass
class DataSplits:
    """Patient-disjoint splits plus what the engine needs to know about the labels."""

    splits: dict[str, SplitArrays]
    class_names: list[str]
    task: str  # binary | multiclass | multilabel | segmentation
    source: str

    def __post_init__(self):
        ids = np.concatenate([s.patient_id for s in self.splits.values()])
        names = np.concatenate([np.full(len(s), k) for k, s in self.splits.items()])
        assert_disjoint(ids, names)

    @property
    def num_outputs(self) -> int:
        targets = self.splits["train"].targets
        if self.task == "segmentation":
            return 1 if targets.ndim == 3 else int(targets.shape[-1])
        return int(targets.shape[-1])

    def dataset(self, split, *, batch_size, image_size, channels=3, training=False,
                augment=None, seed=0, cache=True):
        """A batched ``tf.data.Dataset`` of (float32 images in [0, 255], targets)."""
        from heartcv.data.batches import make_dataset  # heavy: Keras (run.py --help loads this)

        s = self.splits[split]
        if self.task == "segmentation":
            return make_dataset(s.images, None, masks=s.targets, batch_size=batch_size,
                                image_size=image_size, channels=channels, training=training,
                                augment=augment, seed=seed, cache=cache)
        return make_dataset(s.images, s.targets, batch_size=batch_size, image_size=image_size,
                            channels=channels, training=training, augment=augment, seed=seed,
                            cache=cache)

    def ceiling(self, split="test", **kwargs):
        """The synthetic cardiomegaly task's Bayes ceiling on ``split``
        (:func:`heartcv.data.synthetic.bayes_ceiling` of the exact CTR against the observed
        labels, bootstrapped by patient); None for data without an exact CTR."""
        s = self.splits[split]
        if s.ctr_true is None or self.task != "binary":
            return None

        return bayes_ceiling(s.ctr_true, s.targets[:, -1], groups=s.patient_id, **kwargs)

    def combined(self) -> SplitArrays:
        """All splits concatenated (for k-fold cross-validation)."""
        parts = [self.splits[k] for k in SPLITS if k in self.splits]
        cat = (lambda name: None if getattr(parts[0], name) is None
               else np.concatenate([getattr(p, name) for p in parts]))
        return SplitArrays(cat("images"), cat("targets"), cat("patient_id"), cat("image_id"),
                           cat("heart_masks"), cat("ctr"), cat("ctr_true"), cat("targets_true"))


def stratify_labels(targets: np.ndarray, task: str):
    """Per-sample class ints for stratified patient splits (None where it makes no sense)."""
    if task == "binary":
        return (np.nan_to_num(targets[:, 0]) > 0.5).astype(int)
    if task == "multiclass":
        return np.argmax(targets, axis=-1)
    return None


def split_arrays(arrays: SplitArrays, *, val_fraction, test_fraction, seed, task) -> dict:
    """Seeded patient-wise train/val/test split of one ``SplitArrays``."""
    fractions = {"train": 1.0 - val_fraction - test_fraction, "val": val_fraction,
                 "test": test_fraction}
    fractions = {k: v for k, v in fractions.items() if v > 0}
    assign = patient_split(arrays.patient_id, fractions, seed=seed,
                           stratify=None if task == "segmentation"
                           else stratify_labels(arrays.targets, task))
    return {k: arrays.subset(np.flatnonzero(assign == k)) for k in SPLITS if k in fractions}


def synthetic_arrays(kind: str, *, n_patients, images_per_patient, image_size, seed, options=None):
    """Generate the phantom for ``kind``; returns (SplitArrays, class_names, task).

    ``options`` are further keyword arguments of ``generate_chest_xrays``
    (``ctr_distribution``, ``label_noise``, ``ap_prob``, ``prevalence``, ``noise``, ``view``,
    ...; ``docs/phantom.md``). For the cardiomegaly kind the split also carries the exact
    CTR (``ctr_true``) and the clean labels (``targets_true``) for the Bayes ceiling.
    """
    import inspect

    if kind not in SYNTHETIC_KINDS:
        raise ValueError(f"Expected `data.synthetic` in {SYNTHETIC_KINDS}. Received: {kind!r}")
    options = dict(options or {})
    allowed = set(inspect.signature(generate_chest_xrays).parameters) - {
        "n_patients", "images_per_patient", "size", "task", "seed"}
    for key in options:
        if key not in allowed:
            hint = did_you_mean(key, sorted(allowed))
            raise ValueError(f"Unknown `data.synthetic_options` key {key!r}.{hint} "
                             f"Expected some of {sorted(allowed)}.")
    gen_task = "cardiomegaly" if kind == "segmentation" else kind
    d = generate_chest_xrays(n_patients=n_patients, images_per_patient=images_per_patient,
                             size=image_size, task=gen_task, seed=seed, **options)
    truth, ctr_true = None, None
    if kind == "segmentation":
        targets, names, task = d["heart_masks"].astype(np.float32), ["heart"], "segmentation"
    else:
        targets, names = d["labels"].astype(np.float32), list(d["class_names"])
        task = d["task_type"]
        truth = d["labels_true"].astype(np.float32)
        if task == "binary" and targets.shape[-1] != 1:
            targets, truth = targets[:, -1:], truth[:, -1:]
        ctr_true = d["ctr_true"] if kind == "cardiomegaly" else None
    arrays = SplitArrays(d["images"], targets, np.asarray(d["patient_id"]),
                         np.asarray(d["image_id"]), d["heart_masks"], ctr_true=ctr_true,
                         targets_true=truth)
    return arrays, names, task


def select_structures(masks, mask_names, structures, *, where="bundle", allow_missing=False):
    """The mask channels named ``structures`` (in that order) as float32 (N, H, W[, K]).

    ``structures=None`` keeps the first structure alone as (N, H, W) — heartcv's behaviour
    before multi-structure training. Unknown names raise with the bundle's names, unless
    ``allow_missing``: then a structure the bundle lacks is a channel of
    :data:`heartcv.losses.MISSING_MASK` (unlabelled: the loss, the metrics and the reports
    leave it out). At least one structure must be in the bundle.
    """
    masks = np.asarray(masks)
    if masks.ndim == 3:
        masks = masks[..., None]
    names = list(mask_names) if mask_names else ([f"mask{i}" for i in range(masks.shape[-1])]
                                                 if masks.shape[-1] > 1 else ["heart"])
    if structures is None:
        return masks[..., 0].astype(np.float32), names[:1]
    structures = [str(s) for s in structures]
    if not structures or len(set(structures)) != len(structures):
        raise ValueError(f"Expected `data.mask_structures` as unique structure names. "
                         f"Received: {structures}")
    missing = [s for s in structures if s not in names]
    if missing and (not allow_missing or len(missing) == len(structures)):
        hint = ("" if allow_missing else
                " (data.allow_missing_structures=true trains it where labelled)")
        raise ValueError(f"{where}: no mask structure {missing[0]!r}"
                         f"{did_you_mean(missing[0], names)} It has {names}{hint}. "
                         f"Received: data.mask_structures={structures}")
    if not missing:
        idx = [names.index(s) for s in structures]
        return masks[..., idx].astype(np.float32), structures
    from heartcv.losses import MISSING_MASK  # heavy: Keras (run.py --help loads this)

    out = np.full(masks.shape[:3] + (len(structures),), MISSING_MASK, dtype=np.float32)
    for k, s in enumerate(structures):
        if s in names:
            out[..., k] = masks[..., names.index(s)]
    return out, structures


def bundle_arrays(path: Path, *, task_hint=None, mask_structures=None, allow_missing=False):
    """Read a whole bundle into memory; returns (dict split → SplitArrays, class_names, task).

    For segmentation bundles ``mask_structures`` picks the target channels by name
    (``["heart", "left_lung", "right_lung"]``; None: the first structure alone) and the class
    names are the structures trained on; ``allow_missing`` fills a structure the bundle lacks
    with :data:`heartcv.losses.MISSING_MASK` (:func:`select_structures`).
    """
    b = read_bundle(path)
    task = b.task
    structures = None
    if task == "segmentation":
        if b.masks is None:
            raise ValueError(f"{path}: segmentation bundle without `masks`")
        targets, structures = select_structures(b.masks, b.mask_names, mask_structures,
                                                where=str(path), allow_missing=allow_missing)
    else:
        targets = b.labels.astype(np.float32)
    heart = None
    if task != "segmentation" and b.masks is not None:
        heart = b.masks if b.masks.ndim == 3 else b.masks[..., 0]
    ctr = (b.meta_columns or {}).get("ctr")
    ctr = None if ctr is None else np.asarray(ctr, dtype=np.float64)
    ctr_true = (b.meta_columns or {}).get("ctr_true")  # phantom bundles: the exact CTR
    ctr_true = None if ctr_true is None else np.asarray(ctr_true, dtype=np.float64)
    full = SplitArrays(b.images, targets, np.asarray(b.patient_id).astype(str),
                       np.asarray(b.image_id).astype(str), heart, ctr, ctr_true)
    names = structures if task == "segmentation" else list(b.class_names)
    if task == "binary":  # one label column: name the negative class too
        names = binary_class_names(names, b.attrs.get("negative_class"))
    split = np.asarray(b.split).astype(str)
    out = {k: full.subset(np.flatnonzero(split == k)) for k in SPLITS if np.any(split == k)}
    return out, full, names, task


def load_data(cfg) -> DataSplits:
    """Build patient-disjoint splits for a ``DataConfig``.

    Synthetic data is generated at ``cfg.image_size``; a bundle keeps its own splits when it
    has them (official lists or data_prep's patient-wise split) and is otherwise split here
    by patient with ``val_fraction``/``test_fraction`` and ``seed``.
    """
    if cfg.source == "synthetic":
        arrays, names, task = synthetic_arrays(
            cfg.synthetic, n_patients=cfg.n_patients, images_per_patient=cfg.images_per_patient,
            image_size=cfg.image_size, seed=cfg.seed, options=cfg.synthetic_options)
        splits = split_arrays(arrays, val_fraction=cfg.val_fraction,
                              test_fraction=cfg.test_fraction, seed=cfg.seed, task=task)
        return DataSplits(splits, names, task, f"synthetic:{cfg.synthetic}")
    path = Path(cfg.source)
    if not path.is_file():
        raise FileNotFoundError(
            f"Data bundle not found: {path}. Expected `data.source` to be 'synthetic' or an "
            f"HDF5 bundle written by data_prep/. Received: data.source={cfg.source!r}"
        )
    splits, full, names, task = bundle_arrays(path, mask_structures=cfg.mask_structures,
                                              allow_missing=cfg.allow_missing_structures)
    if not {"train", "test"} <= set(splits):
        splits = split_arrays(full, val_fraction=cfg.val_fraction,
                              test_fraction=cfg.test_fraction, seed=cfg.seed, task=task)
    elif "val" not in splits and cfg.val_fraction > 0:
        tr = split_arrays(splits["train"], val_fraction=cfg.val_fraction, test_fraction=0.0,
                          seed=cfg.seed, task=task)
        splits = {"train": tr["train"], "val": tr["val"], "test": splits["test"]}
    return DataSplits(splits, names, task, str(path))

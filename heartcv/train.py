"""The training engine: compile and fit from a ``RunConfig``, evaluate, write the run directory.

A run directory (``output_dir/name``) holds ``config.yaml`` (the resolved config),
``history.csv``, ``model.h5`` (best validation checkpoint) and ``model.keras``,
``metrics.json`` and the report tables, ``tensorboard/`` (scalars, learning rate, images),
``figures/`` and, while a run is in progress, ``backup/`` (atomic, checksummed
``BackupAndRestore``: a killed run started again with the same command resumes, at evaluation
if it was stopped after its last epoch). A finished run is not trained again unless
``overwrite=True`` (``heartcv train --overwrite``). ``train.folds = k`` runs patient-wise
k-fold cross-validation in ``fold1/`` … ``foldk/`` and reports mean ± sd per metric; a rerun
keeps the folds that finished (``fold<i>/fold_results.json``), resumes the one that was
interrupted and runs the rest. While a run trains, ``.<name>.lock`` beside its folder holds
its PID and host: a second ``train`` of the same folder ends with one line naming it.

Distribution: ``train.strategy`` auto picks ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG``
names several workers, ``MirroredStrategy`` with several GPUs, else the default strategy.
``data.batch_size`` is the global batch. Non-chief workers write into ``workers/worker<i>``.
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import json
import math
import os
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

import keras
import numpy as np

from heartcv.callbacks import FIT_DONE, find_restore_point
from heartcv.config import ConfigError, RunConfig, save_config, validate
from heartcv.data.augment import augmenter_from_config
from heartcv.engine import (build_for_run, check_jit, fit_batches, fit_verbosity, get_strategy,
                            is_multiworker, local_copy, make_optimizer, precision_policy,
                            sample_images, shard_for_workers, synchronize_batchnorm,
                            tensorflow_installed, worker_run_dir)
from heartcv.engine import precision_policy as _precision_policy
from heartcv.files import atomic_path, atomic_write_json
from heartcv.registry import get_spec
from heartcv.runlock import RunFolderInUseError, RunLock


@dataclasses.dataclass
class RunResult:
    run_dir: Path
    metrics: dict
    model_path: Path | None
    paths: dict
    already_complete: bool = False  # a finished run found and left as it was


# ------------------------------------------------------------------------ model + compile


def make_loss(cfg: RunConfig, data):
    from heartcv.losses import BCEDiceLoss, DiceLoss, WeightedBinaryCrossentropy

    loss = cfg.train.loss
    if loss == "auto":
        loss = {"binary": "binary_crossentropy", "multiclass": "categorical_crossentropy",
                "multilabel": "weighted_bce", "segmentation": "bce_dice"}[data.task]
    if loss == "weighted_bce":
        from heartcv.data.batches import label_frequencies

        freq = label_frequencies(data.splits["train"].targets)
        return WeightedBinaryCrossentropy.from_frequencies(np.asarray(freq["positive"]).tolist())
    table = {"binary_crossentropy": keras.losses.BinaryCrossentropy(),
             "categorical_crossentropy": keras.losses.CategoricalCrossentropy(),
             "dice": DiceLoss(), "bce_dice": BCEDiceLoss()}
    if loss not in table:
        raise ConfigError(f"Expected `train.loss` in {['auto', 'weighted_bce', *table]}. "
                          f"Received: {loss!r}")
    return table[loss]


def make_metrics(data):
    from heartcv.metrics import DiceCoefficient, MaskIoU

    if data.task == "segmentation":
        return [DiceCoefficient(), MaskIoU()]
    if data.task == "binary":
        return [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]
    if data.task == "multiclass":
        return [keras.metrics.CategoricalAccuracy(name="accuracy")]
    if np.isnan(data.splits["train"].targets).any():
        return []  # unknown labels: Keras' AUC cannot skip them; evaluation handles NaN
    return [keras.metrics.AUC(name="auc", multi_label=True, num_labels=data.num_outputs)]


def class_weight_for(cfg: RunConfig, data):
    if cfg.train.class_weight is None:
        return None
    if cfg.train.class_weight != "balanced":
        raise ConfigError(f"Expected `train.class_weight` null or 'balanced'. "
                          f"Received: {cfg.train.class_weight!r}")
    if data.task not in ("binary", "multiclass"):
        raise ConfigError("train.class_weight is for single-label tasks (Keras argmaxes it); "
                          "multilabel training uses train.loss=weighted_bce.")
    from heartcv.data.batches import class_weights

    return class_weights(data.splits["train"].targets, data.task)


# ------------------------------------------------------------------------ callbacks


def read_history(history_csv: Path) -> list[dict]:
    """The rows of a run's ``history.csv`` (CSVLogger), checked: an int ``epoch`` and numbers.

    Raises:
        ValueError: a malformed line, naming the file and line number.
    """
    history_csv = Path(history_csv)
    if not history_csv.is_file():
        return []
    rows = []
    with open(history_csv, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return []
        if "epoch" not in header:
            raise ValueError(f"{history_csv}, line 1: expected a header with an `epoch` column. "
                             f"Received: {','.join(header)!r}")
        for fields in reader:
            line = reader.line_num
            if not fields:
                continue
            if len(fields) != len(header):
                raise ValueError(f"{history_csv}, line {line}: expected {len(header)} fields "
                                 f"({','.join(header)}). Received: {','.join(fields)!r}")
            row = dict(zip(header, fields))
            for key, value in row.items():
                try:
                    int(value) if key == "epoch" else (value == "" or float(value))
                except ValueError:
                    kind = "an int" if key == "epoch" else "a number"
                    raise ValueError(f"{history_csv}, line {line}: expected {kind} in column "
                                     f"`{key}`. Received: {key}={value!r}") from None
            rows.append(row)
    return rows


def _truncate_history(history_csv: Path, epochs: int) -> None:
    """Keep the first ``epochs`` epochs of the log (a resumed or restarted run appends)."""
    rows = read_history(history_csv)
    kept = [r for r in rows if int(r["epoch"]) < epochs]
    if len(kept) == len(rows):
        return
    if not kept:
        history_csv.unlink()
        return
    with atomic_path(history_csv) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)


def _best_so_far(history_csv: Path, monitor: str):
    values = [float(r[monitor]) for r in read_history(history_csv)
              if r.get(monitor) not in (None, "")]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return None
    return min(values) if "loss" in monitor else max(values)


def make_callbacks(cfg: RunConfig, run_dir: Path, monitor: str, sample_images=None,
                   task="binary", render=None, restore=None):
    """The run's callbacks; ``restore`` is the verified backup to resume from (or None)."""
    from heartcv.callbacks import (AtomicBackupAndRestore, BestModelCheckpoint, ImageSummary,
                                   render_predictions)

    t = cfg.train
    mode = "min" if "loss" in monitor else "max"
    cbs = [
        AtomicBackupAndRestore(run_dir / "backup", restore=restore),
        keras.callbacks.TerminateOnNaN(),
        BestModelCheckpoint(run_dir / "model.h5", monitor=monitor, mode=mode,
                            best=_best_so_far(run_dir / "history.csv", monitor)),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, factor=t.reduce_lr_factor,
                                          patience=t.reduce_lr_patience, min_lr=t.min_lr),
    ]
    if t.early_stopping_patience is not None:
        cbs.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode,
                                                 patience=t.early_stopping_patience))
    cbs.append(keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True))
    if not tensorflow_installed():  # Keras' TensorBoard writers are TensorFlow's
        return cbs
    cbs.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False,
                                           update_freq="epoch"))
    if t.tensorboard_images and sample_images is not None and len(sample_images):
        render_fn = render or (lambda m, x: render_predictions(m, x, task))
        cbs.append(ImageSummary(run_dir / "tensorboard", sample_images, render_fn))
    return cbs


# ------------------------------------------------------------------------ one fit


def fit_model(cfg: RunConfig, data, run_dir: Path, *, strategy=None, extra_callbacks=(),
              render=None):
    """Build, compile and fit on ``data.splits['train']`` (validating on ``'val'``) through
    :func:`heartcv.engine.fit_batches`.

    Returns the model with the best checkpoint's weights loaded, and the Keras History.
    """
    strategy = strategy or get_strategy("default")
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(cfg.train.seed)
    backup = run_dir / "backup"
    if (backup / FIT_DONE).is_file():  # stopped after its last epoch, before its metrics
        model = _trained_model(cfg, data, run_dir)
        if model is not None:
            return model, None
    restore, warning = find_restore_point(backup)
    if warning:
        print(warning, file=sys.stderr)
    _truncate_history(run_dir / "history.csv", int(restore["epoch"]) if restore else 0)
    has_val = "val" in data.splits and len(data.splits["val"]) > 0
    monitor = cfg.train.monitor if has_val else cfg.train.monitor.replace("val_", "")
    multiworker = is_multiworker(strategy)
    train_ds, val_ds, steps, val_steps = _fit_batches_for(cfg, data, has_val, multiworker)
    with precision_policy(cfg.train.mixed_precision), strategy.scope():
        model = build_for_run(cfg, data)
        if strategy.num_replicas_in_sync > 1:
            synchronize_batchnorm(model)
        compiled = dict(optimizer=make_optimizer(cfg), loss=make_loss(cfg, data),
                        metrics=make_metrics(data), jit_compile=check_jit(cfg.train.jit_compile))
    d = cfg.data
    samples = sample_images(data.splits["val" if has_val else "train"].images, d.image_size,
                            d.channels)
    callbacks = make_callbacks(cfg, run_dir, monitor, samples, data.task,
                               render, restore=restore) + list(extra_callbacks)
    history = fit_batches(model, train_ds, validation=val_ds, epochs=cfg.train.epochs,
                          steps_per_epoch=steps, validation_steps=val_steps,
                          class_weight=class_weight_for(cfg, data), callbacks=callbacks,
                          verbose=fit_verbosity(cfg.train.verbose), strategy=strategy,
                          multiworker=multiworker, **compiled)
    best = run_dir / "model.h5"
    if best.is_file():
        model.load_weights(best)
    if multiworker:
        model = local_copy(model)
    return model, history


def _fit_batches_for(cfg: RunConfig, data, has_val, multiworker):
    """The training and validation batches of a config run (sharded for several workers):
    ``(train, validation, steps_per_epoch, validation_steps)``."""
    d = cfg.data
    augment = augmenter_from_config(d.augment, seed=cfg.train.seed)
    train_ds = data.dataset("train", batch_size=d.batch_size, image_size=d.image_size,
                            channels=d.channels, training=True, augment=augment,
                            seed=cfg.train.seed, cache=d.cache)
    val_ds = (data.dataset("val", batch_size=d.batch_size, image_size=d.image_size,
                           channels=d.channels, cache=d.cache) if has_val else None)
    if not multiworker:
        return train_ds, val_ds, cfg.train.steps_per_epoch, None
    return shard_for_workers(train_ds, val_ds, len(data.splits["train"]),
                             len(data.splits["val"]) if has_val else 0, d.batch_size,
                             cfg.train.steps_per_epoch)


def _trained_model(cfg: RunConfig, data, run_dir: Path):
    """The model of a run whose fit ended (``backup/fit_done.json``): its best checkpoint, else
    the last verified backup; None (train again) when neither is usable."""
    from heartcv.callbacks import find_restore_point

    best = run_dir / "model.h5"
    weights = best if best.is_file() else None
    if weights is None:
        restore, warning = find_restore_point(run_dir / "backup")
        if warning:
            print(warning, file=sys.stderr)
        if restore is None:
            return None
        weights = run_dir / "backup" / restore["weights"]
    print(f"heartcv train: {run_dir} finished training before it stopped; evaluating "
          f"{weights.name} instead of training again", file=sys.stderr)
    with _precision_policy(cfg.train.mixed_precision):
        model = build_for_run(cfg, data)
    model.load_weights(weights)
    return model


# ------------------------------------------------------------------------ evaluation


def predict_split(model, data, split, cfg: RunConfig) -> np.ndarray:
    """Predictions on one split, at ``eval.image_size`` when set (else the training size)."""
    d = cfg.data
    size = cfg.eval.image_size or d.image_size
    ds = data.dataset(split, batch_size=d.batch_size, image_size=size, channels=d.channels,
                      cache=False)
    if hasattr(ds, "map"):  # tf.data; a PyDataset (other backends) gives predict (x, y) as is
        ds = ds.map(lambda x, y: x)
    return np.asarray(model.predict(ds, verbose=0), dtype=np.float32)


def segmentation_scores(masks_true: np.ndarray, probs: np.ndarray, threshold=0.5, *,
                        structures=None, ref_ctr=None) -> dict:
    """Per-image, per-structure Dice and IoU of thresholded masks, and the CTR where heart and
    both lungs are segmented (:func:`heartcv.evaluation.segmentation.segmentation_report`)."""
    from heartcv.evaluation.segmentation import segmentation_report

    k = 1 if np.ndim(probs) == 3 else np.shape(probs)[-1]
    if not structures or len(structures) != k:
        structures = ["heart"] if k == 1 else [f"mask{i}" for i in range(k)]
    return segmentation_report(masks_true, probs, structures, ref_ctr=ref_ctr,
                               threshold=threshold)


def evaluate_run(model, data, cfg: RunConfig, out_dir: Path) -> dict:
    """Evaluate on the test split (threshold chosen on validation), write report + figures."""
    from heartcv import evaluate, report

    e = cfg.eval
    test = data.splits["test"]
    probs = predict_split(model, data, "test", cfg)
    if data.task == "segmentation":
        results = segmentation_scores(test.targets, probs, structures=data.class_names,
                                      ref_ctr=test.ctr)
        results["class_names"] = data.class_names
    else:
        threshold, source = None, None
        if data.task in ("binary", "multilabel"):
            if e.threshold == "fixed" or "val" not in data.splits:
                threshold, source = e.fixed_threshold, "fixed"
            else:
                val_probs = predict_split(model, data, "val", cfg)
                y_val = data.splits["val"].targets
                threshold = evaluate.choose_threshold(
                    y_val[:, 0] if data.task == "binary" else y_val,
                    val_probs[:, 0] if data.task == "binary" else val_probs, method=e.threshold)
                if data.task == "multilabel":
                    threshold = [0.5 if not np.isfinite(t) else t for t in threshold]
                elif not np.isfinite(threshold):
                    threshold, source = 0.5, "fixed (validation held one class)"
                source = source or f"validation:{e.threshold}"
        names = data.class_names
        if data.task == "binary" and len(names) == 1:
            names = [f"not {names[0]}", names[0]]
        y_true = test.targets[:, 0] if data.task == "binary" else test.targets
        results = evaluate.classification_report(
            y_true, probs, task=data.task, class_names=names, threshold=threshold,
            threshold_source=source, prevalence=e.prevalence if data.task == "binary" else None,
            n_boot=e.bootstrap, ci=e.ci, seed=cfg.train.seed, curves=True)
        results["scores_file"] = "test_predictions.npz"
        with atomic_path(out_dir / "test_predictions.npz") as tmp:
            np.savez_compressed(tmp, y_true=test.targets, y_score=probs,
                                image_id=test.image_id, patient_id=test.patient_id)
    results["model"] = cfg.model.name
    results["data_source"] = data.source
    results["split_sizes"] = {k: len(v) for k, v in data.splits.items()}
    results["patients"] = {k: int(len(np.unique(v.patient_id))) for k, v in data.splits.items()}
    report.write_report(results, out_dir, table=cfg.table or f"{cfg.model.name} on {data.source}")
    return results


def _run_title(run_dir: Path) -> str:
    """``"<model> (<run name>)"`` from a run directory's ``config.yaml``; "" without one."""
    import yaml

    try:
        tree = yaml.safe_load((Path(run_dir) / "config.yaml").read_text()) or {}
        model, name = tree["model"]["name"], tree.get("name")
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError):
        return ""
    return f"{model} ({name})" if name else str(model)


def plot_history(history_csv: Path, path: Path, title: str | None = None) -> Path | None:
    """Loss curves per epoch from the CSV log, titled with the model: ``title``, else the
    model and run name of the ``config.yaml`` beside the log."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rows = read_history(history_csv)
    if not rows:
        return None
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    epochs = [int(r["epoch"]) + 1 for r in rows]
    for key in ("loss", "val_loss"):
        if key in rows[0]:
            ax.plot(epochs, [float(r[key] or "nan") for r in rows], label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    title = _run_title(Path(history_csv).parent) if title is None else str(title)
    ax.set_title(textwrap.fill(title, 70), fontsize=10)  # 70 characters fit the 6-inch width
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    return path


def portable_path(value, base=None):
    """A path as a model card keeps it: an absolute path below ``base`` (the folder training
    ran in, the current one by default) relative to it, any other absolute path as its file
    name alone (no training machine's folders in a shipped card); relative paths and other
    values unchanged."""
    if not isinstance(value, str) or not os.path.isabs(value):
        return value
    base = Path.cwd() if base is None else Path(base)
    try:
        return Path(value).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return Path(value).name


def _portable_tree(node, base=None):
    if isinstance(node, dict):
        return {k: _portable_tree(v, base) for k, v in node.items()}
    if isinstance(node, list):
        return [_portable_tree(v, base) for v in node]
    return portable_path(node, base)


def write_card(path: Path, cfg: RunConfig, data, results: dict) -> Path:
    """The model's result card: what it is, what it was trained on, what it scored.

    Paths in it (``data_source``, the config's ``output_dir``, ``data.source``, a weights file
    in ``model.params``) are :func:`portable_path`: relative to the folder training ran in,
    else file names, so ``heartcv train`` with the card's config rebuilds the model on another
    machine once the bundle is there.
    """
    from heartcv import __version__
    from heartcv.config import config_to_dict

    card = {"model": cfg.model.name, "task": data.task, "class_names": data.class_names,
            "input_size": cfg.data.image_size, "channels": cfg.data.channels,
            "input_range": "[0, 255]", "data_source": portable_path(data.source),
            "split_sizes": {k: len(v) for k, v in data.splits.items()},
            "test_metrics": _headline_numbers(results), "heartcv_version": __version__,
            "config": _portable_tree(config_to_dict(cfg))}
    return atomic_write_json(path, card)


def _headline_numbers(results: dict) -> dict:
    if results.get("task") == "segmentation":
        return {"dice": results["dice"]["mean"], "iou": results["iou"]["mean"]}
    out = {"accuracy": results.get("accuracy")}
    auc = results.get("auroc") or {}
    if isinstance(auc, dict) and "value" in auc:
        out["auroc"], out["auroc_ci"] = auc["value"], auc.get("ci")
    return out


# ------------------------------------------------------------------------ entry points


def _paths(run_dir: Path) -> dict:
    return {"run_dir": run_dir, "table_md": run_dir / "report.md",
            "metrics_json": run_dir / "metrics.json", "model_h5": run_dir / "model.h5",
            "model_keras": run_dir / "model.keras", "figures": run_dir / "figures",
            "tensorboard": run_dir / "tensorboard", "history_csv": run_dir / "history.csv",
            "config": run_dir / "config.yaml", "card": run_dir / "model.card.json"}


def _cv_paths(run_dir: Path, k: int) -> dict:
    """A k-fold run's files: the summary at the top (no model there), one ``model.h5`` and
    TensorBoard log per ``fold<i>``; ``tensorboard --logdir <run_dir>`` shows every fold."""
    folds = [run_dir / f"fold{i}" for i in range(1, k + 1)]
    return {"run_dir": run_dir, "table_md": run_dir / "report.md",
            "metrics_json": run_dir / "metrics.json", "figures": run_dir / "figures",
            "config": run_dir / "config.yaml", "tensorboard": run_dir, "folds": folds,
            "fold_models": [f / "model.h5" for f in folds]}


def completed_run(run_dir: Path, cfg: RunConfig) -> Path | None:
    """``metrics.json`` of a finished run in ``run_dir`` (its model and metrics written, no
    ``backup/`` left), else None."""
    metrics = run_dir / "metrics.json"
    if not metrics.is_file() or (run_dir / "backup").exists():
        return None
    if cfg.train.folds > 1:
        return None if any(run_dir.glob("fold*/backup")) else metrics
    return metrics if (run_dir / "model.h5").is_file() else None


def check_data(cfg: RunConfig, data) -> None:
    """Refuse a model of the wrong task, NaN (unknown) labels in single-label data, and heart
    rescaling augmentation where the heart mask channel is unlabelled (partial labels)."""
    spec = get_spec(cfg.model.name)
    if (spec.task == "segmentation") != (data.task == "segmentation"):
        want = "segmentation" if data.task == "segmentation" else "classification"
        raise ConfigError(
            f"Expected a {want} model for the {data.task} data {data.source}. Received: "
            f"model.name={cfg.model.name!r}, a {spec.task} model "
            f"(see `heartcv list-models --task {data.task}`)")
    a = cfg.data.augment
    if data.task == "segmentation" and a.enabled and a.heart_scale_range is not None:
        t = data.splits["train"].targets  # RandomCardiacEnlargement finds the heart in channel 0
        n = int((t.reshape(len(t), -1, 1 if t.ndim == 3 else t.shape[-1])[..., 0].max(axis=1)
                 > 1).sum()) if len(t) else 0
        if n:
            raise ConfigError(
                f"{data.source}: data.augment.heart_scale_range rescales the heart of mask "
                f"channel 0 ({data.class_names[0]!r}), which {n} training image(s) have no "
                f"mask for. Received: data.augment.heart_scale_range={list(a.heart_scale_range)}")
    if data.task in ("binary", "multiclass"):
        counts = {k: int(np.isnan(s.targets).any(axis=-1).sum()) for k, s in data.splits.items()}
        if sum(counts.values()):
            where = ", ".join(f"{n} in {k}" for k, n in counts.items() if n)
            raise ValueError(
                f"{data.source}: {sum(counts.values())} image(s) with NaN (unknown) labels in "
                f"{data.task} data ({where}); only multilabel training masks unknown labels. "
                f"Drop or label those images.")


def _missing_top(run_dir: Path) -> Path | None:
    """The top folder of ``run_dir`` that does not exist yet (what creating it would add)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(errno.EEXIST, "exists and is not a folder", str(run_dir))
    created = None
    for folder in (run_dir, *run_dir.parents):
        if folder.exists():
            break
        created = folder
    return created


def _prepare_run_dir(run_dir: Path) -> None:
    """Create ``run_dir`` and check that it takes files (read-only folders fail here)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=run_dir):
        pass


def _has_progress(run_dir: Path) -> bool:
    return ((run_dir / "backup").exists() or (run_dir / "model.h5").exists()
            or any(run_dir.glob("fold*/backup")) or any(run_dir.glob(f"fold*/{FOLD_RESULTS}"))
            or bool(read_history(run_dir / "history.csv")))


def _clear_run(run_dir: Path) -> None:
    """Remove a run's outputs for ``--overwrite``: renamed aside first, then deleted."""
    aside = run_dir.with_name(f".{run_dir.name}.overwritten-{os.getpid()}")
    os.replace(run_dir, aside)
    run_dir.mkdir()
    shutil.rmtree(aside, ignore_errors=True)


def _remove_stale_temps(run_dir: Path) -> None:
    """Temporary files a killed run left behind (``.name.XXXXXXXX.tmp.ext``)."""
    from heartcv.files import sweep_folder

    for folder in (run_dir, run_dir / "backup", run_dir / "figures"):
        sweep_folder(folder)


def train(cfg: RunConfig, *, data=None, strategy=None, extra_callbacks=(), render=None,
          overwrite=False) -> RunResult:
    """Train (or cross-validate, when ``train.folds > 1``) and evaluate one configured run.

    Every config value is checked (:func:`heartcv.config.validate`), then the run directory,
    then the data, before anything is written. A finished run is returned as it is
    (``already_complete=True``) unless ``overwrite``, which clears its outputs and trains again.
    A failure before the first epoch removes the folders this call created. One process at
    a time trains a run folder (:class:`heartcv.runlock.RunLock`): a second one raises
    :class:`heartcv.runlock.RunFolderInUseError` naming the first, before it reads any data.
    """
    validate(cfg)
    run_dir = worker_run_dir(cfg.run_dir)
    done = None if overwrite else completed_run(run_dir, cfg)
    if done is not None:
        model = run_dir / "model.h5"
        return RunResult(run_dir, json.loads(done.read_text()),
                         model if model.is_file() else None,
                         _cv_paths(run_dir, cfg.train.folds) if cfg.train.folds > 1
                         else _paths(run_dir), already_complete=True)
    strategy = strategy or get_strategy(cfg.train.strategy)
    keras.utils.set_random_seed(cfg.train.seed)
    get_spec(cfg.model.name)  # fail on a bad model name before any data work
    created = _missing_top(run_dir)
    lock = RunLock(run_dir)  # one process per run folder
    try:
        return _train_locked(cfg, run_dir, lock, created, data=data, strategy=strategy,
                             extra_callbacks=extra_callbacks, render=render,
                             overwrite=overwrite)
    finally:
        lock.release()


def _train_locked(cfg: RunConfig, run_dir: Path, lock, created, *, data, strategy,
                  extra_callbacks, render, overwrite) -> RunResult:
    """:func:`train` once the run folder is checked and ``lock`` taken (in here)."""
    from heartcv.data.sources import load_data
    from heartcv.io import save_model

    try:
        _prepare_run_dir(run_dir)
        lock.acquire()  # another process on this folder: one line naming it, nothing touched
        data = data if data is not None else load_data(cfg.data)
        check_data(cfg, data)
        if overwrite and created is None:
            _clear_run(run_dir)
        _remove_stale_temps(run_dir)
        read_history(run_dir / "history.csv")  # a malformed log fails before training
        save_config(cfg, run_dir / "config.yaml")
        if cfg.train.folds and cfg.train.folds > 1:
            return cross_validate(cfg, data, run_dir, strategy=strategy, render=render)
        model, _ = fit_model(cfg, data, run_dir, strategy=strategy,
                             extra_callbacks=extra_callbacks, render=render)
    except RunFolderInUseError:
        raise  # the folder is the other process's: leave it as it is
    except BaseException:
        if created is not None and not _has_progress(run_dir):
            shutil.rmtree(created, ignore_errors=True)
        raise
    paths = _paths(run_dir)
    save_model(model, paths["model_h5"])
    save_model(model, paths["model_keras"])
    results = evaluate_run(model, data, cfg, run_dir)
    plot_history(paths["history_csv"], paths["figures"] / "history.png")
    write_card(paths["card"], cfg, data, results)
    shutil.rmtree(run_dir / "backup", ignore_errors=True)  # kept until now: resume at evaluation
    return RunResult(run_dir, results, paths["model_h5"], paths)


#: a finished fold's results (with the hook's numbers), written when the fold is done
FOLD_RESULTS = "fold_results.json"


def _fold_key(cfg: RunConfig, test_ids) -> str:
    """What a fold is: its model and the sha256 of its test images' ids."""
    import hashlib

    ids = hashlib.sha256("\n".join(map(str, test_ids)).encode()).hexdigest()
    return f"{cfg.model.name}:{ids}"


def _json_round_trip(results: dict) -> dict:
    from heartcv.evaluation._common import to_jsonable

    return json.loads(json.dumps(to_jsonable(results)))


def _finished_fold(fold_dir: Path, key: str) -> dict | None:
    """The results of a fold that finished in an earlier run, else None (train it).

    Raises:
        ConfigError: the finished fold was another model or another split of the data.
    """
    path = fold_dir / FOLD_RESULTS
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        results = record["results"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        print(f"heartcv train: warning: {path} is unreadable; training the fold again",
              file=sys.stderr)
        return None
    if record.get("fold_key") != key:
        raise ConfigError(f"{path}: this fold was finished with another model or another split "
                          f"of the data; pass --overwrite to train the run again, or use "
                          f"another name")
    shutil.rmtree(fold_dir / "backup", ignore_errors=True)  # killed after the fold was written
    return results


def cross_validate(cfg: RunConfig, data, run_dir: Path, *, strategy=None, render=None,
                   fold_hook=None) -> RunResult:
    """Patient-wise k-fold: each fold's held-out patients are its test set; mean ± sd.

    ``fold_hook(fold, model, fold_data, fold_dir) -> dict``, when given, runs after each
    fold's evaluation; its numbers join that fold's results (aggregated like the metrics),
    e.g. the share of saliency on the heart of the CHD reproduction.

    A rerun resumes per fold: a fold with ``fold<i>/fold_results.json`` (written when it
    finished, hook included) is kept untouched and its results read back, the interrupted
    fold resumes from its ``backup/``, the later folds run.
    """
    from heartcv import report
    from heartcv.data.sources import DataSplits, split_arrays, stratify_labels
    from heartcv.data.splits import patient_kfold

    k = cfg.train.folds
    full = data.combined()
    folds = patient_kfold(full.patient_id, k, seed=cfg.train.seed,
                          stratify=stratify_labels(full.targets, data.task)
                          if data.task != "segmentation" else None)
    fold_results = []
    for i, (train_idx, test_idx) in enumerate(folds, start=1):
        fold_dir = run_dir / f"fold{i}"
        key = _fold_key(cfg, full.image_id[test_idx])
        results = _finished_fold(fold_dir, key)
        if results is not None:  # kept as it is: its model, metrics and files untouched
            print(f"--- fold {i}/{k}: finished before, kept ({fold_dir / FOLD_RESULTS})")
            fold_results.append(results)
            continue
        print(f"--- fold {i}/{k}: {len(train_idx)} train+val images, {len(test_idx)} test images")
        inner = split_arrays(full.subset(train_idx), val_fraction=cfg.data.val_fraction,
                             test_fraction=0.0, seed=cfg.train.seed + i, task=data.task)
        fold_data = DataSplits({**inner, "test": full.subset(test_idx)}, data.class_names,
                               data.task, f"{data.source} (fold {i}/{k})")
        model, _ = fit_model(cfg, fold_data, fold_dir, strategy=strategy, render=render)
        results = evaluate_run(model, fold_data, cfg, fold_dir)
        if fold_hook is not None:
            results.update(fold_hook(i, model, fold_data, fold_dir))
        results = _json_round_trip(results)  # a kept fold is read back: the same types
        atomic_write_json(fold_dir / FOLD_RESULTS, {"fold_key": key, "results": results})
        shutil.rmtree(fold_dir / "backup", ignore_errors=True)
        fold_results.append(results)
        keras.backend.clear_session()
    summary = report.aggregate_folds(fold_results)
    summary.update({"task": data.task, "folds": k, "model": cfg.model.name,
                    "data_source": data.source})
    report.write_report(summary, run_dir, table=cfg.table or f"{cfg.model.name}: {k}-fold CV")
    return RunResult(run_dir, summary, None, _cv_paths(run_dir, k))


def evaluate_saved_model(model_path, bundle, *, split="test", out_dir=None, threshold=0.5,
                         prevalence=None, image_size=None, shifts=False, class_map=None) -> Path:
    """Evaluate a saved model on one split of a bundle (e.g. another hospital's images made
    with ``heartcv prep masks``); writes metrics.json/.csv/.md to ``out_dir``.

    Images are resized to the model card's ``input_size`` unless ``image_size`` says
    otherwise. Segmentation models are scored per structure (the card's structures, looked
    up by name in the bundle's ``mask_names``: the structures both have are scored, the
    others listed in ``unscored_structures``) and, with heart and both lungs, on the CTR
    against the bundle's ``meta/ctr`` or its masks (``"ctr": {"measured": false, "reason"}``
    when the bundle lacks one of them). ``shifts=True`` re-runs the evaluation under the
    fixed, seeded acquisition shifts of :mod:`heartcv.evaluation.shifts` (``metrics.json`` →
    ``shifts``). A classifier whose card names its classes is refused a bundle with other
    class names unless ``class_map`` (``{bundle class: model class}``) maps them
    (:func:`heartcv.classes.check_class_names`).

    Raises:
        ValueError: the bundle has a mask for none of the model's structures (one line with
            both lists), or no split ``split``.
    """
    from heartcv import evaluate, report
    from heartcv.data.batches import make_dataset
    from heartcv.data.sources import bundle_arrays
    from heartcv.io import load_model
    from heartcv.predict import FULL, read_card, resolve_input_size

    card = read_card(model_path)
    model = load_model(model_path)
    channels = model.input_shape[-1] or 3
    structures = _structures_to_score(card, model.output_shape[-1], bundle, model_path)
    splits, full, names, task = bundle_arrays(Path(bundle), mask_structures=structures,
                                              allow_missing=True)
    if split not in splits:
        raise ValueError(f"{bundle}: no split {split!r}; it has {sorted(splits)}. Received: split={split!r}")
    s = splits[split]
    hw, size_source = resolve_input_size(model.input_shape, card, s.images.shape[1:3],
                                         image_size, model_name=Path(model_path).name)
    size = None if image_size == FULL else hw

    def predict(images):
        if size is None:  # full size: one image at a time (sizes may differ)
            return np.concatenate([np.asarray(model.predict(
                make_dataset(im[None], None, batch_size=1, image_size=im.shape[:2],
                             channels=channels), verbose=0), np.float32) for im in images])
        # every batch exactly 16 images (the last padded by repeating the final image), so the
        # one predict function is traced once per input size, not again for a partial batch
        n = len(images)
        pad = -n % 16
        if pad:
            images = np.concatenate([images, np.repeat(images[-1:], pad, axis=0)])
        ds = make_dataset(images, None, batch_size=16, image_size=size, channels=channels)
        return np.asarray(model.predict(ds, verbose=0), np.float32)[:n]

    probs = predict(s.images)
    out_dir = Path(out_dir) if out_dir else Path(model_path).parent / f"eval_{split}"
    out_dir.mkdir(parents=True, exist_ok=True)
    if task == "segmentation":
        results = segmentation_scores(s.targets, probs, structures=names, ref_ctr=s.ctr,
                                      threshold=threshold)
        if shifts:
            from heartcv.evaluation.segmentation import shift_report, shift_table

            results["shifts"] = shift_report(s.images, predict, s.targets, names,
                                             ref_ctr=s.ctr, threshold=threshold)
            results["shift_table"] = shift_table(results["shifts"])
    else:
        if shifts:
            raise ValueError("--shifts is implemented for segmentation models")
        from heartcv.classes import align_targets, check_class_names

        targets = s.targets
        if card.get("class_names"):
            cols = check_class_names(card["class_names"], names, class_map,
                                     model=str(model_path), data=str(bundle))
            if task != "binary":  # the model's columns, by name
                targets = align_targets(targets, cols, probs.shape[-1])
                names = [str(n) for n in card["class_names"]]
        if task == "binary" and len(names) == 1:
            names = [f"not {names[0]}", names[0]]
        results = evaluate.classification_report(
            targets[:, 0] if task == "binary" else targets, probs, task=task,
            class_names=names, threshold=None if task == "multiclass" else threshold,
            threshold_source="caller", prevalence=prevalence, curves=True)
    results["model"] = str(model_path)
    results["data_source"] = str(bundle)
    results["image_size"] = "full" if size is None else (size[0] if size[0] == size[1] else list(size))
    results["image_size_source"] = size_source
    report.write_report(results, out_dir, table=f"{Path(model_path).name} on {split}")
    return out_dir


def _structures_to_score(card: dict, out_channels: int, bundle, model_path):
    """The model's output channel names (its card's ``class_names``) to look up in the bundle.

    None (the bundle's first structure, as before names were matched) without a segmentation
    card naming every output channel, and for a one-channel model on a bundle whose masks
    carry no names.

    Raises:
        ValueError: the bundle names its masks and none is a structure of the model.
    """
    from heartcv.data.h5 import open_bundle

    names = [str(n) for n in card.get("class_names") or []]
    if card.get("task") != "segmentation" or len(names) != out_channels:
        return None
    with open_bundle(bundle) as b:
        if b.task != "segmentation":
            return None
        have = list(b.mask_names or [])
    if not have:
        return None if out_channels == 1 else names
    if not set(names) & set(have):
        raise ValueError(f"{bundle}: no mask for any structure of the model "
                         f"{Path(model_path).name}: the model segments {names}, the bundle "
                         f"has masks {have}")
    return names

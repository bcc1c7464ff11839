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

import json
import shutil
import sys
from pathlib import Path

import keras
import numpy as np

from heartcv import report
from heartcv.callbacks import (FIT_DONE, AtomicBackupAndRestore, BestModelCheckpoint, ImageSummary,
                               find_restore_point, render_predictions)
from heartcv.cards import write_card
from heartcv.config import ConfigError, RunConfig, save_config, validate
from heartcv.data.augment import augmenter_from_config
from heartcv.data.sources import DataSplits, load_data, split_arrays
from heartcv.data.splits import patient_kfold
from heartcv.engine import (build_for_run, check_jit, fit_batches, fit_verbosity, get_strategy,
                            is_multiworker, local_copy, make_optimizer, precision_policy,
                            sample_images, shard_for_workers, synchronize_batchnorm,
                            tensorflow_installed, worker_identity, worker_run_dir)
from heartcv.files import atomic_write_json
from heartcv.history import best_so_far, plot_history, read_history, truncate_history
from heartcv.io import save_model
from heartcv.registry import get_spec
from heartcv.rundir import (FOLD_RESULTS, RunResult, clear_run, completed_run, cv_paths,
                            finished_fold, fold_key, has_progress, json_round_trip, missing_top,
                            prepare_run_dir, remove_stale_temps, run_paths)
from heartcv.runlock import RunFolderInUseError, RunLock
from heartcv.scoring import evaluate_run, evaluate_saved_model, predict_split
from heartcv.tasks import get_task

__all__ = ["RunResult", "build_for_run", "check_data", "class_weight_for", "cross_validate",
           "evaluate_run", "evaluate_saved_model", "fit_model", "fit_verbosity", "get_strategy",
           "make_callbacks", "make_loss", "make_metrics", "make_optimizer", "plot_history",
           "predict_split", "read_history", "train", "worker_identity", "worker_run_dir",
           "write_card"]


# ------------------------------------------------------------------------ model + compile


def make_loss(cfg: RunConfig, data):
    """The loss ``train.loss`` names (``auto``: the task's own; :mod:`heartcv.tasks`)."""
    return get_task(data.task).loss(cfg.train.loss, data.splits["train"].targets)


def make_metrics(data):
    """The task's compiled metrics (the ``history.csv`` columns; :mod:`heartcv.tasks`)."""
    return get_task(data.task).metrics(data.splits["train"].targets, data.num_outputs)


def class_weight_for(cfg: RunConfig, data):
    """``train.class_weight: balanced`` (checked by :func:`heartcv.config.validate`) from the
    training split; single-label tasks only."""
    if cfg.train.class_weight is None:
        return None
    return get_task(data.task).class_weight(data.splits["train"].targets)


# ------------------------------------------------------------------------ callbacks


def make_callbacks(cfg: RunConfig, run_dir: Path, monitor: str, sample_images=None,
                   task="binary", render=None, restore=None):
    """The run's callbacks; ``restore`` is the verified backup to resume from (or None)."""
    t = cfg.train
    mode = "min" if "loss" in monitor else "max"
    cbs = [
        AtomicBackupAndRestore(run_dir / "backup", restore=restore),
        keras.callbacks.TerminateOnNaN(),
        BestModelCheckpoint(run_dir / "model.h5", monitor=monitor, mode=mode,
                            best=best_so_far(run_dir / "history.csv", monitor)),
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
    truncate_history(run_dir / "history.csv", int(restore["epoch"]) if restore else 0)
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
    with precision_policy(cfg.train.mixed_precision):
        model = build_for_run(cfg, data)
    model.load_weights(weights)
    return model


# ------------------------------------------------------------------------ entry points


def check_data(cfg: RunConfig, data) -> None:
    """Refuse a model of the wrong task, NaN (unknown) labels in single-label data, and heart
    rescaling augmentation where the heart mask channel is unlabelled (partial labels)."""
    spec = get_spec(cfg.model.name)
    task = get_task(data.task)
    if (spec.task == "segmentation") != task.segmentation:
        want = "segmentation" if task.segmentation else "classification"
        raise ConfigError(
            f"Expected a {want} model for the {data.task} data {data.source}. Received: "
            f"model.name={cfg.model.name!r}, a {spec.task} model "
            f"(see `heartcv list-models --task {data.task}`)")
    a = cfg.data.augment
    if task.segmentation and a.enabled and a.heart_scale_range is not None:
        t = data.splits["train"].targets  # RandomCardiacEnlargement finds the heart in channel 0
        n = int((t.reshape(len(t), -1, 1 if t.ndim == 3 else t.shape[-1])[..., 0].max(axis=1)
                 > 1).sum()) if len(t) else 0
        if n:
            raise ConfigError(
                f"{data.source}: data.augment.heart_scale_range rescales the heart of mask "
                f"channel 0 ({data.class_names[0]!r}), which {n} training image(s) have no "
                f"mask for. Received: data.augment.heart_scale_range={list(a.heart_scale_range)}")
    if task.single_label:
        counts = {k: int(np.isnan(s.targets).any(axis=-1).sum()) for k, s in data.splits.items()}
        if sum(counts.values()):
            where = ", ".join(f"{n} in {k}" for k, n in counts.items() if n)
            raise ValueError(
                f"{data.source}: {sum(counts.values())} image(s) with NaN (unknown) labels in "
                f"{data.task} data ({where}); only multilabel training masks unknown labels. "
                f"Drop or label those images.")


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
                         cv_paths(run_dir, cfg.train.folds) if cfg.train.folds > 1
                         else run_paths(run_dir), already_complete=True)
    strategy = strategy or get_strategy(cfg.train.strategy)
    keras.utils.set_random_seed(cfg.train.seed)
    get_spec(cfg.model.name)  # fail on a bad model name before any data work
    created = missing_top(run_dir)
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
    try:
        prepare_run_dir(run_dir)
        lock.acquire()  # another process on this folder: one line naming it, nothing touched
        data = data if data is not None else load_data(cfg.data)
        check_data(cfg, data)
        if overwrite and created is None:
            clear_run(run_dir)
        remove_stale_temps(run_dir)
        read_history(run_dir / "history.csv")  # a malformed log fails before training
        save_config(cfg, run_dir / "config.yaml")
        if cfg.train.folds and cfg.train.folds > 1:
            return cross_validate(cfg, data, run_dir, strategy=strategy, render=render)
        model, _ = fit_model(cfg, data, run_dir, strategy=strategy,
                             extra_callbacks=extra_callbacks, render=render)
    except RunFolderInUseError:
        raise  # the folder is the other process's: leave it as it is
    except BaseException:
        if created is not None and not has_progress(run_dir):
            shutil.rmtree(created, ignore_errors=True)
        raise
    paths = run_paths(run_dir)
    save_model(model, paths["model_h5"])
    save_model(model, paths["model_keras"])
    results = evaluate_run(model, data, cfg, run_dir)
    plot_history(paths["history_csv"], paths["figures"] / "history.png")
    write_card(paths["card"], cfg, data, results)
    shutil.rmtree(run_dir / "backup", ignore_errors=True)  # kept until now: resume at evaluation
    return RunResult(run_dir, results, paths["model_h5"], paths)


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
    k = cfg.train.folds
    full = data.combined()
    folds = patient_kfold(full.patient_id, k, seed=cfg.train.seed,
                          stratify=get_task(data.task).stratify(full.targets))
    fold_results = []
    for i, (train_idx, test_idx) in enumerate(folds, start=1):
        fold_dir = run_dir / f"fold{i}"
        key = fold_key(cfg, full.image_id[test_idx])
        results = finished_fold(fold_dir, key)
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
        results = json_round_trip(results)  # a kept fold is read back: the same types
        atomic_write_json(fold_dir / FOLD_RESULTS, {"fold_key": key, "results": results})
        shutil.rmtree(fold_dir / "backup", ignore_errors=True)
        fold_results.append(results)
        keras.backend.clear_session()
    summary = report.aggregate_folds(fold_results)
    summary.update({"task": data.task, "folds": k, "model": cfg.model.name,
                    "data_source": data.source})
    report.write_report(summary, run_dir, table=cfg.table or f"{cfg.model.name}: {k}-fold CV")
    return RunResult(run_dir, summary, None, cv_paths(run_dir, k))



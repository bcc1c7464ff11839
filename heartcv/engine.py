"""The one training engine: strategies and workers, model and optimizer, ``fit`` on batches.

:func:`fit_batches` is the one place a heartcv model is compiled and fitted: the config runs
(:func:`heartcv.train.fit_model`) and the MIT-BIH array path
(:mod:`heartcv.papers.mitbih_ecg_beats.fast`) both call it, with their batches from
:func:`heartcv.data.batches.batches` (extra inputs and sample weights ride in the batches),
their callbacks, class weights and learning-rate schedule (:func:`optimizer`) as options.

Distribution: ``train.strategy`` auto picks ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG``
names several workers, ``MirroredStrategy`` with several GPUs, else the default strategy.
``data.batch_size`` is the global batch. Non-chief workers write into ``workers/worker<i>``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import types
from pathlib import Path

import cv2
import keras
import numpy as np

from heartcv.config import ConfigError, RunConfig
from heartcv.models.backbones import set_bn_momentum
from heartcv.registry import build_model, get_spec

LR_SCHEDULES = ("constant", "cosine")

# ------------------------------------------------------------------------ distribution


def tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(f"TF_CONFIG is not valid JSON. Received: TF_CONFIG={raw[:80]!r}") from None


class OneDevice:
    """What ``fit_model`` needs of a strategy, under Keras backends other than TensorFlow."""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


def tensorflow_installed() -> bool:
    return importlib.util.find_spec("tensorflow") is not None


def get_strategy(name: str = "auto"):
    """Return a ``tf.distribute`` strategy by name (create it before any other TF work).

    Under another Keras backend (``KERAS_BACKEND=jax``) only ``auto`` / ``default`` exist: one
    device, nothing imported from TensorFlow.
    """
    names = ("auto", "default", "mirrored", "multiworker")
    if name not in names:
        raise ConfigError(f"Expected `train.strategy` in {names}. Received: {name!r}")
    if keras.backend.backend() != "tensorflow":
        if name not in ("auto", "default"):
            raise ConfigError(f"train.strategy={name} needs the TensorFlow backend. Received: "
                              f"KERAS_BACKEND={keras.backend.backend()!r}")
        return OneDevice()
    import tensorflow as tf  # the TensorFlow backend only

    if name == "auto":
        name = _auto_strategy(tf)
    if name == "multiworker":
        if not tf_config():
            raise ConfigError("train.strategy=multiworker needs TF_CONFIG to describe the cluster.")
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _auto_strategy(tf) -> str:
    cluster = tf_config().get("cluster", {})
    n_workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    if n_workers > 1:
        return "multiworker"
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def is_multiworker(strategy) -> bool:
    if isinstance(strategy, OneDevice):
        return False
    import tensorflow as tf  # a tf.distribute strategy: TensorFlow is loaded

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def worker_identity() -> tuple[bool, int]:
    """(is_chief, task index) from ``TF_CONFIG``; a single process is the chief."""
    task = tf_config().get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    cluster = tf_config().get("cluster", {})
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    return chief, index


def worker_run_dir(run_dir: Path) -> Path:
    chief, index = worker_identity()
    return run_dir if chief else run_dir / "workers" / f"worker{index}"


# ------------------------------------------------------------------------ model + optimizer


def _from_scratch(params: dict) -> bool:
    return params.get("backbone_weights", None) in (None, "none", "None")


def build_for_run(cfg: RunConfig, data):
    """Build the configured model for ``data`` and adjust BatchNorm momentum."""
    spec = get_spec(cfg.model.name)
    params = dict(cfg.model.params)
    default_shape = spec.parameters().get("input_shape") or (1, 1, 1)
    if default_shape[0] is None:  # fully convolutional builder: keep any size (eval.image_size)
        params.setdefault("input_shape", (None, None, cfg.data.channels))
    params.setdefault("input_shape", (cfg.data.image_size, cfg.data.image_size, cfg.data.channels))
    if "num_classes" in spec.parameters():  # segmentation: one sigmoid channel per structure
        params.setdefault("num_classes", data.num_outputs)
    model = build_model(cfg.model.name, **params)
    bn = cfg.train.bn_momentum
    if bn == "auto":
        bn = 0.9 if _from_scratch({**spec.defaults, **params}) else None
    elif isinstance(bn, str):
        raise ConfigError(f"Expected `train.bn_momentum` as a float, null or 'auto'. Received: {bn!r}")
    if bn is not None:
        set_bn_momentum(model, float(bn))
    return model


def optimizer(name="adam", learning_rate=1e-3, *, momentum=0.0, schedule="constant",
              decay_steps=None):
    """A Keras optimizer; ``schedule="cosine"`` decays the rate to 0 along a half cosine over
    ``decay_steps`` steps."""
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"Unknown lr_schedule. Expected one of {list(LR_SCHEDULES)}. "
                         f"Received: lr_schedule={schedule!r}")
    lr = learning_rate
    if schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(learning_rate,
                                                    decay_steps=max(1, int(decay_steps or 1)))
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=momentum)
    raise ConfigError(f"Expected `train.optimizer` in ('adam', 'sgd'). Received: {name!r}")


def make_optimizer(cfg: RunConfig):
    t = cfg.train
    return optimizer(t.optimizer, t.learning_rate, momentum=t.momentum)


# ------------------------------------------------------------------------ distribution helpers


def synchronize_batchnorm(model) -> int:
    """Use synchronized BatchNorm (global batch statistics) under a multi-replica strategy.

    Without it each worker keeps moving statistics of its own shard, so workers end with
    different weights (measured: max difference 0.07 after 8 steps on two CPU workers).
    """
    n = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
            n += 1
    return n


def prepare_multiworker(model, strategy, sample_batch) -> None:
    """Work around Keras 3.15's ``fit`` under ``MultiWorkerMirroredStrategy`` (keras#20585).

    Keras reduces a distributed sample batch to build the model (which fails for collective
    strategies) and reduces scalar step logs with ``axis=0`` (which fails for scalars). We
    build the model from a local batch ourselves, skip Keras' build, and return step logs as
    shape-(1,) tensors so the cross-worker mean is well defined.
    """
    with strategy.scope():
        model._symbolic_build(data_batch=sample_batch)
    model._maybe_symbolic_build = types.MethodType(lambda self, iterator=None, data_batch=None: None, model)
    for name in ("train_step", "test_step"):
        original = getattr(model, name)

        def step(data, _original=original):
            return {k: keras.ops.reshape(v, (1,)) for k, v in _original(data).items()}

        setattr(model, name, step)


def shard_for_workers(train_ds, val_ds, n_train, n_val, batch_size, steps):
    """Every worker must run the same number of steps: shard by element, repeat, fix steps.

    Returns ``(train_ds, val_ds, steps_per_epoch, validation_steps)``.
    """
    import tensorflow as tf  # multi-worker runs are TensorFlow's

    opts = tf.data.Options()
    opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    train_ds = train_ds.with_options(opts).repeat()
    steps = steps or max(n_train // batch_size, 1)
    val_steps = None
    if val_ds is not None:
        val_ds = val_ds.with_options(opts).repeat()
        val_steps = max(n_val // batch_size, 1)
    return train_ds, val_ds, steps, val_steps


def local_copy(model):
    """A copy of ``model`` outside any strategy (for prediction after multi-worker fit)."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


@contextlib.contextmanager
def precision_policy(mixed: bool):
    previous = keras.config.dtype_policy()
    if mixed:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def fit_verbosity(verbose, stream=None) -> int:
    """Keras ``fit`` verbosity for ``train.verbose``: ``"auto"`` is the progress bar (1) when
    ``stream`` (stdout) is a terminal, else one line per epoch (2): in a log file or a pipe a
    bar is redrawn with carriage returns and ANSI codes into one line of thousands of
    characters. 0, 1 and 2 are Keras' own and pass through."""
    if verbose != "auto":
        return int(verbose)
    stream = sys.stdout if stream is None else stream
    try:
        return 1 if stream.isatty() else 2
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return 2


def check_jit(jit):
    if isinstance(jit, str) and jit != "auto":
        raise ConfigError(f"Expected `train.jit_compile` true, false or 'auto'. Received: {jit!r}")
    return jit


def sample_images(images, image_size, channels):
    """Up to 8 images at the model's size and channels, float32 (TensorBoard's figures)."""
    samples = images[:8]
    if samples is None:
        return None
    if samples.shape[1] != image_size:
        samples = np.stack([cv2.resize(s, (image_size, image_size)) for s in samples])
        samples = samples[..., None] if samples.ndim == 3 else samples
    if samples.shape[-1] != channels:
        samples = np.repeat(samples, channels, axis=-1)
    return samples.astype(np.float32)


# ------------------------------------------------------------------------ one fit


def fit_batches(model, train, *, epochs, optimizer, loss, metrics=None, validation=None,
                callbacks=(), class_weight=None, steps_per_epoch=None, validation_steps=None,
                jit_compile="auto", verbose=0, batch_size=None, strategy=None,
                multiworker=False):
    """Compile ``model`` (in ``strategy``'s scope) and fit it: the one ``fit`` of heartcv.

    Args:
        model: a Keras model (built in ``strategy``'s scope when one is given).
        train: the training batches (:func:`heartcv.data.batches.batches`: images, or a dict
            of inputs, with targets and optional sample weights), or ``(x, y, sample_weight)``
            arrays (fed with ``batch_size``, shuffled by Keras).
        epochs, optimizer, loss, metrics, callbacks, class_weight, steps_per_epoch,
            validation_steps, jit_compile, verbose: Keras' ``compile`` / ``fit`` options.
        validation: validation batches or None.
        multiworker: ``train`` is sharded over workers (:func:`prepare_multiworker`).

    Returns:
        the Keras ``History``.
    """
    with (strategy.scope() if strategy is not None else contextlib.nullcontext()):
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics or None,
                      jit_compile=jit_compile)
    if multiworker:
        prepare_multiworker(model, strategy, next(iter(train.take(1))))
    if isinstance(train, tuple):  # in-memory arrays
        x, y, sample_weight = train
        return model.fit(x, y, sample_weight=sample_weight, batch_size=batch_size,
                         epochs=epochs, validation_data=validation, callbacks=list(callbacks),
                         class_weight=class_weight, shuffle=True, verbose=verbose)
    return model.fit(train, validation_data=validation, epochs=epochs,
                     steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                     class_weight=class_weight, callbacks=list(callbacks),
                     shuffle=False,  # the batches shuffle (seeded)
                     verbose=verbose)

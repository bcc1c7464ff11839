"""Training callbacks beyond Keras' own: TensorBoard image summaries, atomic checksummed
backups (resume after a kill or a full disk) and a kill switch for tests.

Callbacks run outside the model, so they may use TensorFlow directly (the summary writer).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import cv2
import keras
import numpy as np

from heartcv.files import atomic_write_json
from heartcv.io import save_model, save_weights


def _to_rgb_uint8(images: np.ndarray) -> np.ndarray:
    x = np.clip(images, 0, 255).astype(np.uint8)
    if x.ndim == 2:
        x = x[..., None]
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return x


def overlay_heatmap(image: np.ndarray, heat: np.ndarray, alpha: float = 0.2) -> np.ndarray:
    """Overlay a [0, 1] heatmap on an image (uint8 RGB out) with JET colours at ``alpha``.

    ``alpha`` 0.2 is the overlay intensity of the Cardio-XAttentionNet paper's figures.
    """
    img = _to_rgb_uint8(image)
    h = cv2.resize(np.asarray(heat, np.float32), (img.shape[1], img.shape[0]),
                   interpolation=cv2.INTER_LINEAR)
    h = np.clip(h, 0.0, 1.0)
    colour = cv2.applyColorMap((h * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    return np.clip((1 - alpha) * img + alpha * colour, 0, 255).astype(np.uint8)


DISPLAY_SIZE = 192  # TensorBoard sample images: shorter side at least this many pixels


def upscale_for_display(image: np.ndarray, min_size: int | None = DISPLAY_SIZE) -> np.ndarray:
    """``image`` (H, W[, C]) enlarged by the smallest whole factor that brings its shorter side
    to ``min_size`` (nearest neighbour: every input pixel a crisp block); unchanged when it is
    that large already or ``min_size`` is None or 0."""
    image = np.asarray(image)
    side = min(image.shape[:2])
    if not min_size or side >= min_size:
        return image
    k = -(-int(min_size) // side)  # ceil
    out = cv2.resize(image, (image.shape[1] * k, image.shape[0] * k),
                     interpolation=cv2.INTER_NEAREST)
    return out[..., None] if image.ndim == 3 and out.ndim == 2 else out


def draw_label(rgb: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner of a uint8 RGB image, in place: yellow on a black
    box, the font scaled to the image (about 15 px high at 192 px) so it reads at any size."""
    h = rgb.shape[0]
    scale = max(h / 320.0, 0.35)
    thick = max(int(round(scale * 1.6)), 1)
    (w_txt, h_txt), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(int(round(3 * scale)), 1)
    cv2.rectangle(rgb, (0, 0), (w_txt + 2 * pad, h_txt + base + 2 * pad), (0, 0, 0), -1)
    cv2.putText(rgb, text, (pad, pad + h_txt), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 0),
                thick, cv2.LINE_AA)
    return rgb


def probability_label(p) -> str:
    """``p=0.93`` for one sigmoid output, ``class 2: 0.71`` (the top class) for several."""
    p = np.atleast_1d(np.asarray(p, dtype=np.float32))
    if p.size == 1:
        return f"p={float(p[0]):.2f}"
    return f"class {int(np.argmax(p))}: {float(np.max(p)):.2f}"


def render_predictions(model, images: np.ndarray, task: str,
                       min_size: int | None = DISPLAY_SIZE) -> np.ndarray:
    """Default TensorBoard rendering: inputs enlarged to ``min_size`` px
    (:func:`upscale_for_display`) with the predicted mask or probability drawn on them."""
    preds = np.asarray(model.predict(images, verbose=0))
    out = []
    for img, p in zip(images, preds):
        rgb = np.ascontiguousarray(upscale_for_display(_to_rgb_uint8(img), min_size))
        if task == "segmentation":
            rgb = overlay_heatmap(rgb, p[..., 0], alpha=0.35)
        else:
            rgb = draw_label(rgb, probability_label(p))
        out.append(rgb)
    return np.stack(out)


class ImageSummary(keras.callbacks.Callback):
    """Write a fixed batch of rendered images to TensorBoard at the end of each epoch.

    Args:
        log_dir: the run's TensorBoard directory (images go to ``log_dir/images``).
        images: a small fixed batch (N, H, W, C) in [0, 255] (validation images).
        render: ``render(model, images) -> uint8 (N, H, W, 3)``; the engine passes
            ``render_predictions`` and model families plug in their own (attention maps).
        every: epochs between summaries.
        min_size: pictures smaller than this (shorter side, pixels) are enlarged by a whole
            factor before they are written (:func:`upscale_for_display`); the engine's
            renderers already draw their labels at this size.
    """

    def __init__(self, log_dir, images, render, every=1, tag="validation_samples",
                 min_size=DISPLAY_SIZE):
        super().__init__()
        self.log_dir = os.path.join(str(log_dir), "images")
        self.images = images
        self.render = render
        self.every = max(int(every), 1)
        self.tag = tag
        self.min_size = min_size
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch % self.every:
            return
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        pictures = np.stack([upscale_for_display(p, self.min_size)
                             for p in self.render(self.model, self.images)])
        with self._writer.as_default():
            tf.summary.image(self.tag, pictures.astype(np.float32) / 255.0, step=epoch,
                             max_outputs=len(pictures))
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class BestModelCheckpoint(keras.callbacks.Callback):
    """Save the whole model (``.h5`` or ``.keras``) whenever ``monitor`` improves.

    Unlike ``keras.callbacks.ModelCheckpoint`` the file is written to a temporary name and
    renamed (``heartcv.io.save_model``), so a run killed during a save never leaves a broken
    best model behind.

    Args:
        path: model file to write.
        monitor: a key of the epoch logs, e.g. ``val_loss``.
        mode: ``min`` or ``max``.
        best: the best value seen before (a resumed run), or None.
    """

    def __init__(self, path, monitor="val_loss", mode="min", best=None):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"Expected `mode` 'min' or 'max'. Received: mode={mode!r}")
        self.path = path
        self.monitor = monitor
        self.mode = mode
        self.best = best

    def _improved(self, value):
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(f"BestModelCheckpoint: `{self.monitor}` is not in the epoch logs "
                           f"({sorted(logs or {})}).")
        value = float(np.asarray(value).ravel()[0])
        if np.isfinite(value) and self._improved(value):
            self.best = value
            save_model(self.model, self.path)


class StopAfter(keras.callbacks.Callback):
    """Simulate a crash: ``os._exit`` after ``batches`` training batches (tests of resume)."""

    def __init__(self, batches: int):
        super().__init__()
        self.batches = int(batches)
        self.seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen >= self.batches:
            os._exit(17)


# ----------------------------------------------------------------------------- backups

BACKUP_STATE = "training_metadata.json"  # the epoch reached, its weights file and sha256
FIT_DONE = "fit_done.json"  # written when fit ended; the backup stays until evaluation ends


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_restore_point(backup_dir) -> tuple[dict | None, str | None]:
    """The newest backup whose weights match their recorded sha256, and a warning if one was
    skipped. Returns ``(entry, warning)``; ``entry`` is ``{"epoch", "weights", "sha256"}``
    (``epoch`` = epochs completed) or None to start clean. A clean start removes the folder.
    """
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return None, None
    state_path = backup_dir / BACKUP_STATE
    problem, candidates = None, []
    try:
        state = json.loads(state_path.read_text())
        candidates = [state, state.get("previous")]
    except FileNotFoundError:
        problem = f"{state_path.name} is missing"
    except (ValueError, AttributeError, OSError) as err:
        problem = f"{state_path.name} is unreadable: {type(err).__name__}"
    first_bad = None
    for entry in candidates:
        if not isinstance(entry, dict) or not {"epoch", "weights", "sha256"} <= set(entry):
            continue
        weights = backup_dir / str(entry["weights"])
        if not weights.is_file():
            why = "file missing"
        elif sha256_file(weights) != entry["sha256"]:
            why = "sha256 mismatch: truncated or half-written"
        else:
            entry = {k: entry[k] for k in ("epoch", "weights", "sha256")}
            warning = None
            if first_bad:
                warning = (f"heartcv train: warning: backup {first_bad[0]} is corrupt "
                           f"({first_bad[1]}); starting from epoch {int(entry['epoch']) + 1}")
            return entry, warning
        first_bad = first_bad or (weights, why)
    where, why = first_bad or (state_path if problem else backup_dir, problem or "no usable backup")
    shutil.rmtree(backup_dir, ignore_errors=True)
    return None, f"heartcv train: warning: backup {where} is corrupt ({why}); starting clean"


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose backups survive a kill or a full disk mid-write.

    Each epoch's weights go to ``epoch<N>.weights.h5`` under a temporary name, renamed into
    place; then ``training_metadata.json`` (atomic) records the epoch, the file and its sha256,
    and the previous good backup, which is kept as a fallback. :func:`find_restore_point`
    checks the checksums before a run resumes. When fit ends, ``fit_done.json`` is written and
    the folder is kept: the engine removes it once evaluation is written, so a run stopped
    between the last epoch and its metrics resumes at evaluation.

    Args:
        backup_dir: the run's ``backup/`` folder.
        restore: the entry :func:`find_restore_point` returned, or None to start clean.
    """

    def __init__(self, backup_dir, restore=None):
        super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=False)
        self.dir = Path(backup_dir)
        self.restore = restore
        self._good = dict(restore) if restore else None

    def on_train_begin(self, logs=None):
        if self.restore is None:
            return
        if not self.model.built:
            raise ValueError("AtomicBackupAndRestore needs a built model before fit().")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self.dir / self.restore["weights"])
        self.model._initial_epoch = int(self.restore["epoch"])
        self._current_epoch = int(self.restore["epoch"])

    def _save_model(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"epoch{self._current_epoch}.weights.h5"
        save_weights(self.model, self.dir / name)  # atomic; a full disk is one error line
        entry = {"epoch": self._current_epoch, "weights": name,
                 "sha256": sha256_file(self.dir / name)}
        atomic_write_json(self.dir / BACKUP_STATE, {**entry, "batch": 0, "previous": self._good})
        keep = {name, (self._good or {}).get("weights")}
        for old in self.dir.glob("*.weights.h5"):
            if old.name not in keep:
                old.unlink()
        self._good = entry

    def on_train_end(self, logs=None):
        if self.dir.is_dir():
            atomic_write_json(self.dir / FIT_DONE, {"epochs": self._current_epoch})

"""Training callbacks beyond Keras' own: TensorBoard image summaries and a kill switch for tests.

Callbacks run outside the model, so they may use TensorFlow directly (the summary writer).
"""

from __future__ import annotations

import os

import cv2
import keras
import numpy as np


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


def render_predictions(model, images: np.ndarray, task: str) -> np.ndarray:
    """Default TensorBoard rendering: inputs with the predicted mask or probability drawn."""
    preds = np.asarray(model.predict(images, verbose=0))
    out = []
    for img, p in zip(images, preds):
        rgb = _to_rgb_uint8(img).copy()
        if task == "segmentation":
            rgb = overlay_heatmap(rgb, p[..., 0], alpha=0.35)
        else:
            text = f"{float(p[0]):.2f}" if p.shape[-1] == 1 else f"c{int(np.argmax(p))}:{float(np.max(p)):.2f}"
            scale = max(rgb.shape[0] / 160.0, 0.3)
            cv2.putText(rgb, text, (2, int(14 * scale) + 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (255, 255, 0), 1, cv2.LINE_AA)
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
    """

    def __init__(self, log_dir, images, render, every=1, tag="validation_samples"):
        super().__init__()
        self.log_dir = os.path.join(str(log_dir), "images")
        self.images = images
        self.render = render
        self.every = max(int(every), 1)
        self.tag = tag
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch % self.every:
            return
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        pictures = self.render(self.model, self.images)
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
        from heartcv.io import save_model

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

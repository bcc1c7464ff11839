"""``RandomCardiacEnlargement``: change the heart's size (and the thorax width) with its masks.

A heart + lungs segmenter learns the hearts it was shown. JSRT's largest cardiothoracic ratio
is 0.635, and a model trained on it drew the enlarged hearts of other hospitals (CTR 0.70 to
0.84) 0.23 too small. This layer makes such hearts from the ones in the training set: a
smooth radial warp centred on each image's heart scales the heart by ``s`` horizontally (and
by ``1 + (s - 1) / 2`` vertically), fading to the identity over ``transition`` heart radii
outside it, and a horizontal scale ``t`` about the image centre changes the thorax width.
Image and masks move through the same coordinate map (masks bilinearly, thresholded at
0.5), so the heart and lung masks of the warped image are exact for it and its CTR is the
warped masks' CTR; the warp is one-to-one, so heart and lungs never overlap.

The heart's centre and half-extents are read from channel ``heart_channel`` of the
segmentation masks; without masks (or with an empty heart) only the thorax scale applies.

Output-to-input map, for output pixel ``(x, y)`` of an ``H x W`` image::

    x1 = W/2 + (x - W/2) / t                          # thorax width x t
    u, v = (x1 - cx) / rx, (y - cy) / ry              # heart box: centre c, half-sizes r
    d = sqrt(u^2 + v^2)                               # 1 on the heart's edge
    g(s', d) = 1/s' + (1 - 1/s') * smoothstep((d - a) / transition),   a = 0.95 s
    x_in = cx + (x1 - cx) g(s, d),   y_in = cy + (y - cy) g(1 + (s - 1)/2, d)

With ``s`` in [0.85, 1.5] and ``transition`` >= 0.8 the radial map ``d * g(d)`` increases, so
the warp does not fold (tested).
"""

from __future__ import annotations

import cv2
import keras
import numpy as np
from keras import ops

from heartcv.layers._acquisition_shift import PairedTransformLayer, check_range

_BORDERS = {"nearest": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}


def _smoothstep(t, xp):
    t = xp.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _coordinates(params, height, width, transition, xp):
    """Input coordinates ``(x_in, y_in)``, each ``(N, H, W)``, for per-image ``params``.

    ``params``: ``(N, 6)`` rows ``[cx, cy, rx, ry, s, t]`` (``rx = 0`` means no heart: no
    radial warp). ``xp`` is ``numpy`` or ``keras.ops``.
    """
    f32 = "float32"
    cast = (lambda a: a.astype(np.float32)) if xp is np else (lambda a: ops.cast(a, f32))
    ys = cast(xp.arange(height))[None, :, None]
    xs = cast(xp.arange(width))[None, None, :]
    cx, cy, rx, ry, s, t = (params[:, i][:, None, None] for i in range(6))
    half_w = (width - 1) / 2.0
    x1 = half_w + (xs - half_w) / t
    has_heart = rx > 0
    safe_rx = xp.where(has_heart, rx, 1.0)
    safe_ry = xp.where(ry > 0, ry, 1.0)
    u = (x1 - cx) / safe_rx
    v = (ys - cy) / safe_ry
    d = xp.sqrt(u * u + v * v)
    a = 0.95 * s
    ramp = _smoothstep((d - a) / transition, xp)
    sy = 1.0 + (s - 1.0) / 2.0
    gx = 1.0 / s + (1.0 - 1.0 / s) * ramp
    gy = 1.0 / sy + (1.0 - 1.0 / sy) * ramp
    gx = xp.where(has_heart, gx, 1.0)
    gy = xp.where(has_heart, gy, 1.0)
    x_in = cx + (x1 - cx) * gx
    y_in = cy + (ys - cy) * gy
    zeros = x_in * 0.0
    return x_in + zeros, y_in + zeros


def heart_box(masks, heart_channel=0, xp=np):
    """Per-image heart centre and half-extents ``(N, 4)``: ``[cx, cy, rx, ry]`` in pixels.

    From the bounding box of channel ``heart_channel`` of ``(N, H, W, K)`` 0/1 masks; zeros
    for an image without heart pixels.
    """
    heart = masks[..., heart_channel] > 0.5
    n_rows, n_cols = heart.shape[1], heart.shape[2]
    if xp is np:
        cols, rows = heart.any(axis=1), heart.any(axis=2)
        xs, ys = np.arange(n_cols, dtype=np.float32), np.arange(n_rows, dtype=np.float32)
    else:
        cols = ops.any(heart, axis=1)
        rows = ops.any(heart, axis=2)
        xs = ops.cast(ops.arange(n_cols), "float32")
        ys = ops.cast(ops.arange(n_rows), "float32")
    big = 1e9
    x0 = xp.min(xp.where(cols, xs[None, :], big), axis=1)
    x1 = xp.max(xp.where(cols, xs[None, :], -big), axis=1)
    y0 = xp.min(xp.where(rows, ys[None, :], big), axis=1)
    y1 = xp.max(xp.where(rows, ys[None, :], -big), axis=1)
    found = xp.any(cols, axis=1)
    cx = xp.where(found, (x0 + x1) / 2.0, 0.0)
    cy = xp.where(found, (y0 + y1) / 2.0, 0.0)
    rx = xp.where(found, (x1 - x0 + 1) / 2.0, 0.0)
    ry = xp.where(found, (y1 - y0 + 1) / 2.0, 0.0)
    return xp.stack([cx, cy, rx, ry], axis=1)


@keras.saving.register_keras_serializable(package="heartcv")
class RandomCardiacEnlargement(PairedTransformLayer):
    """Random heart size and thorax width, moved together with the segmentation masks.

    Args:
        heart_scale_range: ``[low, high]`` horizontal heart scale ``s`` (in [0.85, 1.5]).
        thorax_scale_range: ``[low, high]`` horizontal thorax scale ``t`` (in [0.8, 1.25]).
        probability: chance that an image's heart is rescaled (otherwise ``s = 1``).
        heart_channel: mask channel holding the heart.
        transition: width, in heart radii, over which the warp fades out (>= 0.8).
        fill_mode: ``"nearest"`` or ``"constant"`` (0) outside the image.
        seed: int seed or None.

    Called on ``{"images": x, "segmentation_masks": m}`` (the augmenter's dict form) with
    ``training=True``; images alone get the thorax scale only. Works batched ``(N, H, W, C)``.
    """

    def __init__(self, heart_scale_range=(0.9, 1.45), thorax_scale_range=(1.0, 1.0),
                 probability=0.5, heart_channel=0, transition=0.8, fill_mode="nearest",
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.heart_scale_range = check_range("heart_scale_range", list(heart_scale_range),
                                             low=0.85, high=1.5)
        self.thorax_scale_range = check_range("thorax_scale_range", list(thorax_scale_range),
                                              low=0.8, high=1.25)
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) \
                or not 0.0 <= probability <= 1.0:
            raise ValueError(f"Expected `probability` in [0, 1]. Received: probability={probability!r}")
        if isinstance(heart_channel, bool) or not isinstance(heart_channel, int) or heart_channel < 0:
            raise ValueError(f"Expected `heart_channel` to be an int >= 0. "
                             f"Received: heart_channel={heart_channel!r}")
        if isinstance(transition, bool) or not isinstance(transition, (int, float)) or transition < 0.8:
            raise ValueError(f"Expected `transition` >= 0.8 (smaller can fold the warp). "
                             f"Received: transition={transition!r}")
        if fill_mode not in _BORDERS:
            raise ValueError(f"Expected `fill_mode` in {list(_BORDERS)}. Received: fill_mode={fill_mode!r}")
        self.probability = float(probability)
        self.heart_channel = heart_channel
        self.transition = float(transition)
        self.fill_mode = fill_mode
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = False

    # -------------------------------------------------------------- the random transform
    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = data["images"] if isinstance(data, dict) else data
        masks = data.get("segmentation_masks") if isinstance(data, dict) else None
        batch = ops.shape(images)[0]

        def uniform(low, high):
            if low == high:
                return ops.full((batch,), low, dtype="float32")
            return keras.random.uniform((batch,), minval=low, maxval=high,
                                        seed=self.seed_generator)

        s = uniform(*self.heart_scale_range)
        apply = uniform(0.0, 1.0) < self.probability
        s = ops.where(apply, s, 1.0)
        t = uniform(*self.thorax_scale_range)
        if masks is None:
            box = ops.zeros((batch, 4), dtype="float32")
        else:
            box = heart_box(ops.cast(masks, "float32"), self.heart_channel, xp=ops)
        return {"params": ops.concatenate([ops.cast(box, "float32"), s[:, None], t[:, None]], axis=1)}

    def _warp_ops(self, x, transformation, threshold):
        x = ops.cast(x, "float32")
        if transformation is None:
            return x
        n, h, w, c = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
        if n is None:
            n = ops.shape(x)[0]
        x_in, y_in = _coordinates(transformation["params"], h, w, self.transition, ops)
        if self.fill_mode == "nearest":
            x_in = ops.clip(x_in, 0.0, w - 1.0)
            y_in = ops.clip(y_in, 0.0, h - 1.0)
        n_idx = ops.cast(ops.arange(n), "float32")[:, None, None, None] + ops.zeros_like(x)
        c_idx = ops.cast(ops.arange(c), "float32")[None, None, None, :] + ops.zeros_like(x)
        coords = ops.stack([n_idx, y_in[..., None] + 0 * x, x_in[..., None] + 0 * x, c_idx])
        out = ops.image.map_coordinates(x, coords, order=1, fill_mode="constant", fill_value=0.0)
        return ops.cast(out >= 0.5, "float32") if threshold else out

    def transform_images(self, images, transformation, training=True):
        if not training:
            return ops.cast(images, self.compute_dtype)
        return ops.cast(self._warp_ops(images, transformation, False), self.compute_dtype)

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        if not training:
            return ops.cast(segmentation_masks, self.compute_dtype)
        return ops.cast(self._warp_ops(segmentation_masks, transformation, True), self.compute_dtype)

    # -------------------------------------------------------------- OpenCV fast path
    numpy_fast_path = True

    def transform_numpy(self, images, transformation, segmentation_masks=None):
        """The same warp with ``cv2.remap`` on NumPy batches (releases the GIL)."""
        images = np.asarray(images, dtype=np.float32)
        if transformation is None:
            masks = None if segmentation_masks is None else np.asarray(segmentation_masks, np.float32)
            return images, masks
        params = np.asarray(ops.convert_to_numpy(transformation["params"]), dtype=np.float32)
        n, h, w = images.shape[:3]
        x_in, y_in = _coordinates(params, h, w, self.transition, np)
        border = _BORDERS[self.fill_mode]

        def remap(batch, threshold):
            batch = np.asarray(batch, dtype=np.float32)
            out = np.empty_like(batch)
            for i in range(n):
                for start in range(0, batch.shape[-1], 4):
                    src = np.ascontiguousarray(batch[i, :, :, start:start + 4])
                    warped = cv2.remap(src, x_in[i].astype(np.float32), y_in[i].astype(np.float32),
                                       cv2.INTER_LINEAR, borderMode=border, borderValue=0.0)
                    out[i, :, :, start:start + 4] = warped.reshape(h, w, -1)
            return (out >= 0.5).astype(np.float32) if threshold else out

        images = remap(images, False)
        if segmentation_masks is not None:
            segmentation_masks = remap(segmentation_masks, True)
        return images, segmentation_masks

    def get_config(self):
        return {**super().get_config(),
                "heart_scale_range": list(self.heart_scale_range),
                "thorax_scale_range": list(self.thorax_scale_range),
                "probability": self.probability, "heart_channel": self.heart_channel,
                "transition": self.transition, "fill_mode": self.fill_mode, "seed": self.seed}

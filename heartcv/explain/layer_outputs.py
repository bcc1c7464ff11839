"""Intermediate layer outputs and feature-map grids (the CHD paper's block5_conv1 figure).

The CHD paper (``../shared/papers/chd-xray-vgg-unet.txt``, Fig. 5a and 6) first looks at
"what is output from each layer of the network, such as the output of the same batch of
pictures in the block5_conv1 layer", then concludes this does not say what the network
learns and moves on to sensitivity analysis and deep Taylor decomposition.
:func:`layer_outputs` returns any named layers' activations (a companion ``keras.Model``
sharing the model's weights) and :func:`save_feature_grid` draws one image's channels as a
grid of small maps, each scaled to its own range.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from heartcv.evaluation._common import atomic_save_figure
from heartcv.explain._common import batches, check_batch_size, get_layer, prepare_images

ORDERS = ("index", "mean")


def layer_outputs(model, images, layer_names, *, batch_size=8) -> dict:
    """Outputs of the named layers for a batch of images.

    Args:
        model: a heartcv model (one image input).
        images: (N, H, W[, C]) in [0, 255], as the model takes them (grey is repeated).
        layer_names: a layer name or a list of names (e.g. ``"block5_conv1"``); unknown
            names raise ``ValueError`` with a did-you-mean.
        batch_size: images per forward pass (inference mode: dropout off, BN moving stats).

    Returns:
        dict name → float32 array (N, ...) of that layer's output, in ``layer_names`` order.
    """
    batch_size = check_batch_size(batch_size)
    if isinstance(layer_names, str):
        layer_names = [layer_names]
    if not isinstance(layer_names, (list, tuple)) or not layer_names \
            or not all(isinstance(n, str) for n in layer_names):
        raise TypeError(f"Expected `layer_names` as a layer name or a non-empty list of names. "
                        f"Received: layer_names={layer_names!r}")
    names = list(dict.fromkeys(layer_names))
    outputs = []
    for name in names:
        out = get_layer(model, name, "layer_names").output
        if isinstance(out, (list, tuple)):
            raise ValueError(f"Expected layers with one output. Received: layer {name!r} with "
                             f"{len(out)} outputs")
        outputs.append(out)
    x = prepare_images(model, images)
    probe = keras.Model(model.inputs[0], outputs, name=f"{model.name}_layer_outputs")
    parts = {name: [] for name in names}
    for sl in batches(len(x), batch_size):
        res = probe(x[sl], training=False)
        res = res if isinstance(res, (list, tuple)) else [res]
        for name, r in zip(names, res):
            parts[name].append(keras.ops.convert_to_numpy(r).astype(np.float32))
    return {name: np.concatenate(parts[name]) for name in names}


def _scale(m):
    lo, hi = float(m.min()), float(m.max())
    return np.zeros_like(m) if hi <= lo else (m - lo) / (hi - lo)


def save_feature_grid(features, path, max_channels=64, *, image_index=0, order="index",
                      title=None, cmap="viridis", dpi=100):
    """Write a PNG grid of one image's feature maps, one panel per channel.

    Args:
        features: (N, h, w, C) layer output (e.g. ``layer_outputs(...)["block5_conv1"]``)
            or one image's (h, w, C).
        path: PNG file to write (atomically).
        max_channels: at most this many channels are drawn (>= 1).
        image_index: which image of a batch to draw.
        order: ``"index"`` (channels 0, 1, ...) or ``"mean"`` (the most active first; many
            block5 channels of a fine-tuned VGG16 are all zero).
        title: figure title; default names the image and the channels shown.
        cmap: matplotlib colormap. Each panel is scaled to its own min–max (a constant
            channel is drawn black) and titled with its channel number.

    Returns:
        The written path.
    """
    from matplotlib.figure import Figure

    f = np.asarray(features, dtype=np.float32)
    if f.ndim == 3:
        f = f[None]
    if f.ndim != 4 or f.shape[0] == 0 or f.shape[-1] == 0:
        raise ValueError(f"Expected `features` of shape (N, h, w, C) or (h, w, C). "
                         f"Received: features.shape={np.shape(features)}")
    if isinstance(max_channels, bool) or not isinstance(max_channels, (int, np.integer)) \
            or max_channels < 1:
        raise ValueError(f"Expected `max_channels` to be an int >= 1. "
                         f"Received: max_channels={max_channels!r}")
    if isinstance(image_index, bool) or not isinstance(image_index, (int, np.integer)) \
            or not -len(f) <= image_index < len(f):
        raise ValueError(f"Expected `image_index` in [0, {len(f)}). "
                         f"Received: image_index={image_index!r}")
    if order not in ORDERS:
        raise ValueError(f"Expected `order` in {ORDERS}. Received: order={order!r}")
    maps = f[image_index]
    channels = np.arange(maps.shape[-1])
    if order == "mean":
        channels = np.argsort(-maps.mean(axis=(0, 1)), kind="stable")
    channels = channels[:int(max_channels)]
    ncols = int(np.ceil(np.sqrt(len(channels))))
    nrows = int(np.ceil(len(channels) / ncols))
    fig = Figure(figsize=(1.3 * ncols, 1.3 * nrows + 0.4))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= len(channels):
            ax.set_axis_off()
            continue
        ax.imshow(_scale(maps[..., channels[k]]), cmap=cmap, vmin=0.0, vmax=1.0)
        ax.set_title(str(int(channels[k])), fontsize=6, pad=1)
    dead = int((maps.reshape(-1, maps.shape[-1]).max(axis=0) <= 0).sum())
    fig.suptitle(title if title is not None else
                 f"image {image_index}: {len(channels)} of {maps.shape[-1]} channels "
                 f"({order} order; {dead} all-zero), {maps.shape[0]}x{maps.shape[1]}",
                 fontsize=8)
    fig.tight_layout()
    return atomic_save_figure(fig, Path(path), dpi=dpi)

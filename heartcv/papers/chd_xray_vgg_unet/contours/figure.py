"""A figure of the outline steps for a few images (matplotlib Agg, written atomically)."""

import cv2
import numpy as np

from heartcv.files import atomic_path
from heartcv.papers.chd_xray_vgg_unet.contours.outline import check_image

__all__ = ["save_outline_figure"]


def save_outline_figure(path, images, results, *, references=None, titles=None, dpi=100):
    """A figure of the steps for a few images, one row each, written atomically as PNG.

    Columns: enhanced image with the two marked rows, binarized, after opening/closing,
    flood-filled region with the lung fields, completed heart region, polygon over the image
    (with the reference outline in red when ``references`` are given).

    Args:
        path: output ``.png``.
        images: the original uint8 images; results: their :class:`OutlineResult`
            (``extract_heart_outline(..., diagnostics=True)``).
        references: optional reference masks (original size), drawn in red.
        titles: optional row titles (e.g. the image names).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if len(images) != len(results) or not results:
        raise ValueError(f"Expected one result per image (at least one). Received: "
                         f"{len(images)} images, {len(results)} results")
    names = ["enhanced + rows", "binarized", "opening/closing", "flood fill + lungs",
             "heart region", "polygon"]
    fig = Figure(figsize=(2.2 * len(names), 2.3 * len(results)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(results), len(names), squeeze=False)
    for i, (img, res) in enumerate(zip(images, results)):
        fill = np.stack([res.filled * 255] * 3, -1).astype(np.uint8)
        fill[res.lungs == 1] = (70, 130, 255)
        fill[res.lungs == 2] = (70, 200, 120)
        over = cv2.cvtColor(check_image(img), cv2.COLOR_GRAY2RGB)
        if references is not None:
            ref = (np.asarray(references[i]) != 0).astype(np.uint8)
            cs, _ = cv2.findContours(ref, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(over, cs, -1, (255, 40, 40), max(1, over.shape[1] // 256))
        panels = [res.enhanced, res.binary * 255, res.morphology * 255, fill,
                  res.region * 255, over]
        for j, (ax, panel) in enumerate(zip(axes[i], panels)):
            ax.imshow(panel, cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(names[j], fontsize=8)
        for y in (res.top_row, res.bottom_row):
            axes[i][0].axhline((y + 0.5) * res.scale[1] - 0.5, color="yellow", lw=0.8)
        closed = np.vstack([res.polygon, res.polygon[:1]])
        axes[i][-1].plot(closed[:, 0], closed[:, 1], "-o", color="cyan", lw=1, ms=2)
        if titles is not None:
            axes[i][0].set_ylabel(str(titles[i]), fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path

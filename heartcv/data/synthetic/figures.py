"""Figures of the synthetic data: a few samples per class, task and view, to look at.

``save_chest_figures`` renders grids of synthetic chest radiographs with the heart contour
(red), the lung contour (green) and finding boxes (blue) drawn on them. Files are written to a
temporary file beside the target and renamed into place.
"""

import os

import cv2
import numpy as np

from heartcv.files import atomic_write_image

from heartcv.data.synthetic.chest import generate_chest_xrays


def _overlay(image, heart_polygon, lung_mask, boxes, text):
    rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    contours, _ = cv2.findContours(lung_mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(rgb, contours, -1, (60, 200, 60), 1)
    cv2.polylines(rgb, [np.round(heart_polygon).astype(np.int32)], True, (40, 40, 230), 1)
    scale = image.shape[0] / 320.0
    for label, x, y, w, h in boxes:
        p0, p1 = (int(x), int(y)), (int(x + w - 1), int(y + h - 1))
        cv2.rectangle(rgb, p0, p1, (230, 140, 30), 1)
        cv2.putText(rgb, label, (int(x), max(int(y) - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.35 * scale, (230, 140, 30), 1, cv2.LINE_AA)
    cv2.putText(rgb, text, (4, rgb.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale,
                (0, 220, 255), 1, cv2.LINE_AA)
    return rgb


def _grid(rows, pad=4):
    """Stacks rows of equally sized BGR tiles with a dark gap."""
    tile = rows[0][0]
    blank = np.zeros_like(tile)
    width = max(len(r) for r in rows)
    lines = []
    for r in rows:
        r = list(r) + [blank] * (width - len(r))
        cells = []
        for t in r:
            cells += [t, np.zeros((t.shape[0], pad, 3), np.uint8)]
        line = np.hstack(cells[:-1])
        lines += [line, np.zeros((pad, line.shape[1], 3), np.uint8)]
    return np.vstack(lines[:-1])


def _write_png(path, bgr):
    return atomic_write_image(path, bgr)


def _by_class(data, per_class, raw=False):
    """Rows of up to ``per_class`` tiles for each class (raw images and overlays side by side
    when ``raw``)."""
    labels = data["labels"]
    cls = labels[:, 0].astype(int) if labels.shape[1] == 1 else labels.argmax(1)
    rows = []
    for k, name in enumerate(data["class_names"]):
        row = []
        for i in np.flatnonzero(cls == k)[:per_class]:
            text = f"{name} {data['view'][i][:3]} CTR={data['ctr'][i]:.2f} {data['patient_id'][i]}"
            img = data["images"][i, ..., 0]
            if raw:
                row.append(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
            row.append(_overlay(img, data["heart_polygons"][i], data["lung_masks"][i],
                                data["boxes"][i], text))
        if row:
            rows.append(row)
    return rows


def save_chest_figures(out_dir, seed=0, size=320, per_class=4):
    """Writes grids of synthetic chest X-rays per task, class and view into ``out_dir``.

    Files: ``chest_cardiomegaly.png`` (No Finding / Cardiomegaly), ``chest_chd.png`` (normal,
    VSD, ASD, TOF; frontal and lateral), ``chest_findings.png`` (multilabel with boxes),
    ``chest_view.png`` (frontal / lateral) and ``chest_raw.png`` (images without overlays).

    Args:
        out_dir: folder to write into (created if missing).
        seed: dataset seed.
        size: image size in pixels.
        per_class: samples per class and row.

    Returns:
        list of the written paths.
    """
    if per_class < 1:
        raise ValueError(f"Expected `per_class` >= 1. Received: per_class={per_class}")
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    n = 4 * per_class
    card = generate_chest_xrays(n, 1, size, task="cardiomegaly", seed=seed)
    paths.append(_write_png(os.path.join(out_dir, "chest_cardiomegaly.png"),
                            _grid(_by_class(card, per_class))))
    raw = _by_class(card, max(1, per_class // 2), raw=True)
    paths.append(_write_png(os.path.join(out_dir, "chest_raw.png"), _grid(raw)))
    chd = generate_chest_xrays(2 * n, 1, size, task="chd", seed=seed)
    chd_lat = generate_chest_xrays(2 * n, 1, size, task="chd", view="lateral", seed=seed)
    rows = [f + lat[: max(1, per_class // 2)] for f, lat in
            zip(_by_class(chd, per_class), _by_class(chd_lat, per_class))]
    paths.append(_write_png(os.path.join(out_dir, "chest_chd.png"), _grid(rows)))
    find = generate_chest_xrays(2 * n, 1, size, task="findings", seed=seed, finding_prob=0.35)
    tiles = []
    for i in range(2 * per_class):
        names = [c for c, v in zip(find["class_names"], find["labels"][i]) if v] or ["No Finding"]
        tiles.append(_overlay(find["images"][i, ..., 0], find["heart_polygons"][i],
                              find["lung_masks"][i], find["boxes"][i],
                              ",".join(n[:4] for n in names)))
    rows = [tiles[:per_class], tiles[per_class:]]
    paths.append(_write_png(os.path.join(out_dir, "chest_findings.png"), _grid(rows)))
    view = generate_chest_xrays(per_class, 2, size, task="view", seed=seed)
    paths.append(_write_png(os.path.join(out_dir, "chest_view.png"),
                            _grid(_by_class(view, per_class))))
    return paths

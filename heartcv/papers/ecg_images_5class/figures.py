"""Figures of the synthetic ECG data: one sheet per class, the 13 lead crops, single beats."""

import os

import cv2
import numpy as np

from heartcv.files import atomic_write_image

from heartcv.papers.ecg_images_5class.layout import LEAD_NAMES, crop_leads, preprocess_lead
from heartcv.data.synthetic.beats import generate_beat_images
from heartcv.data.synthetic.ecg import generate_ecg_printouts


def _write_png(path, rgb):
    """Write an RGB image atomically."""
    return atomic_write_image(path, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))


def _titled(img, title, bar=40, scale=1.0):
    out = np.full((img.shape[0] + bar, img.shape[1], 3), 255, np.uint8)
    out[bar:] = img
    cv2.putText(out, title, (8, bar - 11), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 2,
                cv2.LINE_AA)
    return out


def _pad(img, p=3, value=255):
    return np.pad(img, ((p, p), (p, p), (0, 0)), constant_values=value)


def save_ecg_figures(out_dir, seed=0):
    """Save figures of the synthetic 12-lead sheets and single beats into ``out_dir``.

    Writes ``ecg_sheet_<class>.png`` (one half-size sheet per class), ``ecg_sheets.png`` (the
    five sheets side by side at quarter size), ``ecg_leads.png`` (the 13 crops of each sheet
    after :func:`heartcv.papers.ecg_images_5class.layout.preprocess_lead`, 64 x 64) and ``ecg_beats.png`` (eight
    128 x 128 beats per AAMI class).

    Args:
        out_dir: Folder to write into (created if missing).
        seed: Seed of the synthetic data.

    Returns:
        A dict mapping figure name to the written path.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    ecg = generate_ecg_printouts(5, seed=seed)
    quarter, leads = [], []
    for sheet, label in zip(ecg["images"], ecg["labels"]):
        name = ecg["class_names"][label]
        h, w = sheet.shape[:2]
        half = cv2.resize(sheet, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        paths[f"ecg_sheet_{name}"] = _write_png(os.path.join(out_dir, f"ecg_sheet_{name}.png"),
                                                _titled(half, name))
        small = cv2.resize(sheet, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
        quarter.append(_pad(_titled(small, name, bar=30, scale=0.8)))
        crops = [preprocess_lead(c, 64) for c in crop_leads(sheet)]
        row = np.hstack([_pad(np.repeat(c[..., None], 3, axis=2), 2) for c in crops])
        leads.append(_titled(row, name, bar=28, scale=0.7))
    blank = np.full_like(quarter[0], 255)
    grid = np.vstack([np.hstack(quarter[0:3]), np.hstack(quarter[3:5] + [blank])])
    paths["ecg_sheets"] = _write_png(os.path.join(out_dir, "ecg_sheets.png"), grid)
    header = np.full((24, leads[0].shape[1], 3), 255, np.uint8)
    for i, name in enumerate(LEAD_NAMES):
        cv2.putText(header, name[:6], (4 + 68 * i, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    paths["ecg_leads"] = _write_png(os.path.join(out_dir, "ecg_leads.png"),
                                    np.vstack([header] + leads))
    beats = generate_beat_images(8, size=128, seed=seed)
    rows = []
    for k, name in enumerate(beats["class_names"]):
        row = np.hstack([_pad(im, 2, 0) for im in beats["images"][beats["labels"] == k]])
        rows.append(_titled(row, name, bar=30, scale=0.8))
    paths["ecg_beats"] = _write_png(os.path.join(out_dir, "ecg_beats.png"), np.vstack(rows))
    return paths

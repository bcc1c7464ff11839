"""MIT-BIH beats as in-memory arrays: small beat images, RR-interval features, both protocols.

The fast path of ``experiments/mitbih_ecg_beats/run.py`` (``--data`` a folder of WFDB records,
or ``--quick`` on synthetic beats) reads every beat once into arrays and caches them in one
``.npz`` (:func:`load_mitdb`), instead of streaming a 128-px HDF5 bundle through
``heartcv.train``. Each beat has

* ``images`` (N, size, size, 1) uint8: the 1.2 s window (0.6 s each side of the R peak, lead 0)
  drawn by :func:`heartcv.data.synthetic.beats.render_beat_image` (black trace on white,
  per-window min-max vertical scale) on a ``render_size`` canvas resized to ``size``;
* ``rr`` (N, 6) float32: :data:`RR_FEATURES` from the reference beat annotations of its record
  (:func:`rr_features`), normalised by the record's mean RR;
* ``labels`` (N,) int: index into ``BEAT_CLASSES`` (F, N, Q, S, V, the paper's order);
* ``record``, ``sample``, ``split_intra`` (the paper's beat-level 80/20 split, the same hash
  as ``data_prep/mitbih.py``), ``split_inter`` (de Chazal's DS1 ``train`` / DS2 ``test``,
  paced records ``""``).

RR features (beyond the paper; de Chazal et al. 2004 and the inter-patient methods after it):
pre-RR and post-RR (to the previous and next annotated beat), the local average RR (the ten
RR intervals around the beat) and the record's mean RR. The network sees
``pre/mean, post/mean, local/mean, pre/post, pre/local`` and the record's mean RR in seconds.
Normalising by the record's own mean removes the patient's heart rate, which is what lets a
premature supraventricular beat (whose shape is normal) be recognised in a new patient. Only
annotation times are used, never labels; the record mean is a property of the unlabelled
recording.

Patient-relative morphology (beyond the paper; :func:`morphology_features`): a beat's shape
measured against its own record's typical beat. From each image the trace is read back as a
waveform (the ink's centroid row per column) and a width profile (the ink's vertical spread
per column); the record's *template* is the per-column median of both over all of its beats
(a property of the unlabelled recording, like the record-mean RR: no label is used). Six
numbers per beat, :data:`MORPHOLOGY_FEATURES`: the correlation of the beat's waveform with the
template over the QRS region (the central 17 columns, about ±150 ms) and over the whole
window, the mean absolute waveform difference over the QRS region (rows / image side), the
QRS region's ink spread relative to the template's (a wide QRS is ventricular), the QRS
region's ink mass relative to the image mean, and the correlation of the width profiles over
the QRS region. A ventricular beat differs from its own patient's template whatever that
patient's normal beat looks like; a supraventricular beat matches it and comes early.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from heartcv.data.datasets import mitbih
from heartcv.data.synthetic.beats import (
    BEAT_CLASSES, generate_beat_images, render_beat_image, synthetic_rr,
)
from heartcv.files import atomic_path

RR_FEATURES = ("pre_rr/mean_rr", "post_rr/mean_rr", "local_rr/mean_rr", "pre_rr/post_rr",
               "pre_rr/local_rr", "mean_rr_s")
MORPHOLOGY_FEATURES = ("qrs_corr", "window_corr", "qrs_abs_diff", "qrs_spread_ratio",
                       "qrs_ink", "qrs_spread_corr")
#: the QRS region of a beat window, as a fraction of the image width (centre +- 0.133)
_QRS = (0.375, 0.64)
CACHE_VERSION = 1
_CLIP = 5.0


def rr_matrix(pre, post, local, mean):
    """The :data:`RR_FEATURES` matrix (N, 6) float32 from intervals in seconds.

    ``pre``, ``post``, ``local`` per beat; ``mean`` per beat (its record's mean RR). Ratios
    are clipped to [0, 5] (a pause of more than five mean beats carries no more information).
    """
    pre, post, local, mean = (np.asarray(a, np.float64) for a in (pre, post, local, mean))
    if not (pre.shape == post.shape == local.shape == mean.shape) or pre.ndim != 1:
        raise ValueError(f"Expected 1-D interval arrays of one length. Received shapes "
                         f"{pre.shape}, {post.shape}, {local.shape}, {mean.shape}")
    for name, a in (("pre", pre), ("post", post), ("local", local), ("mean", mean)):
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(f"Expected positive finite `{name}` RR intervals. Received: "
                             f"min={np.min(a) if a.size else None}")
    cols = [pre / mean, post / mean, local / mean, pre / post, pre / local]
    out = np.stack([np.clip(c, 0.0, _CLIP) for c in cols] + [mean], axis=1)
    return out.astype(np.float32)


def rr_intervals(samples, fs, local_beats=10):
    """Pre-RR, post-RR, local average RR and the mean RR (s) of one record's beats.

    Args:
        samples: sorted R-peak samples of *every* annotated beat of the record.
        fs: sampling rate (Hz).
        local_beats: the local average is the mean of the ``local_beats`` RR intervals centred
            on the beat (fewer at the record's ends).

    Returns:
        ``(pre, post, local, mean)``, each (K,) float64 in seconds. The first beat's pre-RR is
        its post-RR and the last beat's post-RR its pre-RR.
    """
    s = np.asarray(samples, np.float64)
    if s.ndim != 1 or s.size < 2 or np.any(np.diff(s) <= 0):
        raise ValueError(f"Expected >= 2 strictly increasing beat samples. Received: "
                         f"{s.size} samples")
    rr = np.diff(s) / float(fs)  # rr[i] = beat i+1 - beat i
    pre = np.concatenate([[rr[0]], rr])
    post = np.concatenate([rr, [rr[-1]]])
    half = max(1, int(local_beats) // 2)
    c = np.concatenate([[0.0], np.cumsum(pre)])
    idx = np.arange(len(pre))
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half, len(pre))
    local = (c[hi] - c[lo]) / (hi - lo)
    mean = np.full(len(pre), rr.mean())
    return pre, post, local, mean


def rr_features(samples, fs, local_beats=10):
    """:data:`RR_FEATURES` (K, 6) of one record's beats (see :func:`rr_intervals`)."""
    return rr_matrix(*rr_intervals(samples, fs, local_beats))


def _profiles(images):
    """(waveform, spread, mass) per column of black-on-white beat images (n, H, W[, 1])."""
    ink = (255.0 - np.asarray(images, np.float32).reshape(len(images), *np.shape(images)[1:3]))
    ink /= 255.0
    rows = np.arange(ink.shape[1], dtype=np.float32)[None, :, None]
    mass = ink.sum(axis=1) + 1e-6
    wave = (ink * rows).sum(axis=1) / mass
    spread = np.sqrt(np.maximum((ink * rows ** 2).sum(axis=1) / mass - wave ** 2, 0.0))
    return wave, spread, mass


def _ncc(a, b):
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1) + 1e-9)


def morphology_features(images, record):
    """:data:`MORPHOLOGY_FEATURES` (n, 6) float32: each beat against its record's template.

    Args:
        images: (n, H, W) or (n, H, W, 1) uint8 beat images, black trace on white (as
            :func:`load_mitdb` and :func:`synthetic_set` make them).
        record: (n,) record of each beat; the template of a record is the per-column median
            of its beats' waveforms and ink spreads (see the module docstring). Only images
            are used, never labels.

    The images are processed one record at a time (memory stays a few record's worth).
    """
    images = np.asarray(images)
    record = np.asarray(record).astype(str)
    if images.ndim not in (3, 4) or images.ndim == 4 and images.shape[-1] != 1:
        raise ValueError(f"Expected grey beat images (n, H, W) or (n, H, W, 1). Received "
                         f"shape {images.shape}")
    if len(record) != len(images):
        raise ValueError(f"Expected one record per image. Received {len(record)} records for "
                         f"{len(images)} images")
    w = images.shape[2]
    c = slice(int(round(_QRS[0] * w)), int(round(_QRS[1] * w)))
    out = np.empty((len(images), len(MORPHOLOGY_FEATURES)), np.float32)
    for r in np.unique(record):
        idx = np.flatnonzero(record == r)
        wave, spread, mass = _profiles(images[idx])
        tw, ts = np.median(wave, axis=0)[None], np.median(spread, axis=0)[None]
        tw_b, ts_b = np.broadcast_to(tw, wave.shape), np.broadcast_to(ts, spread.shape)
        out[idx] = np.stack([
            _ncc(wave[:, c], tw_b[:, c]),
            _ncc(wave, tw_b),
            np.abs(wave[:, c] - tw[:, c]).mean(axis=1) / images.shape[1],
            spread[:, c].sum(axis=1) / (ts[:, c].sum() + 1e-6),
            mass[:, c].mean(axis=1) / (mass.mean(axis=1) + 1e-6),
            _ncc(spread[:, c], ts_b[:, c]),
        ], axis=1)
    return out


def context_features(arrays):
    """RR features and patient-relative morphology side by side, (n, 12) float32.

    :data:`RR_FEATURES` then :data:`MORPHOLOGY_FEATURES` (``arrays`` as :func:`load_mitdb`
    returns it); computed once and kept in ``arrays["context"]``.
    """
    if "context" not in arrays:
        morph = morphology_features(arrays["images"], arrays["record"])
        arrays["context"] = np.concatenate([arrays["rr"], morph], axis=1).astype(np.float32)
    return arrays["context"]


def _cache_key(root, size, render_size):
    return {"version": CACHE_VERSION, "root": str(Path(root).resolve()), "size": int(size),
            "render_size": int(render_size)}


def load_mitdb(root, *, size=64, render_size=128, cache=None, progress=True):
    """Every AAMI beat of the 48 MIT-BIH records as arrays (see the module docstring).

    Args:
        root: the folder holding ``NNN.dat/.hea/.atr``.
        size: image side.
        render_size: canvas side before resizing (line width ``render_size // 128`` px).
        cache: an ``.npz`` path: read when it exists with the same settings, written otherwise.
        progress: print one line per record.

    Returns:
        a dict of arrays (``images, labels, rr, record, sample, split_intra, split_inter``) and
        ``meta`` (settings, seconds taken).
    """
    key = _cache_key(root, size, render_size)
    if cache is not None and Path(cache).is_file():
        with np.load(cache, allow_pickle=False) as z:
            if json.loads(str(z["key"])) == key:
                out = {k: z[k] for k in z.files if k != "key"}
                out["meta"] = {**key, "cache": str(cache), "from_cache": True}
                return out
    start = time.perf_counter()
    table = mitbih.beat_table(root, mitbih.RECORDS)
    table["split_intra"] = mitbih.protocol_split(table, "intra", test_fraction=0.2, seed=0)
    table["split_inter"] = mitbih.protocol_split(table, "inter")
    line = max(1, int(round(render_size / 128)))
    parts = {k: [] for k in ("images", "labels", "rr", "record", "sample", "split_intra",
                             "split_inter")}
    for record, beats in table.groupby("record", sort=False):
        win = mitbih.record_beat_windows(root, record, beats=beats)
        # RR from every annotated beat of the record, including those too near an end to
        # have a window
        feats = rr_features(beats["sample"].to_numpy(), win.fs)
        pos = {s: i for i, s in enumerate(beats["sample"].to_numpy())}
        keep = np.array([pos[s] for s in win.beats["sample"].to_numpy()], np.int64)
        imgs = np.empty((len(win.signals), size, size, 1), np.uint8)
        for i, sig in enumerate(win.signals):
            imgs[i, ..., 0] = render_beat_image(sig, render_size, size, line)[..., 0]
        b = win.beats
        parts["images"].append(imgs)
        parts["labels"].append(np.array([BEAT_CLASSES.index(c) for c in b["aami"]], np.int64))
        parts["rr"].append(feats[keep])
        parts["record"].append(b["record"].to_numpy().astype("U3"))
        parts["sample"].append(b["sample"].to_numpy(np.int64))
        parts["split_intra"].append(b["split_intra"].to_numpy().astype("U5"))
        parts["split_inter"].append(b["split_inter"].to_numpy().astype("U5"))
        if progress:
            print(f"  record {record}: {len(b)} beats ({time.perf_counter() - start:.0f} s)",
                  flush=True)
    out = {k: np.concatenate(v) for k, v in parts.items()}
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, key=json.dumps(key), **out)
    out["meta"] = {**key, "cache": None if cache is None else str(cache), "from_cache": False,
                   "seconds": round(time.perf_counter() - start, 1)}
    return out


def synthetic_set(n_per_class=120, *, n_patients=10, size=64, render_size=128, seed=0):
    """Synthetic beats in the layout of :func:`load_mitdb` (``--quick``; no data needed).

    Beats of :func:`heartcv.data.synthetic.beats.generate_beat_images` are dealt round-robin to
    ``n_patients`` pseudo-records ``"s00"``...; RR features come from each beat's own
    coupling interval (:func:`heartcv.data.synthetic.beats.synthetic_rr`). ``split_intra`` is a
    seeded 80/20 split by beat; ``split_inter`` puts the first 60% of the pseudo-records in
    ``train`` and the rest in ``test``.
    """
    d = generate_beat_images(n_per_class, size=size, seed=seed, render_size=render_size)
    n = len(d["labels"])
    rng = np.random.default_rng([int(seed), 7])
    order = rng.permutation(n)
    patient = np.empty(n, np.int64)
    patient[order] = np.arange(n) % n_patients
    record = np.array([f"s{p:02d}" for p in patient])
    rr = rr_matrix(*synthetic_rr(d, patient, seed=seed))
    split_intra = np.where(rng.random(n) < 0.2, "test", "train")
    n_train = max(1, int(round(0.6 * n_patients)))
    split_inter = np.where(patient < n_train, "train", "test")
    return {"images": d["images"][..., :1].copy(), "labels": d["labels"], "rr": rr,
            "record": record, "sample": np.arange(n, dtype=np.int64),
            "split_intra": split_intra, "split_inter": split_inter,
            "meta": {"synthetic": True, "n_per_class": int(n_per_class),
                     "n_patients": int(n_patients), "size": int(size), "seed": int(seed)}}

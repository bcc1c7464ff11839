"""Synthetic single-beat ECG images of the five AAMI classes (F, N, Q, S, V).

The MIT-BIH beat-image paper (Le et al., 2021) trains on the Kaggle "ECG images" set, where
every MIT-BIH beat was plotted as one trace on a plain white background, saved at 256 x 256 and
resized to 128 x 128 with ``cv2.resize``. This module makes beats of the same five classes with
the sum-of-Gaussians wave model of :mod:`heartcv.data.synthetic.ecg` (one MLII-like lead at the
MIT-BIH rate of 360 Hz) and renders them the same way with :func:`render_beat_image`, which also
renders real MIT-BIH beat windows.

Each sample is a 1.2 s window centred on the beat's R peak (432 samples), so that the preceding
beat shows how early the beat came. Class morphology (AAMI EC57 grouping; Goldberger et al.,
2018):

* ``N`` normal: P wave, PR 0.12-0.20 s, narrow QRS (about 80-100 ms), upright T, preceded by a
  beat one normal RR (0.65-1.1 s) earlier.
* ``S`` supraventricular premature: early (coupling 55-80 % of RR), abnormal P (inverted, low
  or absent as in junctional beats, PR 0.08-0.14 s), narrow QRS as N, normal T.
* ``V`` ventricular: early (45-70 % of RR), no P, wide (120-200 ms), large and notched QRS of
  either polarity, broad T opposite to the QRS.
* ``F`` fusion of ventricular and normal: on time or slightly early, P with short PR, QRS and T
  a weighted mixture of the N and V shapes (width between the two).
* ``Q`` paced (and unclassifiable): pacing spike (2-3 ms, 0.6-1.6 mV) followed by a wide
  LBBB-like QRS with discordant T, regular paced rate 60-80 bpm, an atrial spike and P in
  dual-chamber pacing.

References:
    Le, X. V., Le, X. V., & Vu, H. T. (2021). Classification of ECG images by deep learning to
    support the diagnosis of cardiovascular diseases. Quy Nhon University Journal of Science.
    ANSI/AAMI EC57:2012, Testing and reporting performance results of cardiac rhythm and
    ST segment measurement algorithms.
    Moody, G. B., & Mark, R. G. (2001). The impact of the MIT-BIH Arrhythmia Database. IEEE EMB
    Magazine, 20(3), 45-50.
"""

import cv2
import numpy as np

from heartcv.data.synthetic.ecg import add_wave, check_classes, check_int

#: AAMI classes in the label order of the beat-image paper (0..4 = F, N, Q, S, V).
BEAT_CLASSES = ("F", "N", "Q", "S", "V")
BEAT_FS = 360
_HALF = 216  # samples each side of the R peak: 1.2 s window


def _normal_waves(rng, scale, rr=0.85):
    """Waves ``(amp, center_s, sigma_left_s, sigma_right_s)`` of a normal MLII beat."""
    r = rng.uniform(0.9, 1.8) * scale
    t_end = rng.uniform(0.38, 0.44) * np.sqrt(rr) - 0.04  # Bazett QT, from the R peak
    return {
        "P": (rng.uniform(0.1, 0.25), -0.035 - rng.uniform(0.13, 0.19) + 0.05, 0.02, 0.02),
        "Q": (-rng.uniform(0.03, 0.15), -0.022, 0.007, 0.007),
        "R": (r, 0.0, rng.uniform(0.008, 0.011), rng.uniform(0.008, 0.011)),
        "S": (-rng.uniform(0.1, 0.4), 0.023, 0.008, 0.008),
        "T": (rng.uniform(0.15, 0.45), t_end - 0.08, 0.055, 0.035),
    }


def _ventricular_waves(rng, scale, width=None, p_positive=0.5):
    """Wide, bizarre QRS without P and a discordant broad T."""
    sign = 1.0 if rng.random() < p_positive else -1.0
    amp = sign * rng.uniform(1.0, 2.5) * scale
    sig = rng.uniform(0.025, 0.04) if width is None else width
    return {
        "R": (amp, 0.0, sig, sig * rng.uniform(1.0, 1.3)),
        "R2": (-0.35 * amp * rng.uniform(0.5, 1.2), 2.4 * sig, sig * 0.8, sig * 0.8),
        "notch": (0.2 * amp * rng.uniform(-1, 1), 0.5 * sig, 0.012, 0.012),
        "T": (-amp * rng.uniform(0.25, 0.45), 0.25 + 2 * sig, 0.07, 0.05),
    }


def _add(sig, t, t_r, waves):
    for amp, center, sl, sr in waves.values():
        add_wave(sig, t, t_r, amp, center, sl, sr)


def _beat_signal(rng, cls):
    """One 1.2 s window (mV) centred on a beat of AAMI class ``cls``."""
    t = (np.arange(2 * _HALF) - _HALF) / BEAT_FS
    sig = np.zeros_like(t)
    scale = rng.uniform(0.7, 1.3)
    rr = rng.uniform(0.65, 1.1)
    normal = _normal_waves(rng, scale, rr)
    prev_waves = _normal_waves(np.random.default_rng(rng.integers(2**32)), scale, rr)
    if cls == "N":
        _add(sig, t, 0.0, normal)
        prev = -rr
    elif cls == "S":
        waves = dict(normal)
        kind = rng.choice(["inverted", "low", "absent"], p=[0.4, 0.35, 0.25])
        p_amp, _, ps, _ = normal["P"]
        pr = rng.uniform(0.08, 0.14)
        if kind == "absent":  # junctional: P hidden in the QRS
            waves.pop("P")
        else:
            amp = -p_amp if kind == "inverted" else 0.4 * p_amp
            waves["P"] = (amp, -0.035 - pr + 0.045, ps, ps)
        _add(sig, t, 0.0, waves)
        prev = -rr * rng.uniform(0.55, 0.8)
    elif cls == "V":
        _add(sig, t, 0.0, _ventricular_waves(rng, scale))
        prev = -rr * rng.uniform(0.45, 0.7)
    elif cls == "F":
        alpha = rng.uniform(0.25, 0.6)  # share of the normal activation
        v = _ventricular_waves(rng, scale, width=rng.uniform(0.02, 0.03), p_positive=0.75)
        v.pop("notch")
        p_amp, _, ps, _ = normal["P"]
        _add(sig, t, 0.0, {"P": (p_amp, -0.035 - rng.uniform(0.1, 0.14) + 0.05, ps, ps)})
        _add(sig, t, 0.0, {k: (a * alpha, c, sl, sr) for k, (a, c, sl, sr) in normal.items()
                           if k != "P"})
        _add(sig, t, 0.0, {k: (a * (1 - alpha), c, sl, sr) for k, (a, c, sl, sr) in v.items()})
        prev = -rr * rng.uniform(0.88, 1.0)
    elif cls == "Q":
        rr = rng.uniform(0.75, 1.0)  # paced 60-80 bpm
        width = rng.uniform(0.03, 0.045)
        spike = rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.6)
        paced = {"spike": (spike, -2.2 * width - 0.012, 0.002, 0.002)}
        v = _ventricular_waves(rng, scale, width=width)
        main = abs(v["R"][0]) * rng.choice([-1.0, 1.0], p=[0.6, 0.4])
        paced["R"] = (main,) + v["R"][1:]
        paced["R2"] = (-0.2 * main,) + v["R2"][1:]
        paced["T"] = (-0.35 * main,) + v["T"][1:]
        if rng.random() < 0.4:  # dual-chamber: atrial spike and paced P wave
            paced["aspike"] = (0.6 * spike, -0.2, 0.002, 0.002)
            paced["P"] = (normal["P"][0], -0.14, 0.02, 0.02)
        _add(sig, t, 0.0, paced)
        prev_waves = paced
        prev = -rr
    else:  # pragma: no cover - guarded by check_classes
        raise ValueError(f"Unknown beat class. Received: cls={cls!r}")
    # the preceding beat (normal; paced for Q), partly inside the window
    _add(sig, t, prev, prev_waves)
    # baseline wander and noise
    wander = 2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 2 * np.pi)
    sig += rng.uniform(0.0, 0.08) * np.sin(wander)
    sig += np.convolve(rng.normal(0.0, rng.uniform(0.004, 0.015), t.size), np.ones(3) / 3, "same")
    return sig.astype(np.float32), float(-prev), float(rr)


def render_beat_image(signal, render_size=256, size=128, line_width=2, *, y_range=None,
                      color=(0, 0, 0), margin=0.04):
    """Plot a 1-D signal window as one anti-aliased trace on a white square, then resize.

    The rendering of the Kaggle MIT-BIH beat images (a trace on a plain white background,
    ``render_size`` square, resized to ``size`` with ``cv2.resize``), with OpenCV polylines.
    The whole window spans the width; the vertical axis spans ``y_range`` or, by default, the
    window's own minimum to maximum, with a ``margin`` fraction left blank on every side.

    Args:
        signal: 1-D array (any length >= 2, finite), e.g. one beat window in mV.
        render_size: Side of the drawing canvas in pixels.
        size: Side of the returned image (``cv2.INTER_AREA`` when smaller).
        line_width: Trace thickness in pixels on the canvas.
        y_range: Optional ``(low, high)`` fixed vertical limits; values outside are clipped.
        color: RGB trace colour.
        margin: Blank border as a fraction of the side, in [0, 0.5).

    Returns:
        uint8 RGB array of shape ``(size, size, 3)``.
    """
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim != 1 or signal.size < 2:
        raise ValueError(
            f"Expected a 1-D `signal` of length >= 2. Received: signal.shape={signal.shape}"
        )
    if not np.all(np.isfinite(signal)):
        raise ValueError("Expected a finite `signal`. Received: signal with NaN or inf values")
    render_size = check_int("render_size", render_size, 8)
    size = check_int("size", size, 1)
    line_width = check_int("line_width", line_width, 1)
    if not 0 <= margin < 0.5:
        raise ValueError(f"Expected `margin` in [0, 0.5). Received: margin={margin}")
    if y_range is None:
        lo, hi = float(np.min(signal)), float(np.max(signal))
    else:
        lo, hi = (float(v) for v in y_range)
    if not hi >= lo:
        raise ValueError(
            f"Expected `y_range` as (low, high) with high >= low. Received: y_range={y_range}"
        )
    span = (render_size - 1) * (1 - 2 * margin)
    x = (render_size - 1) * margin + np.linspace(0.0, 1.0, signal.size) * span
    if hi - lo < 1e-12:
        y = np.full_like(x, (render_size - 1) / 2)
    else:
        y = (render_size - 1) * margin + (hi - np.clip(signal, lo, hi)) / (hi - lo) * span
    img = np.full((render_size, render_size, 3), 255, np.uint8)
    pts = np.round(np.stack([x, y], axis=1) * 256).astype(np.int32)
    cv2.polylines(img, [pts], False, tuple(int(c) for c in color), line_width, cv2.LINE_AA, 8)
    if size != render_size:
        interp = cv2.INTER_AREA if size < render_size else cv2.INTER_LINEAR
        img = cv2.resize(img, (size, size), interpolation=interp)
    return img


def generate_beat_images(n_per_class, *, size=128, classes=BEAT_CLASSES, seed=0, render_size=256):
    """Synthetic single-beat images of the AAMI classes, rendered like the Kaggle set.

    Beat ``j`` of class ``c`` comes from a generator seeded with ``(seed, class index in
    BEAT_CLASSES, j)``, so it does not change with ``n_per_class`` or the other classes asked for.

    Args:
        n_per_class: Beats per class.
        size: Output image side (the paper feeds 128 x 128 images).
        classes: Subset/order of :data:`BEAT_CLASSES`; labels index this tuple.
        seed: Seed of the whole set.
        render_size: Side of the canvas the trace is drawn on before resizing (256 in the set).

    Returns:
        A dict with ``images`` (N, size, size, 3) uint8 RGB, ``labels`` (N,) int64 (class-major
        order), ``class_names``, ``signals`` (N, 432) float32 in mV, ``fs`` (360),
        ``r_index`` (216, the R peak's sample in every window), ``pre_rr`` (N,) the coupling
        interval in seconds (the preceding beat's distance) and ``base_rr`` (N,) the
        underlying sinus RR in seconds (see :func:`synthetic_rr`).
    """
    n_per_class = check_int("n_per_class", n_per_class, 1)
    size = check_int("size", size, 1)
    render_size = check_int("render_size", render_size, 8)
    classes = check_classes(classes, BEAT_CLASSES)
    n = n_per_class * len(classes)
    images = np.empty((n, size, size, 3), np.uint8)
    signals = np.empty((n, 2 * _HALF), np.float32)
    labels = np.repeat(np.arange(len(classes)), n_per_class)
    pre_rr = np.empty(n, np.float64)
    base_rr = np.empty(n, np.float64)
    line_width = max(1, int(round(render_size / 128)))
    for k, cls in enumerate(classes):
        for j in range(n_per_class):
            i = k * n_per_class + j
            rng = np.random.default_rng([int(seed), BEAT_CLASSES.index(cls), j])
            signals[i], pre_rr[i], base_rr[i] = _beat_signal(rng, cls)
            images[i] = render_beat_image(signals[i], render_size, size, line_width)
    return {
        "images": images,
        "labels": labels.astype(np.int64),
        "class_names": classes,
        "signals": signals,
        "fs": BEAT_FS,
        "r_index": _HALF,
        "pre_rr": pre_rr,
        "base_rr": base_rr,
    }


def synthetic_rr(beats, patient, *, seed=0):
    """Pre-RR, post-RR, local average RR and record mean RR (s) for synthetic beats.

    ``beats`` is a :func:`generate_beat_images` result, ``patient`` (N,) ints grouping its
    beats into pseudo-records. Each beat's pre-RR is the coupling interval it was drawn with
    (``pre_rr``: the preceding beat's distance in its window); its underlying sinus RR is
    ``base_rr``. The post-RR follows the textbook rules: a full compensatory pause after a
    ventricular (and fusion) beat (pre + post = 2 x base), a reset sinus node after a
    supraventricular one (post = base), the base RR otherwise; each with 3% jitter. The local
    average is the base RR (jitter 3%) and the record mean the mean base RR of the beat's
    pseudo-record.

    Returns:
        ``(pre, post, local, mean)`` float64 arrays (N,).
    """
    labels = np.asarray(beats["labels"])
    names = tuple(beats["class_names"])
    pre = np.asarray(beats["pre_rr"], np.float64)
    base = np.asarray(beats["base_rr"], np.float64)
    patient = np.asarray(patient)
    if patient.shape != labels.shape:
        raise ValueError(f"Expected one `patient` per beat ({labels.shape}). Received: "
                         f"patient.shape={patient.shape}")
    rng = np.random.default_rng([int(seed), 11])
    jitter = lambda: 1.0 + rng.normal(0.0, 0.03, labels.size)  # noqa: E731
    cls = np.array(names)[labels]
    post = np.where(np.isin(cls, ("V", "F")), np.maximum(2 * base - pre, 0.3 * base), base)
    post = post * jitter()
    local = base * jitter()
    mean = np.zeros_like(base)
    for p in np.unique(patient):
        mean[patient == p] = base[patient == p].mean()
    return pre, post, local, mean

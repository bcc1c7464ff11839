"""Synthetic 12-lead ECG printouts in the layout of the Khan et al. sheets, five classes.

Signal model
------------
Every beat is a sum of Gaussian waves (P, Q, R, S, T; T asymmetric) placed at the beat's R time,
the closed form of the ECGSYN dynamical model of McSharry et al. (2003), evaluated directly in
time (milliseconds per sheet instead of an ODE solve per lead). Wave amplitudes are in mV:

* limb leads come from one frontal-plane dipole per wave (amplitude, axis), projected on I (0 deg)
  and II (60 deg); III, aVR, aVL and aVF are then derived by Einthoven's and Goldberger's
  equations (III = II - I, aVR = -(I + II)/2, aVL = I - II/2, aVF = II - I/2), so the limb leads
  of every sheet are mutually consistent, as on a real recorder;
* precordial leads follow a table of typical adult amplitudes (r/S in V1-V2, transition at
  V3-V4, qR in V5-V6), scaled per patient, with the precordial transition shifted at random.

Intervals: PR 0.12-0.20 s, QRS about 0.08 s, QT from Bazett's formula QT = QTc * sqrt(RR) with
QTc drawn per class. Baseline wander, muscle noise and (for atrial fibrillation) f-waves are
added to I, II and V1-V6 and derived for the other limb leads.

``neurokit2.ecg_simulate(method="multileads")`` (0.2.13) was examined as the source and not used:
it rescales every lead independently to the range [-0.4, 1.2] (so no lead is in mV and aVR is
upright), its lead II has a QRS smaller than its T wave, and one 10 s record of 12 leads takes
about 0.65 s to integrate.

Classes (the five of the ECG-image paper; signs after the cited sources)
-------------------------------------------------------------------------
* ``normal``: sinus rhythm 58-95 bpm with respiratory sinus arrhythmia (RR CV about 2-4 %),
  QTc 0.38-0.43 s.
* ``abnormal_heartbeat``: one of atrial fibrillation (irregularly irregular RR, no P waves,
  4-8 Hz fibrillatory waves), frequent premature ventricular contractions (early, wide
  0.14-0.16 s bizarre QRS without P, discordant T, full compensatory pause; sometimes bigeminy)
  or premature atrial contractions (early, abnormally shaped P, narrow QRS, non-compensatory
  pause) (Goldberger et al., 2018, chapters 14-16).
* ``mi`` (acute ST-elevation MI): new J-point ST elevation of 0.15-0.45 mV in contiguous leads of
  one territory, merging into a tall (hyperacute) T, with reciprocal ST depression: inferior
  (II, III, aVF up; I, aVL down), anterior (V1-V4 up; inferior leads slightly down) or lateral
  (I, aVL, V5, V6 up; III, aVF down). Thresholds after the Fourth Universal Definition of MI
  (Thygesen et al., 2018): >= 0.1 mV in two contiguous leads, >= 0.2 mV in V2-V3.
* ``history_mi`` (old MI): pathological Q waves (>= 40 ms wide, >= 0.2 mV deep) and loss of R
  amplitude in the infarct territory, inverted T waves there, isoelectric ST segment
  (Thygesen et al., 2018, Q-wave criteria).
* ``covid``: the ECG findings reported in COVID-19 patients: sinus tachycardia 100-130 bpm,
  low QRS voltage (limb-lead QRS mostly < 0.5 mV), non-specific ST-T changes (flattened or
  inverted T waves, slight lateral ST depression) and QTc prolongation to 0.46-0.52 s
  (Long et al., 2020; Bergamaschi et al., 2021; Bessière et al., 2020).

References:
    McSharry, P. E., Clifford, G. D., Tarassenko, L., & Smith, L. A. (2003). A dynamical model
    for generating synthetic electrocardiogram signals. IEEE TBME, 50(3), 289-294.
    Thygesen, K., et al. (2018). Fourth Universal Definition of Myocardial Infarction.
    Circulation, 138(20), e618-e651.
    Goldberger, A. L., Goldberger, Z. D., & Shvilkin, A. (2018). Goldberger's Clinical
    Electrocardiography (9th ed.). Elsevier.
    Long, B., Brady, W. J., Bridwell, R. E., et al. (2020). Electrocardiographic manifestations of
    COVID-19. Am J Emerg Med, 41, 96-103.
    Bergamaschi, L., et al. (2021). The value of ECG changes in risk stratification of COVID-19
    patients. Ann Noninvasive Electrocardiol, 26(3), e12815.
    Bessière, F., et al. (2020). Assessment of QT intervals in a case series of patients with
    COVID-19 infection treated with hydroxychloroquine alone or with azithromycin in an ICU.
    JAMA Cardiol, 5(9), 1067-1069.
    Khan, A. H., Hussain, M., & Malik, M. K. (2021). ECG Images dataset of Cardiac and COVID-19
    Patients. Data in Brief, 34, 106762.
"""


import cv2
import numpy as np

from heartcv.data.datasets import ecg_khan as ecg_layout
from heartcv.registry import did_you_mean

#: Classes of the five-class ECG-image paper, in label order.
ECG_CLASSES = ("normal", "abnormal_heartbeat", "mi", "history_mi", "covid")
#: Order of the 12 leads in the returned ``signals``.
LEADS12 = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
FS = 500  # Hz
DURATION = 10.0  # s
PX_PER_MM = 1975.0 / 250.0  # the 10 s rhythm strip spans columns 150:2125 at 25 mm/s
PX_PER_S = 25.0 * PX_PER_MM
PX_PER_MV = 10.0 * PX_PER_MM
_X0 = 150  # column of t = 0 on the reference sheet

# Precordial amplitude tables (mV) of a normal adult, V1..V6.
_PRE_P = np.array([0.06, 0.08, 0.08, 0.08, 0.08, 0.07])
_PRE_Q = np.array([0.0, 0.0, 0.0, -0.04, -0.08, -0.10])
_PRE_R = np.array([0.25, 0.6, 1.0, 1.5, 1.4, 1.1])
_PRE_S = np.array([-1.0, -1.5, -0.9, -0.5, -0.25, -0.1])
_PRE_T = np.array([0.05, 0.45, 0.5, 0.45, 0.35, 0.25])
_IDX = {name: i for i, name in enumerate(LEADS12)}


def _limb(amplitude, axis_deg):
    """Six limb-lead amplitudes of a frontal dipole (Einthoven/Goldberger consistent)."""
    a = np.deg2rad(axis_deg)
    lead1 = amplitude * np.cos(a)
    lead2 = amplitude * np.cos(a - np.pi / 3)
    return np.array([lead1, lead2, lead2 - lead1, -(lead1 + lead2) / 2, lead1 - lead2 / 2,
                     lead2 - lead1 / 2])


def _leads(limb_amp, limb_axis, precordial):
    return np.concatenate([_limb(limb_amp, limb_axis), np.asarray(precordial, float)])


def _derive_limb(x):
    """Fill III, aVR, aVL, aVF (rows 2-5) of a (12, T) array from I and II (rows 0-1)."""
    x[2] = x[1] - x[0]
    x[3] = -(x[0] + x[1]) / 2
    x[4] = x[0] - x[1] / 2
    x[5] = x[1] - x[0] / 2
    return x


def add_wave(sig, t, t_r, amp, center, sigma_left, sigma_right=None):
    """Add one (asymmetric) Gaussian wave of peak ``amp`` at ``t_r + center`` to ``sig`` in place.

    ``sig`` is (L, T) or (T,); ``amp``, ``sigma_*`` are scalars or (L,) arrays (seconds, mV).
    Shared with :mod:`heartcv.data.synthetic.beats`.
    """
    sigma_right = sigma_left if sigma_right is None else sigma_right
    span = 4.0 * float(np.max([np.max(sigma_left), np.max(sigma_right)]))
    fs = 1.0 / (t[1] - t[0])
    i0 = max(int((t_r + center - span - t[0]) * fs), 0)
    i1 = min(int((t_r + center + span - t[0]) * fs) + 2, len(t))
    if i1 <= i0:
        return sig
    dt = t[i0:i1] - (t_r + center)
    if sig.ndim == 1:
        sigma = np.where(dt < 0, sigma_left, sigma_right)
        sig[i0:i1] += amp * np.exp(-0.5 * (dt / sigma) ** 2)
    else:
        sl = np.broadcast_to(np.asarray(sigma_left, float), (sig.shape[0],))[:, None]
        sr = np.broadcast_to(np.asarray(sigma_right, float), (sig.shape[0],))[:, None]
        sigma = np.where(dt[None, :] < 0, sl, sr)
        a = np.broadcast_to(np.asarray(amp, float), (sig.shape[0],))[:, None]
        sig[:, i0:i1] += a * np.exp(-0.5 * (dt[None, :] / sigma) ** 2)
    return sig


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def _patient(rng):
    """Per-patient normal morphology: wave amplitude vectors (12,) and widths."""
    r_axis = rng.uniform(25, 75)
    gain = rng.uniform(0.75, 1.25)
    shift = rng.uniform(-0.6, 0.6)  # precordial transition shift, in leads
    k = np.arange(6)

    def pre(table):
        return np.interp(k + shift, k, table)

    v1_t = rng.uniform(-0.12, 0.12)
    pre_t = pre(_PRE_T)
    pre_t[0] = v1_t
    return {
        "P": _leads(rng.uniform(0.12, 0.22), rng.uniform(40, 70), _PRE_P * rng.uniform(0.8, 1.2)),
        "Q": _leads(rng.uniform(0.06, 0.14), r_axis + 180 + rng.uniform(-30, 30), pre(_PRE_Q)),
        "R": _leads(rng.uniform(1.0, 1.6) * gain, r_axis, pre(_PRE_R) * gain),
        "S": _leads(rng.uniform(0.15, 0.35) * gain, r_axis + 220 + rng.uniform(-20, 20),
                    pre(_PRE_S) * gain),
        "T": _leads(rng.uniform(0.28, 0.42), r_axis - 10 + rng.uniform(-15, 15),
                    pre_t * rng.uniform(0.8, 1.2)),
        "ST": np.zeros(12),
        "q_sigma": np.full(12, 0.007),
        "pr": rng.uniform(0.13, 0.19),
        "r_axis": r_axis,
        "qtc": rng.uniform(0.38, 0.43),
    }


_TERRITORY_LEADS = {
    "inferior": ("II", "III", "aVF"),
    "anterior": ("V1", "V2", "V3", "V4"),
    "lateral": ("I", "aVL", "V5", "V6"),
}


def _apply_mi(m, rng):
    territory = str(rng.choice(list(_TERRITORY_LEADS)))
    a = rng.uniform(0.2, 0.45)
    if territory == "inferior":
        posterior = np.array([-0.05, -0.08, -0.05, 0.0, 0.05, 0.08]) * rng.uniform(0.0, 1.0)
        st = _leads(a, rng.uniform(95, 115), posterior)
    elif territory == "anterior":
        st = _leads(rng.uniform(0.04, 0.1), -90, np.array([0.6, 1.0, 1.0, 0.8, 0.35, 0.05]) * a)
    else:
        st = _leads(a * 0.8, rng.uniform(-35, -15), np.array([0, 0, 0.05, 0.3, 0.8, 0.9]) * a)
    m["ST"] = st
    m["T"] = m["T"] + 0.6 * st  # hyperacute T waves in the injured territory
    return {"territory": territory}


def _apply_history_mi(m, rng):
    territory = str(rng.choice(list(_TERRITORY_LEADS)))
    q_depth = rng.uniform(0.25, 0.5)
    if territory == "inferior":
        q = _leads(q_depth / 0.87, -90, np.zeros(6))
        m["R"] = m["R"] + _leads(0.7, -90, np.zeros(6))  # loss of inferior forces
        m["T"] = m["T"] + _leads(rng.uniform(0.45, 0.7), -90, np.zeros(6))
    elif territory == "anterior":
        q = _leads(0.0, 0.0, np.array([0.8, 1.0, 0.9, 0.6, 0.0, 0.0]) * -q_depth)
        m["R"][6:] *= np.array([0.15, 0.2, 0.35, 0.6, 1.0, 1.0])
        m["T"][6:] = np.array([-0.15, -0.35, -0.35, -0.25, -0.1, 0.1]) * rng.uniform(0.7, 1.3)
    else:
        q = _leads(q_depth, 180, np.array([0, 0, 0, 0, -0.6, -0.8]) * q_depth)
        m["R"] = m["R"] + _leads(0.5, 180, [0, 0, 0, -0.3, -0.6, -0.6])
        m["T"] = m["T"] + _leads(0.45, 180, [0, 0, 0, -0.2, -0.5, -0.45])
    deep = q < -0.1
    m["Q"] = np.where(deep, q, m["Q"] + q)
    m["q_sigma"] = np.where(deep, rng.uniform(0.012, 0.015), m["q_sigma"])  # 40-60 ms wide
    return {"territory": territory}


def _apply_covid(m, rng):
    # low voltage: the largest limb-lead R becomes 0.35-0.55 mV, chest leads scaled alike
    limb = rng.uniform(0.35, 0.55) / np.max(np.abs(m["R"][:6]))
    chest = rng.uniform(0.4, 0.6)
    for w in ("Q", "R", "S"):
        m[w][:6] *= limb
        m[w][6:] *= chest
    # non-specific ST-T: flat T with a wide QRS-T angle (inverted in some limb leads),
    # flattened or inverted precordial T, slight lateral ST depression
    t_axis = m["r_axis"] + rng.choice([-1, 1]) * rng.uniform(60, 150)
    m["T"][:6] = _limb(rng.uniform(0.08, 0.2), t_axis)
    t = m["T"][6:] * rng.uniform(0.25, 0.6)
    m["T"][6:] = np.where(rng.random(6) < 0.3, -0.6 * np.abs(t), t)
    a = rng.uniform(0.03, 0.07)
    m["ST"] = _leads(-a, rng.uniform(-30, 10), np.array([0, 0, 0, -0.3, -1.0, -1.0]) * a)
    m["qtc"] = rng.uniform(0.46, 0.52)
    return {}


def _rr_series(rng, hr, cv_rsa, duration):
    """Sinus beat times covering [-1.5, duration + 1] s with respiratory modulation."""
    rr0 = 60.0 / hr
    f_resp, phase = rng.uniform(0.18, 0.3), rng.uniform(0, 2 * np.pi)
    times = [-rng.uniform(0.0, rr0) - 1.0]
    while times[-1] < duration + 1.0:
        t = times[-1]
        rr = rr0 * (1 + cv_rsa * np.sqrt(2) * np.sin(2 * np.pi * f_resp * t + phase))
        times.append(t + rr * (1 + rng.normal(0, 0.008)))
    return np.array(times)


def _beats(rng, cls):
    """Beat list ``(t_r, kind)`` and record-level rhythm info for one class."""
    if cls == "covid":
        hr = rng.uniform(100, 130)
    else:
        hr = rng.uniform(58, 95)
    if cls != "abnormal_heartbeat":
        times = _rr_series(rng, hr, rng.uniform(0.015, 0.035), DURATION)
        return [(t, "sinus") for t in times], {"rhythm": "sinus"}
    rhythm = str(rng.choice(["af", "pvc", "pac"]))
    if rhythm == "af":
        rr_mean = 60.0 / rng.uniform(80, 130)
        t, beats = -rng.uniform(0.3, 1.2) - 0.5, []
        while t < DURATION + 1.0:
            beats.append((t, "af"))
            t += float(np.clip(rr_mean * (1 + rng.normal(0, 0.2)), 0.33, 2.0))
        return beats, {"rhythm": "af"}
    sinus = _rr_series(rng, rng.uniform(60, 90), rng.uniform(0.01, 0.02), DURATION)
    bigeminy = rhythm == "pvc" and rng.random() < 0.3
    p_ectopic = rng.uniform(0.2, 0.35)
    visible = np.flatnonzero((sinus > 0.3) & (sinus < DURATION - 0.5))
    forced = set()  # at least two ectopic beats on every sheet, three or more beats apart
    if len(visible) > 5:
        first = int(rng.choice(visible[1:-3]))
        forced = {first, int(rng.choice(visible[visible >= first + 3]))}
    beats, shift, last_ectopic, blocked = [], 0.0, -2, False
    for i in range(len(sinus) - 1):
        t, rr = sinus[i] + shift, sinus[i + 1] - sinus[i]
        if blocked:  # the sinus beat after a PVC falls in the refractory period
            blocked = False
            continue
        beats.append((t, "sinus"))
        ectopic = (i % 2 == 1) if bigeminy else (rng.random() < p_ectopic or i in forced)
        if ectopic and i - last_ectopic > 1 and i > 0:
            last_ectopic = i
            if rhythm == "pvc":
                beats.append((t + rr * rng.uniform(0.5, 0.62), "pvc"))
                blocked = True  # full compensatory pause
            else:
                coupling = rr * rng.uniform(0.6, 0.75)
                beats.append((t + coupling, "pac"))
                shift += coupling  # sinus node reset: next beat one RR after the PAC
    return beats, {"rhythm": "bigeminy" if bigeminy else rhythm}


def _ectopic(rng):
    """Wave amplitudes of a ventricular ectopic focus (LBBB- or RBBB-like pattern)."""
    if rng.random() < 0.5:  # right-ventricular origin: LBBB-like, inferior axis
        qrs = _leads(rng.uniform(1.0, 1.8), rng.uniform(60, 100),
                     [-1.2, -1.5, -0.8, 0.4, 1.0, 1.2])
    else:  # left-ventricular origin: RBBB-like, superior axis
        qrs = _leads(rng.uniform(1.0, 1.8), rng.uniform(-120, -60),
                     [1.0, 1.2, 0.8, 0.2, -0.6, -0.9])
    qrs[6:] *= rng.uniform(0.8, 1.4)
    return qrs


def simulate_12lead(rng, cls, duration=DURATION, fs=FS):
    """Simulate one 12-lead record of class ``cls`` (the signal part of one printout).

    Args:
        rng: A ``numpy.random.Generator``; the record is a function of its state.
        cls: One of :data:`ECG_CLASSES`.
        duration: Record length in seconds.
        fs: Sampling rate in Hz.

    Returns:
        ``(signals, info)``: float32 array ``(12, duration * fs)`` in mV, leads in
        :data:`LEADS12` order; dict with ``class``, ``rhythm`` (``sinus``, ``af``, ``pvc``,
        ``bigeminy`` or ``pac``), ``territory`` (MI classes), ``r_times_s`` (R times of the
        beats inside the record, ectopic ones included) and ``heart_rate_bpm``.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"Expected `rng` to be a numpy.random.Generator. Received: rng={rng!r}")
    check_classes((cls,), ECG_CLASSES, arg="cls")
    m = _patient(rng)
    info = {"class": cls}
    if cls == "mi":
        info.update(_apply_mi(m, rng))
    elif cls == "history_mi":
        info.update(_apply_history_mi(m, rng))
    elif cls == "covid":
        info.update(_apply_covid(m, rng))
    beats, rhythm = _beats(rng, cls)
    info.update(rhythm)
    t = np.arange(int(round(duration * fs))) / fs
    sig = np.zeros((12, t.size))
    pvc = _ectopic(rng)
    pac_p = _leads(rng.uniform(0.08, 0.16), rng.uniform(-100, -60), _PRE_P * -0.5)
    times = np.array([b[0] for b in beats])
    rr_mean = float(np.median(np.diff(times))) if len(times) > 1 else 60.0 / 75
    qt = m["qtc"] * np.sqrt(rr_mean)
    t_end = qt - 0.04
    tsr, tsl = 0.035 * rr_mean ** 0.25, 0.06 * rr_mean ** 0.25
    t_peak = t_end - 2.3 * tsr
    for t_r, kind in beats:
        if t_r < -0.8 or t_r > duration + 0.5:
            continue
        if kind == "pvc":
            add_wave(sig, t, t_r, pvc, 0.0, 0.03, 0.035)
            add_wave(sig, t, t_r, -0.35 * pvc, 0.075, 0.025)
            add_wave(sig, t, t_r, -0.3 * pvc, t_peak + 0.04, 0.07, 0.05)
            continue
        if kind == "sinus":
            add_wave(sig, t, t_r, m["P"], -0.035 - m["pr"] + 0.05, 0.02)
        elif kind == "pac":
            add_wave(sig, t, t_r, pac_p, -0.035 - 0.12 + 0.045, 0.018)
        wide = m["q_sigma"] > 0.0071  # pathological Q waves sit a little earlier
        add_wave(sig, t, t_r, np.where(wide, 0.0, m["Q"]), -0.022, 0.007)
        if wide.any():
            qs = float(m["q_sigma"].max())
            add_wave(sig, t, t_r, np.where(wide, m["Q"], 0.0), -0.015 - qs, qs)
        add_wave(sig, t, t_r, m["R"], 0.0, 0.0095)
        add_wave(sig, t, t_r, m["S"], 0.022, 0.008)
        add_wave(sig, t, t_r, m["T"], t_peak, tsl, tsr)
        if np.any(m["ST"]):
            i0, i1 = np.searchsorted(t, [t_r - 0.05, t_r + t_end + 0.2])
            dt = t[i0:i1] - t_r
            w = _sigmoid((dt - 0.045) / 0.005) * _sigmoid((t_peak + 0.03 - dt) / 0.03)
            sig[:, i0:i1] += m["ST"][:, None] * w[None, :]
    # noise on the eight independent leads, then derived limb leads
    noise = np.zeros_like(sig)
    for i in (0, 1, 6, 7, 8, 9, 10, 11):
        f = rng.uniform(0.1, 0.4, size=2)
        ph = rng.uniform(0, 2 * np.pi, size=2)
        noise[i] = rng.uniform(0.01, 0.05) * np.sin(2 * np.pi * f[0] * t + ph[0])
        noise[i] += rng.uniform(0.0, 0.03) * np.sin(2 * np.pi * f[1] * t + ph[1])
        emg = rng.normal(0.0, rng.uniform(0.004, 0.012), t.size)
        noise[i] += np.convolve(emg, np.ones(3) / 3, mode="same")
        if rhythm["rhythm"] == "af":  # fibrillatory waves, 4-8 Hz, irregular in size and rate
            ff = rng.uniform(4.0, 8.0)
            fa = rng.uniform(0.02, 0.05) * (1.6 if i in (1, 6) else 1.0)
            fa = fa * (0.7 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + ph[0]))
            phase = np.cumsum(rng.normal(0, 0.08, t.size))
            noise[i] += fa * np.sin(2 * np.pi * ff * t + phase)
    sig += _derive_limb(noise)
    info["r_times_s"] = times[(times >= 0) & (times < duration)].astype(np.float32)
    info["heart_rate_bpm"] = float(60.0 / rr_mean)
    return sig.astype(np.float32), info


# --------------------------------------------------------------------------- rendering

#: Rows of the sheet: leads (in ``LEADS12`` names) of each 2.5 s column, then the rhythm lead.
SHEET_ROWS = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
RHYTHM_LEAD = "II"
_GRIDS = {
    # (paper RGB, thin 1 mm line RGB, bold 5 mm line RGB)
    "pink": ((255, 252, 252), (246, 196, 196), (232, 128, 128)),
    "grey": ((255, 255, 255), (200, 200, 200), (140, 140, 140)),
}
_TEMPLATES = {}


def _baselines():
    """Baseline rows (reference sheet) of the three lead rows and of the rhythm strip."""
    boxes = ecg_layout.REFERENCE_BOXES
    rows = [boxes[4 * r][0] + 0.55 * (boxes[4 * r][1] - boxes[4 * r][0]) for r in range(3)]
    y0, y1 = boxes[12][:2]
    return rows + [y0 + 0.55 * (y1 - y0)]


def _template(grid):
    """Blank reference-size sheet: paper, mm grid, calibration pulses, lead labels, separators."""
    if grid in _TEMPLATES:
        return _TEMPLATES[grid]
    h, w = ecg_layout.REFERENCE_SHAPE
    paper, thin, bold = _GRIDS[grid]
    img = np.empty((h, w, 3), np.uint8)
    img[:] = paper
    top, bottom, left, right = 270, h - 60, 40, w - 40
    k_x = np.arange(np.ceil((left - _X0) / PX_PER_MM), np.floor((right - _X0) / PX_PER_MM) + 1)
    k_y = np.arange(np.ceil((top - 300) / PX_PER_MM), np.floor((bottom - 300) / PX_PER_MM) + 1)
    xs = np.round(_X0 + k_x * PX_PER_MM).astype(int)
    ys = np.round(300 + k_y * PX_PER_MM).astype(int)
    region = img[top:bottom + 1, left:right + 1]
    if grid == "grey":  # dotted grid (a dot per mm, darker on 5 mm lines), as on the Khan copies
        on_x, on_y = k_x.astype(int) % 5 == 0, k_y.astype(int) % 5 == 0
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                yy = np.clip(ys + dy - top, 0, bottom - top)
                xx = np.clip(xs + dx - left, 0, right - left)
                region[np.ix_(yy, xx)] = thin
                region[np.ix_(yy[on_y], xx)] = bold
                region[np.ix_(yy, xx[on_x])] = bold
    else:
        for k, x in zip(k_x.astype(int), xs):
            region[:, x - left] = bold if k % 5 == 0 else thin
        for k, y in zip(k_y.astype(int), ys):
            region[y - top, :] = bold if k % 5 == 0 else thin
        for k, x in zip(k_x.astype(int), xs):  # bold verticals over thin horizontals
            if k % 5 == 0:
                region[:, x - left] = bold
    ink = (25, 25, 25)
    seg = DURATION / 4 * PX_PER_S
    for r, base in enumerate(_baselines()):
        b = int(round(base))
        x1, top_mv = 78 + 0.2 * PX_PER_S, b - PX_PER_MV  # 1 mV for 0.2 s
        pulse = np.array([[60, b], [78, b], [78, top_mv], [x1, top_mv], [x1, b], [140, b]])
        cv2.polylines(img, [np.round(pulse * 16).astype(np.int32)], False, ink, 3, cv2.LINE_AA, 4)
        names = SHEET_ROWS[r] if r < 3 else (RHYTHM_LEAD,)
        for c, name in enumerate(names):
            x = _X0 + c * seg
            cv2.putText(img, name, (int(x) + 8, b - 36), cv2.FONT_HERSHEY_SIMPLEX, 1.0, ink, 2,
                        cv2.LINE_AA)
            if c > 0:
                xi = int(round(x))
                cv2.line(img, (xi, b - 110), (xi, b + 110), ink, 2, cv2.LINE_AA)
    cv2.putText(img, "25 mm/s   10 mm/mV   0.05-150 Hz   ~50 Hz", (left, h - 22),
                cv2.FONT_HERSHEY_SIMPLEX, 0.9, ink, 2, cv2.LINE_AA)
    img.setflags(write=False)
    _TEMPLATES[grid] = img
    return img


def render_ecg_sheet(signals, fs=FS, *, header=(), grid="pink", line_width=3):
    """Draw a 12-lead record (mV) on a 1572 x 2213 sheet in the Khan et al. layout.

    Three rows of four 2.5 s leads (each column shows its own quarter of the 10 s record, as a
    standard 3 x 4 sheet) and a 10 s lead-II rhythm strip, at 25 mm/s and 10 mm/mV on a 1 mm /
    5 mm grid, with calibration pulses, lead labels and a header text area.

    Args:
        signals: Array ``(12, T)`` in :data:`LEADS12` order, mV, 10 s at ``fs``.
        fs: Sampling rate in Hz.
        header: Lines of text printed in the header area.
        grid: ``"pink"`` (red/pink mm paper) or ``"grey"`` (dotted grey grid of the re-saved
            Khan copies).
        line_width: Trace thickness in pixels on the reference sheet.

    Returns:
        uint8 RGB array of shape ``(1572, 2213, 3)``.
    """
    if grid not in _GRIDS:
        raise ValueError(f"Expected `grid` in {sorted(_GRIDS)}. Received: grid={grid!r}")
    signals = np.asarray(signals, dtype=np.float64)
    if signals.ndim != 2 or signals.shape[0] != 12:
        raise ValueError(
            f"Expected `signals` of shape (12, T). Received: signals.shape={signals.shape}"
        )
    img = _template(grid).copy()
    ink = (20, 20, 20)
    for i, text in enumerate(header):
        cv2.putText(img, str(text), (60, 70 + 48 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.1, ink, 2,
                    cv2.LINE_AA)
    n = signals.shape[1]
    quarter = n // 4
    x_all = _X0 + np.arange(n) / fs * PX_PER_S
    curves = []
    for r, base in enumerate(_baselines()):
        names = SHEET_ROWS[r] if r < 3 else (RHYTHM_LEAD,)
        for c, name in enumerate(names):
            sl = slice(0, n) if r == 3 else slice(c * quarter, (c + 1) * quarter + (c < 3))
            pts = np.stack([x_all[sl], base - signals[_IDX[name], sl] * PX_PER_MV], axis=1)
            curves.append(np.round(pts * 16).astype(np.int32))
    cv2.polylines(img, curves, False, ink, line_width, cv2.LINE_AA, 4)
    return img


def check_classes(classes, known, arg="classes"):
    if isinstance(classes, str) or not all(isinstance(c, str) for c in classes):
        raise TypeError(f"Expected `{arg}` to be a sequence of str. Received: {arg}={classes!r}")
    classes = tuple(classes)
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"Expected non-empty, distinct `{arg}`. Received: {arg}={classes!r}")
    for c in classes:
        if c not in known:
            hint = did_you_mean(c, known, ignore_case=True)
            raise ValueError(f"Unknown class {c!r}; expected one of {known}.{hint} "
                             f"Received: {arg}={classes!r}")
    return classes


def check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"Expected `{name}` to be an int. Received: {name}={value!r}")
    if value < minimum:
        raise ValueError(f"Expected `{name}` >= {minimum}. Received: {name}={value}")
    return int(value)


def generate_ecg_printouts(n, *, classes=ECG_CLASSES, height=1572, width=2213, seed=0,
                           grid="pink"):
    """Synthetic 12-lead ECG printouts of the five Khan et al. classes.

    Sheet ``i`` has class ``classes[i % len(classes)]`` and is drawn from its own generator
    seeded with ``(seed, i)``, so the first sheets do not change when ``n`` grows. Each sheet is
    drawn at 1572 x 2213 (the reference size of :mod:`heartcv.papers.ecg_images_5class.layout`) and then resized
    with area interpolation, so the relative lead-crop boxes fit it at any size. Memory is
    ``n * height * width * 3`` bytes (10.4 MB per full-size sheet).

    Args:
        n: Number of sheets.
        classes: Class names (subset/order of :data:`ECG_CLASSES`); labels index this tuple.
        height: Output sheet height in pixels.
        width: Output sheet width in pixels.
        seed: Seed of the whole set.
        grid: ``"pink"`` mm paper or ``"grey"`` dotted grid (see :func:`render_ecg_sheet`).

    Returns:
        A dict with ``images`` (N, H, W, 3) uint8 RGB, ``labels`` (N,) int64, ``class_names``
        (tuple), ``patient_id`` (N,) str, ``signals`` (N, 12, 5000) float32 in mV (leads in
        :data:`LEADS12` order), ``fs`` (500), ``lead_names`` and ``details`` (list of dicts per
        sheet: ``rhythm``, ``territory`` for MI classes, ``r_times_s``, ``heart_rate_bpm``).
    """
    n = check_int("n", n, 1)
    height = check_int("height", height, 16)
    width = check_int("width", width, 16)
    classes = check_classes(classes, ECG_CLASSES)
    if grid not in _GRIDS:
        raise ValueError(f"Expected `grid` in {sorted(_GRIDS)}. Received: grid={grid!r}")
    ref_h, ref_w = ecg_layout.REFERENCE_SHAPE
    images = np.empty((n, height, width, 3), np.uint8)
    signals = np.empty((n, 12, int(DURATION * FS)), np.float32)
    labels = np.arange(n) % len(classes)
    ids, details = [], []
    for i in range(n):
        rng = np.random.default_rng([int(seed), i])
        sig, info = simulate_12lead(rng, classes[labels[i]])
        pid = f"syn-ecg-{seed}-{i:05d}"
        age, sex = int(rng.integers(25, 85)), str(rng.choice(["M", "F"]))
        day = f"2021-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
        header = (f"ID: {pid}    Synthetic 12-lead ECG (heartcv)",
                  f"Age: {age} y    Sex: {sex}    Date: {day}",
                  "Speed: 25 mm/s    Limb: 10 mm/mV    Chest: 10 mm/mV")
        sheet = render_ecg_sheet(sig, FS, header=header, grid=grid)
        if (height, width) != (ref_h, ref_w):
            sheet = cv2.resize(sheet, (width, height), interpolation=cv2.INTER_AREA)
        images[i], signals[i] = sheet, sig
        ids.append(pid)
        details.append(info)
    return {
        "images": images,
        "labels": labels.astype(np.int64),
        "class_names": classes,
        "patient_id": np.array(ids),
        "signals": signals,
        "fs": FS,
        "lead_names": LEADS12,
        "details": details,
    }

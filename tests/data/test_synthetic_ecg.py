"""Synthetic 12-lead ECG printouts and single-beat images (heartcv.data.synthetic.ecg/beats)."""

import time

import numpy as np
import pytest

from heartcv.papers.ecg_images_5class.layout import crop_leads, lead_boxes, preprocess_lead
from heartcv.data.synthetic.beats import BEAT_CLASSES, generate_beat_images, render_beat_image
from heartcv.data.synthetic.ecg import (
    ECG_CLASSES,
    LEADS12,
    generate_ecg_printouts,
    render_ecg_sheet,
    simulate_12lead,
)

H, W = 393, 553  # quarter of the reference sheet
FS = 500
LEAD = {name: i for i, name in enumerate(LEADS12)}
TERRITORY = {"inferior": ("II", "III", "aVF"), "anterior": ("V2", "V3", "V4"),
             "lateral": ("I", "aVL", "V5", "V6")}
Q_OFFSETS = np.arange(-0.05, 0.0, 0.002)  # s before the R peak, where a Q wave lies


@pytest.fixture(scope="module")
def sheets():
    return generate_ecg_printouts(5, height=H, width=W, seed=3)


@pytest.fixture(scope="module")
def records():
    """Ten 12-lead records per class, signals only (no rendering)."""
    out = {}
    for cls in ECG_CLASSES:
        out[cls] = [simulate_12lead(np.random.default_rng([11, k]), cls) for k in range(10)]
    return out


def _r_peaks(sig):
    """R peaks detected on lead II by NeuroKit2, independently of the generator."""
    import neurokit2 as nk

    return nk.ecg_peaks(sig[LEAD["II"]], sampling_rate=FS)[1]["ECG_R_Peaks"]


def _per_beat(sig, r_times, offset, leads, ref=-0.06):
    """Mean over beats of each lead at ``R + offset`` minus the PR-segment level at ``R + ref``."""
    vals = []
    for r in r_times:
        b, j = int(round((r + ref) * FS)), int(round((r + offset) * FS))
        if b >= 0 and j < sig.shape[1]:
            vals.append([sig[LEAD[name], j] - sig[LEAD[name], b] for name in leads])
    return np.mean(vals, axis=0)


# ------------------------------------------------------------------ sheets


def test_shapes_dtypes_classes(sheets):
    n = 5
    assert sheets["images"].shape == (n, H, W, 3) and sheets["images"].dtype == np.uint8
    assert sheets["labels"].shape == (n,) and sheets["labels"].dtype.kind == "i"
    assert sheets["class_names"] == ECG_CLASSES
    assert sorted(sheets["labels"].tolist()) == list(range(5))
    assert sheets["signals"].shape == (n, 12, 5000) and sheets["signals"].dtype == np.float32
    assert sheets["fs"] == FS and tuple(sheets["lead_names"]) == LEADS12
    assert len(set(sheets["patient_id"].tolist())) == n


def test_deterministic_and_prefix_stable(sheets):
    again = generate_ecg_printouts(2, height=H, width=W, seed=3)
    np.testing.assert_array_equal(again["images"], sheets["images"][:2])
    np.testing.assert_array_equal(again["signals"], sheets["signals"][:2])
    other = generate_ecg_printouts(1, height=H, width=W, seed=4)
    assert not np.array_equal(other["signals"][0], sheets["signals"][0])


def test_every_lead_box_holds_trace_and_grid_is_red(sheets):
    for sheet in sheets["images"]:
        for (name, *_), crop in zip(lead_boxes(H, W), crop_leads(sheet)):
            grey = crop.astype(int).mean(axis=2)
            assert (grey < 100).sum() > 0.004 * grey.size, name  # dark trace pixels
        # grid: away from the trace, coloured pixels are red/pink (R above G and B)
        box = crop_leads(sheet)[0].astype(int)
        tinted = box[(box.max(axis=2) - box.min(axis=2)) > 15]
        assert len(tinted) > 0.02 * box.shape[0] * box.shape[1]
        assert np.all(tinted[:, 0] >= tinted[:, 1]) and np.all(tinted[:, 0] >= tinted[:, 2])
        assert tinted[:, 0].mean() > tinted[:, 1].mean() + 20
        # header area above the first lead row is not part of any crop and holds text
        assert (sheet[: lead_boxes(H, W)[0][1] // 2].mean(axis=2) < 128).any()


def test_trace_is_where_the_signal_says():
    """A 1 mV step in lead I at t = 1 s lifts the drawn trace by 10 mm (79 px) at that time."""
    sig = np.zeros((12, 5000), np.float32)
    sig[0, 500:] = 1.0
    sheet = render_ecg_sheet(sig)
    col_before, col_after = 150 + int(0.5 * 197.5), 150 + int(1.5 * 197.5)
    dark_before = np.flatnonzero(sheet[300:600, col_before].mean(axis=1) < 80) + 300
    dark_after = np.flatnonzero(sheet[300:600, col_after].mean(axis=1) < 80) + 300
    assert abs(dark_before.mean() - dark_after.mean() - 79) <= 2


def test_preprocessed_crops_like_the_paper(sheets):
    crops = [preprocess_lead(c, 64) for c in crop_leads(sheets["images"][0])]
    assert all(c.shape == (64, 64) and c.dtype == np.uint8 for c in crops)
    assert all(c.max() > 150 and np.median(c) < 80 for c in crops)  # bright trace, dark paper


def test_grey_grid_option():
    out = generate_ecg_printouts(1, height=H, width=W, grid="grey")
    box = crop_leads(out["images"][0])[0].astype(int)
    assert (box.max(axis=2) - box.min(axis=2)).max() <= 10  # no colour


def test_class_subset_and_errors():
    out = generate_ecg_printouts(2, classes=("mi", "normal"), height=64, width=96)
    assert out["class_names"] == ("mi", "normal") and out["labels"].tolist() == [0, 1]
    assert out["details"][0]["class"] == "mi"
    with pytest.raises(ValueError, match="Did you mean 'covid'"):
        generate_ecg_printouts(1, classes=("covd",))
    with pytest.raises(ValueError, match="n"):
        generate_ecg_printouts(0)
    with pytest.raises(ValueError, match="grid"):
        generate_ecg_printouts(1, grid="blue")


def test_time_per_sheet():
    generate_ecg_printouts(1)  # warm the grid template
    t0 = time.perf_counter()
    generate_ecg_printouts(3, seed=1)
    per_sheet = (time.perf_counter() - t0) / 3
    assert per_sheet < 1.0, per_sheet  # about 0.05 s measured; loose for shared CI cores


# ------------------------------------------------------------------ class signs in the signals


def test_abnormal_heartbeat_rr_irregular(records):
    def cv(sig):
        rr = np.diff(_r_peaks(sig)) / FS
        return rr.std() / rr.mean()

    normal = [cv(s) for s, _ in records["normal"]]
    abnormal = [cv(s) for s, _ in records["abnormal_heartbeat"]]
    assert max(normal) < 0.06
    assert min(abnormal) > 0.08 and np.median(abnormal) > 3 * np.median(normal)


def test_covid_tachycardia_low_voltage_long_qt(records):
    def hr(sig):
        return 60 * FS / np.diff(_r_peaks(sig)).mean()

    assert min(hr(s) for s, _ in records["covid"]) > 100 > max(hr(s) for s, _ in records["normal"])
    limb_qrs = [np.ptp(s[:6, 500:4500], axis=1).max() for s, _ in records["covid"]]
    assert np.median(limb_qrs) < 0.8  # low voltage (mV), baseline wander included
    assert np.median([np.ptp(s[:6, 500:4500], axis=1).max() for s, _ in records["normal"]]) > 1.0


def test_mi_st_elevation_in_territory_with_reciprocal_depression(records):
    for sig, info in records["mi"]:
        st = _per_beat(sig, info["r_times_s"], 0.10, TERRITORY[info["territory"]])
        assert np.sort(st)[-2] >= 0.1, info["territory"]  # >= 1 mm in two contiguous leads
        if info["territory"] == "inferior":
            assert _per_beat(sig, info["r_times_s"], 0.10, ("aVL",))[0] < -0.05
    for sig, info in records["normal"]:
        st = _per_beat(sig, info["r_times_s"], 0.10, LEADS12)
        assert np.abs(st).max() < 0.08


def test_history_mi_q_waves_and_no_st_elevation(records):
    for sig, info in records["history_mi"]:
        leads = TERRITORY[info["territory"]]
        q = np.min([_per_beat(sig, info["r_times_s"], off, leads) for off in Q_OFFSETS], axis=0)
        assert np.sort(q)[1] < -0.15, (info["territory"], q)  # deep Q in two territory leads
        st = _per_beat(sig, info["r_times_s"], 0.10, leads)
        assert st.max() < 0.08  # no ST elevation
    sig, info = records["normal"][0]
    q = min(_per_beat(sig, info["r_times_s"], off, ("II",))[0] for off in Q_OFFSETS)
    assert q > -0.15


# ------------------------------------------------------------------ single beats


@pytest.fixture(scope="module")
def beats():
    return generate_beat_images(6, size=64, seed=0)


def test_beat_shapes_determinism(beats):
    n = 6 * 5
    assert beats["images"].shape == (n, 64, 64, 3) and beats["images"].dtype == np.uint8
    assert beats["class_names"] == BEAT_CLASSES == ("F", "N", "Q", "S", "V")
    assert np.bincount(beats["labels"]).tolist() == [6] * 5
    assert beats["signals"].shape == (n, 432) and beats["fs"] == 360 and beats["r_index"] == 216
    again = generate_beat_images(2, size=64, classes=("V", "N"), seed=0)
    np.testing.assert_array_equal(again["signals"][:2], beats["signals"][beats["labels"] == 4][:2])
    np.testing.assert_array_equal(again["images"][2:], beats["images"][beats["labels"] == 1][:2])


def test_beat_images_trace_on_white(beats):
    for img in beats["images"]:
        grey = img.mean(axis=2)
        assert (grey < 128).sum() > 30  # trace pixels
        assert (grey == 255).mean() > 0.7  # plain white background
        assert (img[0, 0] == 255).all()


def _qrs_width(sig, fs, r):
    """Span of steep slopes (> 15 % of the steepest) within 150 ms of the R peak, seconds."""
    smooth = np.convolve(sig, np.ones(5) / 5, mode="same")
    slope = np.abs(np.diff(smooth[r - int(0.15 * fs): r + int(0.15 * fs)])) * fs
    idx = np.flatnonzero(slope > 0.15 * slope.max())
    return (idx[-1] - idx[0]) / fs


def test_beat_class_morphology():
    b = generate_beat_images(12, size=32, seed=5)
    width = {}
    for k, c in enumerate(b["class_names"]):
        sigs = b["signals"][b["labels"] == k]
        width[c] = np.median([_qrs_width(s, b["fs"], b["r_index"]) for s in sigs])
    assert width["V"] > 2 * width["N"] and width["Q"] > 2 * width["N"]
    assert width["N"] < width["F"] < width["V"]
    assert width["S"] < 0.1


def test_render_beat_image_general():
    sig = np.sin(np.linspace(0, 6, 1000))
    img = render_beat_image(sig, render_size=256, size=128)
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    # the maximum is drawn near the top, the minimum near the bottom
    dark_rows = np.flatnonzero((img.mean(axis=2) < 128).any(axis=1))
    assert dark_rows.min() < 12 and dark_rows.max() > 116
    flat = render_beat_image(np.zeros(5), size=64)
    assert (flat.mean(axis=2) < 200).any(axis=1).nonzero()[0].mean() == pytest.approx(31.5, abs=2)
    clipped = render_beat_image(sig, size=64, y_range=(-0.5, 0.5))
    assert clipped.shape == (64, 64, 3)
    with pytest.raises(ValueError, match="signal"):
        render_beat_image(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        render_beat_image(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="Did you mean 'V'"):
        generate_beat_images(1, classes=("v",))

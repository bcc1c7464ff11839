"""MIT-BIH Arrhythmia Database: 48 two-lead 30-minute ambulatory ECG records, beat-annotated.

Where to get it:
    PhysioNet, https://physionet.org/content/mitdb/1.0.0/ (Open Data Commons Attribution
    License v1.0), e.g. ``wfdb.dl_database("mitdb", "mitdb")``. Cite Moody GB, Mark RG, "The
    impact of the MIT-BIH Arrhythmia Database", IEEE Eng Med Biol 20(3):45-50 (2001), and
    Goldberger AL et al., "PhysioBank, PhysioToolkit, and PhysioNet", Circulation
    101(23):e215-e220 (2000).

Raw layout (as published): ``NNN.dat`` (format 212, 2 signals, 360 Hz, 650,000 samples),
``NNN.hea`` (header), ``NNN.atr`` (reference beat and rhythm annotations), for the 48
records of :data:`RECORDS`; read with ``wfdb``. The first signal is the modified limb lead
II (MLII) except in records 102 and 104 (V5 and V2; surgical dressings kept MLII off) and
114 (V5 then MLII). :func:`read_record` returns the signals in file order unless ``channels`` asks.

AAMI classes (ANSI/AAMI EC57), :data:`AAMI_MAP`:
    N = {N, L, R, e, j}, S = {A, a, J, S}, V = {V, E}, F = {F}, Q = {/, f, Q}.
    Other annotation symbols (rhythm changes ``+``, noise ``~``, ``|``, ``!`` flutter waves,
    ``x`` non-conducted P waves, ``[``/``]``, comments ``"``) are not beats and are left out.
    Totals over the 48 records: N 90,631, S 2,781, V 7,236, F 803, Q 8,043 (109,494 beats).

Inter-patient division (de Chazal et al. 2004): :data:`DS1` (training, 22 records) and
:data:`DS2` (test, 22 records) share no patient; the four records with paced beats
(:data:`PACED_RECORDS` = 102, 104, 107, 217) are excluded from both, as AAMI EC57
recommends. Records 201 and 202 were taken from the same analog tape (the header of 202
says so; the MIT-BIH directory gives them one subject), yet de Chazal put 201 in DS1 and 202
in DS2: the division is kept as published, so it is patient-disjoint except for that pair.

Beat windows (:func:`beat_windows`): a fixed window of one lead around every annotated beat
(default 0.6 s before and after the R peak, 432 samples at 360 Hz, the window of
:mod:`heartcv.data.synthetic.beats`); beats whose window would run past either end of the
record are dropped and counted (:func:`window_mask`). Rendering them as images and writing the
bundle is :mod:`heartcv.data.prepare.mitbih`.

Split protocols (:data:`PROTOCOLS`), assigned to every beat of :func:`beat_table`:
    ``intra``: the beat-level ("intra-patient") split of the beat-image paper and of the
    Kaggle beat sets it used: each beat goes to ``test`` with probability ``test_fraction``
    (default 0.2), decided by a hash of (seed, record, sample) so a beat's split does not depend
    on which other records are loaded. Beats of one record land in both splits, so the test
    set shares patients with training (the leakage that makes intra-patient numbers high).
    ``inter``: de Chazal's inter-patient division, :data:`DS1` ``train`` and :data:`DS2`
    ``test``; the paced records are unassigned (``""``).

References:
    Moody GB, Mark RG. IEEE Eng Med Biol 20(3):45-50, 2001.
    de Chazal P, O'Dwyer M, Reilly RB. Automatic classification of heartbeats using ECG
    morphology and heartbeat interval features. IEEE Trans Biomed Eng 51(7):1196-1206, 2004.
    ANSI/AAMI EC57:1998/(R)2008, Testing and reporting performance results of cardiac rhythm
    and ST segment measurement algorithms.
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from heartcv.data.datasets import did_you_mean, require_dir

__all__ = [
    "AAMI_CLASSES",
    "AAMI_MAP",
    "DS1",
    "DS2",
    "PACED_RECORDS",
    "RECORDS",
    "SOURCE",
    "SYMBOL_TO_AAMI",
    "Record",
    "BEAT_CLASSES",
    "PROTOCOLS",
    "BeatWindows",
    "aami_counts",
    "beat_table",
    "beat_windows",
    "protocol_split",
    "record_beat_windows",
    "window_mask",
    "read_record",
    "record_set",
]

SOURCE = "MIT-BIH Arrhythmia Database (Moody & Mark 2001; PhysioNet, Goldberger et al. 2000)"

RECORDS = (
    "100", "101", "102", "103", "104", "105", "106", "107", "108", "109", "111", "112", "113",
    "114", "115", "116", "117", "118", "119", "121", "122", "123", "124", "200", "201", "202",
    "203", "205", "207", "208", "209", "210", "212", "213", "214", "215", "217", "219", "220",
    "221", "222", "223", "228", "230", "231", "232", "233", "234",
)
DS1 = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124",
       "201", "203", "205", "207", "208", "209", "215", "220", "223", "230")
DS2 = ("100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210", "212",
       "213", "214", "219", "221", "222", "228", "231", "232", "233", "234")
PACED_RECORDS = ("102", "104", "107", "217")

AAMI_CLASSES = ("N", "S", "V", "F", "Q")
AAMI_MAP = {
    "N": ("N", "L", "R", "e", "j"),
    "S": ("A", "a", "J", "S"),
    "V": ("V", "E"),
    "F": ("F",),
    "Q": ("/", "f", "Q"),
}
SYMBOL_TO_AAMI = {s: c for c, symbols in AAMI_MAP.items() for s in symbols}
RECORD_SETS = {"all": RECORDS, "DS1": DS1, "DS2": DS2, "paced": PACED_RECORDS}
#: Label order of the beat-image paper (its Fig. 3: 0..4 = F, N, Q, S, V).
BEAT_CLASSES = ("F", "N", "Q", "S", "V")
PROTOCOLS = {
    "intra": "beat-level split (intra-patient, the paper's): 80/20 by beat, records shared",
    "inter": "inter-patient split of de Chazal et al. 2004: DS1 train, DS2 test, paced left out",
}
DEFAULT_WINDOW = (0.6, 0.6)  # seconds before and after the R peak


class Record(NamedTuple):
    """One record: ``signal`` (T, 2) float64 in mV, ``fs`` (Hz), ``ann_samples`` (K,) int64,
    ``ann_symbols`` (K,) str -- every reference annotation, beats and non-beats."""

    signal: np.ndarray
    fs: float
    ann_samples: np.ndarray
    ann_symbols: np.ndarray


def record_set(name):
    """Records of ``"all"``, ``"DS1"``, ``"DS2"`` or ``"paced"``."""
    if name not in RECORD_SETS:
        raise ValueError(f"Unknown record set.{did_you_mean(name, RECORD_SETS)} Expected one of "
                         f"{list(RECORD_SETS)}. Received: name={name!r}")
    return RECORD_SETS[name]


def _record_path(root, record):
    root = require_dir(root, "root")
    name = str(record)
    base = root / name
    if not Path(f"{base}.hea").is_file():
        available = sorted(p.stem for p in root.glob("*.hea"))
        raise FileNotFoundError(f"No MIT-BIH record {name!r} ({name}.hea) in {str(root)!r}."
                                f"{did_you_mean(name, available or RECORDS)} "
                                f"Received: record={record!r}")
    return base


def _read_ann(base):
    import wfdb

    try:
        ann = wfdb.rdann(str(base), "atr")
    except FileNotFoundError:
        raise FileNotFoundError(f"No annotation file {str(base)}.atr for record "
                                f"{base.name!r}") from None
    return np.asarray(ann.sample, np.int64), np.asarray(ann.symbol, dtype=str)


def read_record(root, record, *, channels=None):
    """Read one record's signals and reference annotations with ``wfdb``.

    Args:
        root: the folder holding ``NNN.dat/.hea/.atr``.
        record: record name (``"100"`` or ``100``).
        channels: optional signal names in the wanted order (e.g. ``["MLII", "V1"]``);
            default: file order.

    Returns:
        :class:`Record` ``(signal, fs, ann_samples, ann_symbols)``.

    Raises:
        FileNotFoundError: missing record files (with the closest record name).
        ValueError: a requested channel the record does not have.
    """
    import wfdb

    base = _record_path(root, record)
    rec = wfdb.rdrecord(str(base))
    signal = np.asarray(rec.p_signal, np.float64)
    if channels is not None:
        names = list(rec.sig_name)
        order = []
        for c in channels:
            if c not in names:
                raise ValueError(f"Record {base.name!r} has no signal {c!r}."
                                 f"{did_you_mean(c, names)} Its signals: {names}. "
                                 f"Received: channels={list(channels)!r}")
            order.append(names.index(c))
        signal = signal[:, order]
    samples, symbols = _read_ann(base)
    return Record(signal, float(rec.fs), samples, symbols)


def beat_table(root, records=None, *, all_annotations=False):
    """One row per annotated beat: ``record, sample, symbol, aami``.

    Args:
        root: the MIT-BIH folder.
        records: record names (default :data:`RECORDS`) or a set name (``"DS1"``...).
        all_annotations: keep non-beat annotations too (their ``aami`` is NaN).

    Returns:
        DataFrame in record then sample order. Only annotations are read (fast).
    """
    if isinstance(records, str) and records in RECORD_SETS:
        records = RECORD_SETS[records]
    records = RECORDS if records is None else [str(r) for r in records]
    parts = []
    for r in records:
        samples, symbols = _read_ann(_record_path(root, r))
        aami = pd.Series(symbols).map(SYMBOL_TO_AAMI)
        part = pd.DataFrame({"record": str(r), "sample": samples, "symbol": symbols,
                             "aami": aami.to_numpy(dtype=object)})
        if not all_annotations:
            part = part[part["aami"].notna()]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def aami_counts(root=None, records=None, *, table=None, by_record=False):
    """Beats per AAMI class.

    Args:
        root: the MIT-BIH folder (unless ``table`` is given).
        records: as in :func:`beat_table`.
        table: a :func:`beat_table` result to count instead of reading.
        by_record: one row per record instead of totals.

    Returns:
        Series indexed by :data:`AAMI_CLASSES` (totals), or a DataFrame (records x classes).
    """
    if table is None:
        if root is None:
            raise ValueError("Expected `root` or `table`. Received: root=None, table=None")
        table = beat_table(root, records)
    beats = table[table["aami"].notna()]
    if by_record:
        counts = pd.crosstab(beats["record"], beats["aami"])
        return counts.reindex(columns=list(AAMI_CLASSES), fill_value=0)
    return beats["aami"].value_counts().reindex(list(AAMI_CLASSES), fill_value=0).astype(int)


# --------------------------------------------------------------------------------------------
# beat windows and split protocols


class BeatWindows(NamedTuple):
    """Windows of one lead around beats.

    ``signals`` (N, pre + post) float32 in mV, the R peak at index ``r_index``; ``beats`` the
    :func:`beat_table` rows kept (plus ``lead``, the signal name), in the same order;
    ``dropped`` the beat rows left out because their window runs past an end of the record;
    ``fs`` in Hz.
    """

    signals: np.ndarray
    beats: pd.DataFrame
    dropped: pd.DataFrame
    fs: float
    r_index: int


def _window_samples(window, fs):
    if (not isinstance(window, (tuple, list)) or len(window) != 2
            or not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in window)
            or min(window) < 0 or sum(window) <= 0):
        raise ValueError("Expected `window` as (seconds before, seconds after) the R peak, both "
                         f">= 0 and not both 0. Received: window={window!r}")
    return int(round(window[0] * fs)), int(round(window[1] * fs))


def window_mask(samples, n_samples, pre, post):
    """True where a window ``[sample - pre, sample + post)`` lies inside ``[0, n_samples)``."""
    samples = np.asarray(samples, np.int64)
    return (samples - pre >= 0) & (samples + post <= n_samples)


def _channel_index(names, channel, record):
    if isinstance(channel, (int, np.integer)) and not isinstance(channel, bool):
        if not 0 <= int(channel) < len(names):
            raise ValueError(f"Record {record!r} has {len(names)} signals {names}. Expected "
                             f"`channel` in [0, {len(names)}). Received: channel={channel!r}")
        return int(channel)
    if isinstance(channel, str):
        if channel not in names:
            raise ValueError(f"Record {record!r} has no signal {channel!r}."
                             f"{did_you_mean(channel, names)} Its signals: {names}. "
                             f"Received: channel={channel!r}")
        return names.index(channel)
    raise TypeError(f"Expected `channel` as a signal index or name. Received: channel={channel!r}")


def record_beat_windows(root, record, *, window=DEFAULT_WINDOW, channel=0, beats=None):
    """:class:`BeatWindows` of one record.

    Args:
        root: the MIT-BIH folder.
        record: record name.
        window: (seconds before, seconds after) the R peak.
        channel: signal index in file order (0: MLII except records 102, 104 and 114) or name.
        beats: optional subset of this record's :func:`beat_table` rows (default: all beats).
    """
    import wfdb

    base = _record_path(root, record)
    header = wfdb.rdheader(str(base))
    names = list(header.sig_name)
    index = _channel_index(names, channel, str(record))
    pre, post = _window_samples(window, float(header.fs))
    if beats is None:
        beats = beat_table(root, [str(record)])
    rec = wfdb.rdrecord(str(base), channels=[index])
    signal = np.asarray(rec.p_signal[:, 0], np.float32)
    keep = window_mask(beats["sample"].to_numpy(), len(signal), pre, post)
    kept = beats[keep].reset_index(drop=True).assign(lead=names[index])
    starts = kept["sample"].to_numpy(np.int64) - pre
    signals = signal[starts[:, None] + np.arange(pre + post)[None, :]] if len(kept) else \
        np.zeros((0, pre + post), np.float32)
    return BeatWindows(signals, kept, beats[~keep].reset_index(drop=True), float(header.fs), pre)


def beat_windows(root, records=None, *, window=DEFAULT_WINDOW, channel=0):
    """:class:`BeatWindows` of every AAMI beat of ``records`` (default all 48), one lead.

    Beats closer to a record's start than ``window[0]`` or to its end than ``window[1]`` are
    dropped and returned in ``dropped`` (72 of the 109,494 beats with the default window:
    N 62, Q 6, V 2, S 1, F 1); ``len(beats) + len(dropped)`` equals :func:`aami_counts`.

    Example:
        >>> w = beat_windows("../shared/data/mitdb", ["100"])     # doctest: +SKIP
        >>> w.signals.shape, w.beats["aami"].value_counts()      # doctest: +SKIP
    """
    if isinstance(records, str) and records in RECORD_SETS:
        records = RECORD_SETS[records]
    records = RECORDS if records is None else [str(r) for r in records]
    parts = [record_beat_windows(root, r, window=window, channel=channel) for r in records]
    return BeatWindows(np.concatenate([p.signals for p in parts]),
                       pd.concat([p.beats for p in parts], ignore_index=True),
                       pd.concat([p.dropped for p in parts], ignore_index=True),
                       parts[0].fs, parts[0].r_index)


def _hash_uniform(seed, records, samples):
    """Uniform [0, 1) per (seed, record, sample) from a SplitMix64 hash (order-independent)."""
    with np.errstate(over="ignore"):
        x = (np.asarray(records, np.uint64) * np.uint64(1_000_003)
             + np.asarray(samples, np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15))
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def protocol_split(table, protocol, *, test_fraction=0.2, seed=0):
    """Split name (``"train"``, ``"test"`` or ``""``) of every row of a :func:`beat_table`.

    Args:
        table: beat rows with ``record`` and ``sample``.
        protocol: ``"intra"`` (beat-level, the paper's) or ``"inter"`` (DS1 / DS2), see
            :data:`PROTOCOLS`.
        test_fraction: intra only: the chance of each beat to be a test beat.
        seed: intra only.

    Returns:
        str array, one entry per row.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"Unknown split protocol.{did_you_mean(protocol, PROTOCOLS)} Expected "
                         f"one of {list(PROTOCOLS)}. Received: protocol={protocol!r}")
    records = table["record"].astype(str).to_numpy()
    if protocol == "inter":
        return np.where(np.isin(records, DS1), "train",
                        np.where(np.isin(records, DS2), "test", "")).astype(str)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"Expected `test_fraction` in (0, 1). Received: "
                         f"test_fraction={test_fraction}")
    u = _hash_uniform(int(seed), records.astype(np.int64), table["sample"].to_numpy(np.int64))
    return np.where(u < test_fraction, "test", "train").astype(str)

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
bundle is :func:`write_beat_bundle` (below).

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

import argparse
import json
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from heartcv.data.datasets import did_you_mean, require_dir
from heartcv.data.datasets._prep import dataset_parser, run
from heartcv.data.bundle import BundleWriter
from heartcv.data.synthetic.beats import render_beat_image
from heartcv.files import check_output_file
from heartcv.progress import progress_bar
from heartcv.registry import register_dataset

__all__ = [
    "AAMI_CLASSES", "AAMI_MAP", "BEAT_CLASSES", "DS1", "DS2", "PACED_RECORDS", "PROTOCOLS",
    "RECORDS", "SOURCE", "SYMBOL_TO_AAMI", "BeatWindows", "Record", "aami_counts",
    "beat_table", "beat_windows", "protocol_split", "read_record", "record_beat_windows",
    "record_set", "window_mask",
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
AAMI_MAP = {"N": ("N", "L", "R", "e", "j"), "S": ("A", "a", "J", "S"), "V": ("V", "E"),
            "F": ("F",), "Q": ("/", "f", "Q")}
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


# ----------------------------------------------------------------------------- heartcv prep mitbih

PREP_DOC = '''MIT-BIH Arrhythmia Database: AAMI beat counts and the single-beat image bundle.

    python data_prep/mitbih.py --raw ../shared/data/mitdb                      # counts only
    python data_prep/mitbih.py --raw ../shared/data/mitdb --out data/mitbih_beats_128.h5
    python data_prep/mitbih.py --raw mitdb --out sub.h5 --max-per-class 2000 --seed 0

Reads the reference annotations of the 48 records with wfdb (see
``heartcv.data.datasets.mitbih``) and prints the beats per AAMI class (N, S, V, F, Q) for the
record sets asked: all 48, de Chazal's inter-patient DS1 / DS2, and the 4 paced records.

With ``--out`` it also writes the beat-image bundle of the beat-classification paper (Le et
al. 2021, who used the Kaggle "ECG images" set): for every AAMI beat of ``--records`` a
window of one lead around the annotated R peak (``--window``, default 0.6 s each side, lead
``--channel`` 0 = MLII except records 102, 104, 114), plotted as one black trace on a white
256 x 256 canvas (per-window min-max vertical scale) and resized to ``--size`` with
``cv2.resize`` (``heartcv.data.synthetic.beats.render_beat_image``). Beats whose window runs
past an end of the record are dropped; the printed table gives, per class, the annotated
beats, the AAMI totals of the 48 records, the beats dropped near the ends and the beats
written.

The bundle (``heartcv.data.bundle`` schema, task ``multiclass``):

* ``images`` (N, size, size, 1 or 3) uint8, ``labels`` one-hot in the paper's class order
  ``F, N, Q, S, V``, ``patient_id`` = record, ``image_id`` = ``<record>_<sample>``;
* ``split`` = the **inter-patient** protocol (DS1 ``train``, DS2 ``test``, paced records
  ``""``): the only patient-disjoint one, so ``heartcv train --set data.source=X.h5`` uses it;
* ``meta/split_inter`` (the same) and ``meta/split_intra``: the paper's **beat-level**
  (intra-patient) split, 80/20 by beat (``--test-fraction``, ``--seed``); records appear in
  both of its splits, so it cannot be the bundle's ``split`` column (loading it as one fails
  the leakage check, as it should): ``heartcv.papers.mitbih_ecg_beats.experiment`` reads it explicitly;
* ``meta/record``, ``meta/sample`` (R peak sample), ``meta/symbol`` (annotation), ``meta/lead``;
* attributes ``fs``, ``window_s`` (JSON [pre, post]), ``r_index``, ``render_size``,
  ``line_width``, ``protocols`` (JSON: protocol -> split column), ``split_seed``,
  ``test_fraction``, ``max_per_class`` (0 = all beats) and ``subset_seed``.

``--max-per-class N`` keeps a seeded random subset of at most N beats of each class (a
CPU-sized bundle); splits are assigned on the full beat table first, so a beat's split does
not depend on N.
'''

PROG = "heartcv prep mitbih"
LINE_WIDTH = 2  # pixels on the 256 canvas (1 px at 128 after resizing)


def build_parser(prog=PROG):
    p = dataset_parser(prog, PREP_DOC, raw_help="folder holding NNN.dat/.hea/.atr", convert=False,
                       epilog="See data_prep/README.md for where to get the data.")
    p.add_argument("--sets", nargs="+", default=["all", "DS1", "DS2", "paced"],
                   choices=tuple(RECORD_SETS),
                   help="record sets to count (default: all four)")
    p.add_argument("--by-record", action="store_true", help="also print one row per record")
    p.add_argument("--out", help="write the beat-image bundle here (.h5); without it only "
                                 "counts are printed")
    p.add_argument("--records", nargs="+", default=["all"], metavar="RECORD",
                   help="records or set names (all, DS1, DS2, paced) for the bundle (default all)")
    p.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    p.add_argument("--render-size", type=int, default=256,
                   help="canvas side the trace is drawn on before resizing (default 256)")
    p.add_argument("--channels", type=int, default=1, choices=(1, 3),
                   help="1 (grey, default: the trace is black on white) or 3 (RGB)")
    p.add_argument("--window", type=float, nargs=2, default=list(DEFAULT_WINDOW),
                   metavar=("PRE", "POST"), help="seconds before and after the R peak "
                                                 "(default 0.6 0.6)")
    p.add_argument("--channel", default="0",
                   help="lead: index in file order or a signal name such as MLII (default 0)")
    p.add_argument("--max-per-class", type=int, default=0,
                   help="keep a seeded subset of at most N beats per class (default 0: all)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the beat-level split and of the subset (default 0)")
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="beat-level (intra-patient) test fraction (default 0.2)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction,
                   default=True, help="progress bar (default on)")
    return p


def _records(names):
    out = []
    for name in names:
        out += list(RECORD_SETS[name]) if name in RECORD_SETS else [str(name)]
    return list(dict.fromkeys(out))


def select_beats(table, max_per_class, seed):
    """Row positions of a seeded subset: at most ``max_per_class`` beats of each class."""
    if not max_per_class:
        return np.arange(len(table))
    rng = np.random.default_rng(seed)
    keep = []
    for cls in BEAT_CLASSES:
        rows = np.flatnonzero(table["aami"].to_numpy() == cls)
        if len(rows) > max_per_class:
            rows = np.sort(rng.choice(rows, max_per_class, replace=False))
        keep.append(rows)
    return np.sort(np.concatenate(keep))


def count_table(table, dropped_mask, written):
    """Per class: annotated, AAMI total (when all 48 records), dropped near the ends, written."""
    all_records = set(table["record"]) == set(RECORDS)
    rows = {}
    for cls in BEAT_CLASSES:
        is_cls = table["aami"].to_numpy() == cls
        rows[cls] = {
            "annotated": int(is_cls.sum()),
            **({"AAMI total (48 records)": AAMI_TOTALS[cls]} if all_records else {}),
            "dropped near ends": int((is_cls & dropped_mask).sum()),
            "written": int((written["aami"].to_numpy() == cls).sum()),
        }
    out = pd.DataFrame(rows).T
    out.loc["total"] = out.sum()
    return out


AAMI_TOTALS = {"N": 90631, "S": 2781, "V": 7236, "F": 803, "Q": 8043}


def write_beat_bundle(raw, out, *, records=None, size=128, render_size=256, channels=1,
                      window=DEFAULT_WINDOW, channel=0, max_per_class=0, seed=0,
                      test_fraction=0.2, overwrite=False, progress=True):
    """Render the beats of ``records`` into a bundle; returns ``(path, counts DataFrame)``.

    See the module docstring for the layout. Raises ``FileExistsError`` when ``out`` exists
    and ``overwrite`` is False.
    """
    import wfdb

    out = check_output_file(out, overwrite=overwrite, what="Bundle")
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"Expected `size` >= 8. Received: size={size!r}")
    records = RECORDS if records is None else [str(r) for r in records]
    table = beat_table(raw, records)
    table["split_intra"] = protocol_split(table, "intra", test_fraction=test_fraction, seed=seed)
    table["split_inter"] = protocol_split(table, "inter")
    # beats whose window runs past an end, from the headers (no signal read yet)
    fs = float(wfdb.rdheader(str(_record_path(raw, records[0]))).fs)
    pre, post = _window_samples(tuple(window), fs)
    lengths = {r: wfdb.rdheader(str(_record_path(raw, r))).sig_len for r in records}
    inside = window_mask(table["sample"].to_numpy(),
                         table["record"].map(lengths).to_numpy(), pre, post)
    valid = table[inside]
    chosen = valid.iloc[select_beats(valid, max_per_class, seed)]
    classes = list(BEAT_CLASSES)
    line_width = max(1, int(round(render_size * LINE_WIDTH / 256)))
    attrs = {"fs": fs, "window_s": json.dumps([float(w) for w in window]), "r_index": pre,
             "render_size": int(render_size), "line_width": line_width,
             "lead_channel": str(channel),
             "protocols": json.dumps({"inter": "split", "intra": "meta/split_intra"}),
             "split_seed": int(seed), "test_fraction": float(test_fraction),
             "max_per_class": int(max_per_class), "subset_seed": int(seed)}
    bar = None
    if progress:
        bar = progress_bar(total=len(chosen), desc="rendering beats", unit="beat")
    written = []
    with BundleWriter(out, task="multiclass", class_names=classes, source=SOURCE,
                      n=len(chosen), attrs=attrs) as w:
        for record, beats in chosen.groupby("record", sort=False):
            win = record_beat_windows(raw, record, window=tuple(window), channel=channel,
                                      beats=beats)
            imgs = np.empty((len(win.signals), size, size, channels), np.uint8)
            for i, sig in enumerate(win.signals):
                img = render_beat_image(sig, render_size, size, line_width)
                imgs[i] = img[..., :1] if channels == 1 else img
            b = win.beats
            labels = np.eye(len(classes), dtype=np.float32)[[classes.index(c) for c in b["aami"]]]
            w.append(imgs, labels=labels, patient_id=b["record"].to_numpy(),
                     image_id=[f"{r}_{s:06d}" for r, s in zip(b["record"], b["sample"])],
                     split=b["split_inter"].to_numpy(),
                     meta={"split_intra": b["split_intra"].to_numpy(),
                           "split_inter": b["split_inter"].to_numpy(),
                           "record": b["record"].to_numpy(), "sample": b["sample"].to_numpy(),
                           "symbol": b["symbol"].to_numpy(), "lead": b["lead"].to_numpy()})
            written.append(b)
            if bar is not None:
                bar.update(len(b))
    if bar is not None:
        bar.close()
    counts = count_table(table, ~inside, pd.concat(written, ignore_index=True))
    return out, counts


def main(argv=None, prog=PROG) -> int:
    args = build_parser(prog).parse_args(argv)

    def work():
        table = beat_table(args.raw, RECORDS)
        rows = {}
        for name in args.sets:
            part = table[table["record"].isin(record_set(name))]
            label = f"{name} ({len(record_set(name))} records)"
            rows[label] = aami_counts(table=part)
        counts = pd.DataFrame(rows).T
        counts["total"] = counts.sum(axis=1)
        counts.columns.name = None
        print(f"AAMI beats per record set ({SOURCE}):")
        print(counts.to_string())
        if args.by_record:
            print(aami_counts(table=table, by_record=True).to_string())
        if not args.out:
            return
        channel = int(args.channel) if args.channel.isdigit() else args.channel
        records = _records(args.records)
        start = time.perf_counter()
        path, written = write_beat_bundle(
            args.raw, args.out, records=records, size=args.size, render_size=args.render_size,
            channels=args.channels, window=tuple(args.window), channel=channel,
            max_per_class=args.max_per_class, seed=args.seed, test_fraction=args.test_fraction,
            overwrite=args.overwrite, progress=args.progress)
        print(f"\nBeat images per class ({len(records)} records, window {args.window[0]:g} s "
              f"before / {args.window[1]:g} s after the R peak"
              + (f", at most {args.max_per_class} per class, seed {args.seed}"
                 if args.max_per_class else "") + "):")
        print(written.to_string())
        if len(records) == len(RECORDS):
            diff = written["annotated"] - written["AAMI total (48 records)"]
            print("annotated - AAMI total: " + ", ".join(f"{c} {int(d):+d}" for c, d in
                                                         diff.items()))
            print("Beats written = annotated - dropped near ends"
                  + (" - left out by --max-per-class" if args.max_per_class else "")
                  + f". Wrote {path} in {time.perf_counter() - start:.0f} s.")
        else:
            print(f"Wrote {path} in {time.perf_counter() - start:.0f} s.")

    return run(prog, args, work)


register_dataset("mitbih", main=main, build_parser=build_parser, reader=beat_table,
                 description="MIT-BIH Arrhythmia Database: AAMI counts and single-beat images", module=__name__)

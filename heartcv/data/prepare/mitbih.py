"""MIT-BIH Arrhythmia Database: AAMI beat counts and the single-beat image bundle.

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

The bundle (``heartcv.data.h5`` schema, task ``multiclass``):

* ``images`` (N, size, size, 1 or 3) uint8, ``labels`` one-hot in the paper's class order
  ``F, N, Q, S, V``, ``patient_id`` = record, ``image_id`` = ``<record>_<sample>``;
* ``split`` = the **inter-patient** protocol (DS1 ``train``, DS2 ``test``, paced records
  ``""``): the only patient-disjoint one, so ``heartcv train --set data.source=X.h5`` uses it;
* ``meta/split_inter`` (the same) and ``meta/split_intra``: the paper's **beat-level**
  (intra-patient) split, 80/20 by beat (``--test-fraction``, ``--seed``); records appear in
  both of its splits, so it cannot be the bundle's ``split`` column (loading it as one fails
  the leakage check, as it should): ``heartcv.papers.mitbih_beats`` reads it explicitly;
* ``meta/record``, ``meta/sample`` (R peak sample), ``meta/symbol`` (annotation), ``meta/lead``;
* attributes ``fs``, ``window_s`` (JSON [pre, post]), ``r_index``, ``render_size``,
  ``line_width``, ``protocols`` (JSON: protocol -> split column), ``split_seed``,
  ``test_fraction``, ``max_per_class`` (0 = all beats) and ``subset_seed``.

``--max-per-class N`` keeps a seeded random subset of at most N beats of each class (a
CPU-sized bundle); splits are assigned on the full beat table first, so a beat's split does
not depend on N.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from heartcv.data.datasets import mitbih
from heartcv.data.prepare._common import dataset_parser, run

PROG = "heartcv prep mitbih"
LINE_WIDTH = 2  # pixels on the 256 canvas (1 px at 128 after resizing)


def build_parser(prog=PROG):
    p = dataset_parser(prog, __doc__, raw_help="folder holding NNN.dat/.hea/.atr", convert=False,
                       epilog="See data_prep/README.md for where to get the data.")
    p.add_argument("--sets", nargs="+", default=["all", "DS1", "DS2", "paced"],
                   choices=tuple(mitbih.RECORD_SETS),
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
    p.add_argument("--window", type=float, nargs=2, default=list(mitbih.DEFAULT_WINDOW),
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
        out += list(mitbih.RECORD_SETS[name]) if name in mitbih.RECORD_SETS else [str(name)]
    return list(dict.fromkeys(out))


def select_beats(table, max_per_class, seed):
    """Row positions of a seeded subset: at most ``max_per_class`` beats of each class."""
    if not max_per_class:
        return np.arange(len(table))
    rng = np.random.default_rng(seed)
    keep = []
    for cls in mitbih.BEAT_CLASSES:
        rows = np.flatnonzero(table["aami"].to_numpy() == cls)
        if len(rows) > max_per_class:
            rows = np.sort(rng.choice(rows, max_per_class, replace=False))
        keep.append(rows)
    return np.sort(np.concatenate(keep))


def count_table(table, dropped_mask, written):
    """Per class: annotated, AAMI total (when all 48 records), dropped near the ends, written."""
    all_records = set(table["record"]) == set(mitbih.RECORDS)
    rows = {}
    for cls in mitbih.BEAT_CLASSES:
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
                      window=mitbih.DEFAULT_WINDOW, channel=0, max_per_class=0, seed=0,
                      test_fraction=0.2, overwrite=False, progress=True):
    """Render the beats of ``records`` into a bundle; returns ``(path, counts DataFrame)``.

    See the module docstring for the layout. Raises ``FileExistsError`` when ``out`` exists
    and ``overwrite`` is False.
    """
    import wfdb

    from heartcv.data.h5 import BundleWriter
    from heartcv.data.synthetic.beats import render_beat_image

    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"Bundle exists: {out} (pass --overwrite to replace it). "
                              f"Received: out={str(out)!r}")
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"Expected `size` >= 8. Received: size={size!r}")
    records = mitbih.RECORDS if records is None else [str(r) for r in records]
    table = mitbih.beat_table(raw, records)
    table["split_intra"] = mitbih.protocol_split(table, "intra", test_fraction=test_fraction,
                                                 seed=seed)
    table["split_inter"] = mitbih.protocol_split(table, "inter")
    # beats whose window runs past an end, from the headers (no signal read yet)
    fs = float(wfdb.rdheader(str(mitbih._record_path(raw, records[0]))).fs)
    pre, post = mitbih._window_samples(tuple(window), fs)
    lengths = {r: wfdb.rdheader(str(mitbih._record_path(raw, r))).sig_len for r in records}
    inside = mitbih.window_mask(table["sample"].to_numpy(),
                                table["record"].map(lengths).to_numpy(), pre, post)
    valid = table[inside]
    chosen = valid.iloc[select_beats(valid, max_per_class, seed)]
    classes = list(mitbih.BEAT_CLASSES)
    line_width = max(1, int(round(render_size * LINE_WIDTH / 256)))
    attrs = {"fs": fs, "window_s": json.dumps([float(w) for w in window]), "r_index": pre,
             "render_size": int(render_size), "line_width": line_width,
             "lead_channel": str(channel),
             "protocols": json.dumps({"inter": "split", "intra": "meta/split_intra"}),
             "split_seed": int(seed), "test_fraction": float(test_fraction),
             "max_per_class": int(max_per_class), "subset_seed": int(seed)}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(chosen), desc="rendering beats", unit="beat")
    written = []
    with BundleWriter(out, task="multiclass", class_names=classes, source=mitbih.SOURCE,
                      n=len(chosen), attrs=attrs) as w:
        for record, beats in chosen.groupby("record", sort=False):
            win = mitbih.record_beat_windows(raw, record, window=tuple(window), channel=channel,
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
        table = mitbih.beat_table(args.raw, mitbih.RECORDS)
        rows = {}
        for name in args.sets:
            part = table[table["record"].isin(mitbih.record_set(name))]
            label = f"{name} ({len(mitbih.record_set(name))} records)"
            rows[label] = mitbih.aami_counts(table=part)
        counts = pd.DataFrame(rows).T
        counts["total"] = counts.sum(axis=1)
        counts.columns.name = None
        print(f"AAMI beats per record set ({mitbih.SOURCE}):")
        print(counts.to_string())
        if args.by_record:
            print(mitbih.aami_counts(table=table, by_record=True).to_string())
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
        if len(records) == len(mitbih.RECORDS):
            diff = written["annotated"] - written["AAMI total (48 records)"]
            print("annotated - AAMI total: " + ", ".join(f"{c} {int(d):+d}" for c, d in
                                                         diff.items()))
            print("Beats written = annotated - dropped near ends"
                  + (" - left out by --max-per-class" if args.max_per_class else "")
                  + f". Wrote {path} in {time.perf_counter() - start:.0f} s.")
        else:
            print(f"Wrote {path} in {time.perf_counter() - start:.0f} s.")

    return run(prog, args, work)

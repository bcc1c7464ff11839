"""The array path of the MIT-BIH experiment: intra-patient accuracy and de Chazal's DS1 -> DS2 table.

``experiments/mitbih_ecg_beats/run.py --data <mitdb folder>`` (or ``--quick``) trains each
model of :data:`MODELS` on the beats of :mod:`heartcv.papers.mitbih_ecg_beats.beatset`
(in memory) under each protocol and writes, per protocol and model, the test predictions, the
saved model and the report; ``report.md`` and ``results.json`` hold every number.

Protocols:

* ``intra``: the paper's beat-level split (80/20 by beat, all 48 records on both sides). A
  seeded 10% of the training beats is the validation set (the same beat-level unit); the
  epoch with the best validation accuracy is kept. No class weights (the paper's recipe).
* ``inter``: de Chazal et al. (2004) DS1 -> DS2. Training on DS1 only, class-balanced
  (class weights ``n / (K n_c)``, at most :data:`MAX_WEIGHT_RATIO` times the N weight);
  the validation patients are DS1 records (:data:`VAL_RECORDS`, left out of training): the
  epoch is chosen on their balanced accuracy over the classes with at least 50 validation
  beats (N, S, V), and per-class score multipliers for those classes are chosen on their
  beats (:func:`tune_multipliers`, the same criterion). DS2 is touched once, at the end.

Report (:func:`dechazal_table`): per class sensitivity (Se), positive predictivity (+P) and
false-positive rate (FPR), accuracy, balanced accuracy (mean Se over the classes present),
and beside them the all-N baseline (every beat called N). When a test set is a capped subset
(``vgg16``, ``small_cnn`` ``--max-test-per-class``), the confusion rows are re-weighted to the
full test split's class counts, so Se is unchanged and +P, FPR and accuracy are estimates at
the natural mix ("at full mix").
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

import keras

from heartcv.data.batches import array_rows, batches
from heartcv.data.synthetic.beats import BEAT_CLASSES
from heartcv.engine import LR_SCHEDULES, fit_batches, optimizer
from heartcv.files import atomic_path, atomic_write_json, atomic_write_text
from heartcv.io import save_model
from heartcv.papers.mitbih_ecg_beats.beatset import context_features
from heartcv.papers.mitbih_ecg_beats.experiment import cap_per_class
from heartcv.papers.mitbih_ecg_beats.experiment import confusion
from heartcv.papers.mitbih_ecg_beats.report import (HEADLINE, PROTOCOL_NAMES, all_n_baseline,
                                                    dechazal_table, record_bootstrap,
                                                    report_markdown, results_dict)
from heartcv.registry import build_model as get

#: model key -> (registered builder, what it is)
MODELS = {
    "beat_cnn": ("mitbih_beat_cnn", "compact beat-image CNN from scratch (beyond the paper)"),
    "beat_rr": ("mitbih_beat_rr", "beat image + RR features, two inputs (beyond the paper)"),
    "beat_ctx": ("mitbih_beat_rr", "beat image + RR features + patient-relative morphology "
                                   "(12 context features), two inputs (beyond the paper)"),
    "ctx_gbm": ("HistGradientBoostingClassifier", "the 12 context features alone, gradient "
                                                  "boosting, no image (a baseline)"),
    "small_cnn": ("small_cnn", "heartcv small_cnn from scratch (filters 16/32/48/64, GAP, "
                               "dropout 0.4), as the earlier CPU run"),
    "vgg16": ("mitbih_vgg16", "the paper's Table 2 model; base frozen with RANDOM weights "
                              "(no ImageNet weights here), head trained"),
}
#: models whose second input (``"rr"``) is a feature matrix beside the image
TWO_INPUT = ("beat_rr", "beat_ctx")
#: models fed the 12 context features (:func:`beatset.context_features`) instead of the RR six
CONTEXT_MODELS = ("beat_ctx", "ctx_gbm")
#: DS1 records held out of training as the inter-patient validation patients.
VAL_RECORDS = ("118", "124", "201", "223")
MAX_WEIGHT_RATIO = 100.0
#: de Chazal et al. 2004 (linear discriminants, morphology + RR), DS2, as quoted in issue 15.
DECHAZAL_2004 = {"S": {"sensitivity": 0.759}, "V": {"sensitivity": 0.777}}


def balanced_accuracy(y_true, y_pred, k=len(BEAT_CLASSES), min_support=1):
    """Mean recall over the classes with at least ``min_support`` beats."""
    cm = confusion(y_true, y_pred, k)
    support = cm.sum(axis=1)
    keep = support >= min_support
    return float(np.mean(np.diag(cm)[keep] / support[keep])) if keep.any() else float("nan")


def apply_multipliers(probs, multipliers):
    """argmax of ``probs * multipliers`` (per-class score weights)."""
    return np.argmax(np.asarray(probs) * np.asarray(multipliers)[None, :], axis=1)


def tune_multipliers(y_true, probs, *, grid=None, rounds=3, min_support=50):
    """Per-class score multipliers maximising the balanced accuracy on validation beats.

    Coordinate ascent over a log grid. N's multiplier is fixed at 1; so is that of every class
    with fewer than ``min_support`` validation beats (too few to tune on: F has 21 beats in
    the DS1 validation records, Q none), and those classes do not count in the balanced
    accuracy. Ties keep the value closest to 1.

    Returns:
        ``(multipliers (K,), balanced accuracy on the validation beats)``.
    """
    probs = np.asarray(probs, np.float64)
    y_true = np.asarray(y_true)
    k = probs.shape[1]
    grid = np.exp(np.linspace(-4, 4, 33)) if grid is None else np.asarray(grid, np.float64)
    mult = np.ones(k)
    support = np.bincount(y_true, minlength=k)
    fixed = BEAT_CLASSES.index("N") if k == len(BEAT_CLASSES) else 0
    tuned = [c for c in range(k) if c != fixed and support[c] >= min_support]
    best = balanced_accuracy(y_true, apply_multipliers(probs, mult), k, min_support)
    for _ in range(rounds):
        changed = False
        for c in tuned:
            scores = []
            for g in grid:
                m = mult.copy()
                m[c] = g
                scores.append(balanced_accuracy(y_true, apply_multipliers(probs, m), k,
                                                min_support))
            scores = np.array(scores)
            top = np.flatnonzero(scores >= scores.max() - 1e-12)
            g = grid[top[np.argmin(np.abs(np.log(grid[top])))]]
            if scores.max() >= best - 1e-12 and g != mult[c]:
                changed = True
                mult[c], best = g, float(scores.max())
        if not changed:
            break
    return mult, best


# ------------------------------------------------------------------------------- training

def beat_batches(arrays, idx, key, *, batch_size, labels=None, weights=None, training=False,
                 seed=0, channels=1):
    """Batches of beats ``idx`` from the one batch builder: the image (and, for the two-input
    models, ``"rr"``: :func:`side_features`), the labels and per-beat class weights."""
    extras = {"rr": side_features(arrays, key)[idx]} if key in TWO_INPUT else None
    y = None if labels is None else labels[idx]
    rows = array_rows(arrays["images"][idx], y, extras=extras,
                      sample_weights=None if weights is None or y is None else weights[y])
    return batches(rows, batch_size=batch_size, channels=channels, training=training,
                   seed=seed, cache=False)


def class_weights(labels, k=len(BEAT_CLASSES), max_ratio=MAX_WEIGHT_RATIO):
    """``n / (K n_c)`` per class, at most ``max_ratio`` x the N weight (absent classes 0)."""
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    w = np.divide(len(labels), k * counts, out=np.zeros(k), where=counts > 0)
    n_w = w[BEAT_CLASSES.index("N")] if k == len(BEAT_CLASSES) else w.min()
    return np.minimum(w, max_ratio * n_w)


def side_features(arrays, key):
    """The second input of ``key``: the RR features, or the 12 context features."""
    if key in CONTEXT_MODELS:
        return context_features(arrays)
    return arrays["rr"]


class FeatureBoosting:
    """``ctx_gbm``: scikit-learn gradient boosting on the context features (no image)."""

    def __init__(self, seed=0):
        from sklearn.ensemble import HistGradientBoostingClassifier  # optional: ctx_gbm only

        self.clf = HistGradientBoostingClassifier(max_iter=200, max_depth=3, random_state=seed)

    def fit(self, x, y, sample_weight=None):
        self.clf.fit(x, y, sample_weight=sample_weight)
        return self

    def predict_proba(self, x, k=len(BEAT_CLASSES)):
        p = np.zeros((len(x), k), np.float32)
        p[:, self.clf.classes_] = self.clf.predict_proba(x)
        return p


def build_model(key, size, n_rr, seed=0, image_dropout=None):
    keras.utils.set_random_seed(seed)
    name = MODELS[key][0]
    if key == "vgg16":
        return get(name, input_shape=(size, size, 3), num_classes=len(BEAT_CLASSES),
                               backbone_weights=None, freeze_backbone=True, dropout=0.4)
    if key == "small_cnn":
        return get(name, input_shape=(size, size, 1), num_classes=len(BEAT_CLASSES),
                               filters=(16, 32, 48, 64), dropout=0.4)
    if key in TWO_INPUT:
        extra = {} if image_dropout is None else {"image_dropout": float(image_dropout)}
        return get(name, input_shape=(size, size, 1), num_classes=len(BEAT_CLASSES),
                   rr_features=n_rr, **extra)
    return get(name, input_shape=(size, size, 1), num_classes=len(BEAT_CLASSES))


def _vgg_parts(model):
    """(frozen feature model up to ``flatten``, head model on the flat features, same weights)."""
    feats = keras.Model(model.inputs, model.get_layer("flatten").output)
    x = inp = keras.Input(shape=feats.output.shape[1:], name="features")
    for name in ("fc1", "dropout", "fc2", "dropout_1", "predictions"):
        x = model.get_layer(name)(x)
    return feats, keras.Model(inp, x)


def predict(model, key, arrays, idx, batch_size=256, feature_cache=None):
    """Class probabilities (n, K) of beats ``idx``."""
    if key == "ctx_gbm":
        return model.predict_proba(side_features(arrays, key)[idx])
    if key == "vgg16":
        feats, head = _vgg_parts(model)
        f = feature_cache if feature_cache is not None else _features(feats, arrays, idx, batch_size)
        return np.asarray(head.predict(f, batch_size=batch_size, verbose=0), np.float32)
    ds = beat_batches(arrays, idx, key, batch_size=batch_size)
    return np.asarray(model.predict(ds, verbose=0), np.float32)


def _features(feats, arrays, idx, batch_size):
    ds = beat_batches(arrays, idx, "vgg16", batch_size=batch_size, channels=3)
    return np.asarray(feats.predict(ds, verbose=0), np.float32)


class BestEpoch(keras.callbacks.Callback):
    """After each epoch: ``select(y_val, probs)`` on the validation beats, a log line, the
    weights of ``keep`` at the best score so far (restored when training ends)."""

    def __init__(self, keep, select, y_val, predict_val, *, name, epochs, log):
        super().__init__()
        self.keep, self.select, self.y_val, self.predict_val = keep, select, y_val, predict_val
        self.name, self.epochs, self.log = name, epochs, log
        self.history = {"loss": [], "val_score": [], "seconds": []}
        self.best, self.best_weights, self.t = -np.inf, None, None

    def on_epoch_begin(self, epoch, logs=None):
        self.t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        score = float(self.select(self.y_val, self.predict_val()))
        h = self.history
        h["loss"].append(float((logs or {}).get("loss", float("nan"))))
        h["val_score"].append(score)
        h["seconds"].append(round(time.perf_counter() - self.t, 1))
        self.log(f"    {self.name} epoch {epoch + 1}/{self.epochs}: loss {h['loss'][-1]:.4f}, "
                 f"validation {score:.4f} ({h['seconds'][-1]} s)")
        if score > self.best:
            self.best, self.best_weights = score, self.keep.get_weights()

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.keep.set_weights(self.best_weights)
        self.history["best_epoch"] = int(np.argmax(self.history["val_score"])) + 1


def _fit_gbm(arrays, train_idx, val_idx, weights, select, seed, log):
    """``ctx_gbm``: fitted once (no epochs)."""
    labels = arrays["labels"]
    t = time.perf_counter()
    y = labels[train_idx]
    model = FeatureBoosting(seed).fit(side_features(arrays, "ctx_gbm")[train_idx], y,
                                      None if weights is None else weights[y])
    score = float(select(labels[val_idx], predict(model, "ctx_gbm", arrays, val_idx)))
    history = {"loss": [float("nan")], "val_score": [score],
               "seconds": [round(time.perf_counter() - t, 1)], "best_epoch": 1}
    log(f"    ctx_gbm: fitted, validation {score:.4f} ({history['seconds'][0]} s)")
    return model, history


def fit(key, arrays, train_idx, val_idx, *, epochs, batch_size, learning_rate, weights,
        select, size, seed=0, lr_schedule="constant", image_dropout=None, log=print):
    """Train one model through the one engine (:func:`heartcv.engine.fit_batches`); keep the
    epoch with the best ``select(y_val, probs_val)``.

    ``lr_schedule``: ``"constant"`` or ``"cosine"`` (the learning rate decays to 0 along a
    half cosine over all ``epochs``' steps). ``image_dropout``: the two-input models' image
    dropout (``None``: the builder's 0.5). ``ctx_gbm`` is fitted once (no epochs). The
    training batches come from :func:`heartcv.data.batches.batches` (seeded shuffle, a new
    order each epoch; class weights as per-beat sample weights); ``vgg16`` trains its head on
    the frozen base's features, computed once.

    Returns ``(model, history)``; history has per-epoch ``loss``, ``val_score``, ``seconds``.
    """
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"Unknown lr_schedule. Expected one of {list(LR_SCHEDULES)}. "
                         f"Received: lr_schedule={lr_schedule!r}")
    if key == "ctx_gbm":
        return _fit_gbm(arrays, train_idx, val_idx, weights, select, seed, log)
    labels = arrays["labels"]
    model = build_model(key, size, side_features(arrays, key).shape[1], seed,
                        image_dropout=image_dropout)
    extra = {}
    if key == "vgg16":
        feats, trainable = _vgg_parts(model)
        t = time.perf_counter()
        ftrain = _features(feats, arrays, train_idx, batch_size)
        fval = _features(feats, arrays, val_idx, batch_size)
        extra["feature_seconds"] = round(time.perf_counter() - t, 1)
        log(f"    vgg16 frozen-base features: {len(train_idx) + len(val_idx)} beats in "
            f"{extra['feature_seconds']} s")
        y = labels[train_idx]
        train = (ftrain, y, None if weights is None else weights[y].astype(np.float32))

        def predict_val():
            return np.asarray(trainable.predict(fval, batch_size=256, verbose=0))
    else:
        trainable = model
        train = beat_batches(arrays, train_idx, key, batch_size=batch_size, labels=labels,
                             weights=weights, training=True, seed=seed)

        def predict_val():
            return predict(model, key, arrays, val_idx)
    steps = int(np.ceil(len(train_idx) / batch_size)) * int(epochs)
    best = BestEpoch(model, select, labels[val_idx], predict_val, name=key, epochs=epochs,
                     log=log)
    fit_batches(trainable, train, epochs=epochs, batch_size=batch_size,
                optimizer=optimizer("adam", learning_rate, schedule=lr_schedule,
                                    decay_steps=steps),
                loss="sparse_categorical_crossentropy", callbacks=[best])
    return model, {**best.history, **extra}


# ------------------------------------------------------------------------------ protocols

def _cap(idx, labels, cap, rng):
    """:func:`experiment.cap_per_class` for integer class ids (the same seeded draws)."""
    return cap_per_class(idx, np.eye(len(BEAT_CLASSES))[labels] if cap else labels, cap, rng)


def protocol_indices(arrays, protocol, *, val_records=VAL_RECORDS, val_fraction=0.1, seed=0):
    """``{"train", "val", "test"}`` beat indices of a protocol (see the module docstring)."""
    if protocol not in PROTOCOL_NAMES:
        raise ValueError(f"Unknown protocol. Expected one of {list(PROTOCOL_NAMES)}. "
                         f"Received: protocol={protocol!r}")
    if protocol == "intra":
        split = arrays["split_intra"]
        train = np.flatnonzero(split == "train")
        rng = np.random.default_rng([int(seed), 3])
        is_val = rng.random(len(train)) < val_fraction
        return {"train": train[~is_val], "val": train[is_val],
                "test": np.flatnonzero(split == "test")}
    split, record = arrays["split_inter"], arrays["record"]
    ds1 = split == "train"
    missing = sorted(set(val_records) - set(record[ds1]))
    if missing:
        raise ValueError(f"Validation records {missing} are not training (DS1) records of "
                         f"this set. Received: val_records={list(val_records)}")
    is_val = np.isin(record, list(val_records))
    return {"train": np.flatnonzero(ds1 & ~is_val), "val": np.flatnonzero(ds1 & is_val),
            "test": np.flatnonzero(split == "test")}


def _counts(labels):
    return {c: int(n) for c, n in zip(BEAT_CLASSES, np.bincount(labels, minlength=len(BEAT_CLASSES)))}


def run_one(arrays, protocol, key, *, out_dir, epochs, batch_size=128, learning_rate=1e-3,
            size=64, max_train_per_class=None, max_test_per_class=None, val_records=VAL_RECORDS,
            max_weight_ratio=MAX_WEIGHT_RATIO, min_val_support=50, seed=0, save=True,
            lr_schedule="constant", image_dropout=None, log=print):
    """Train and evaluate one model under one protocol; write its outputs; return its summary.

    ``min_val_support``: inter only, the classes with at least this many validation beats are
    the ones the epoch choice and :func:`tune_multipliers` count (50 for MIT-BIH: N, S, V).
    ``lr_schedule``, ``image_dropout``: see :func:`fit`.
    """
    labels = arrays["labels"]
    rng = np.random.default_rng(seed)
    idx = protocol_indices(arrays, protocol, val_records=val_records, seed=seed)
    full_test = _counts(labels[idx["test"]])
    train_idx = _cap(idx["train"], labels, max_train_per_class, rng)
    val_idx = _cap(idx["val"], labels, max_train_per_class, rng) if key == "vgg16" else idx["val"]
    test_idx = _cap(idx["test"], labels, max_test_per_class, rng)
    k = len(BEAT_CLASSES)
    if protocol == "intra":
        weights = None

        def select(y, p):
            return float(np.mean(np.argmax(p, 1) == y))
    else:
        weights = class_weights(labels[train_idx], k, max_ratio=max_weight_ratio)

        def select(y, p):
            return balanced_accuracy(y, np.argmax(p, 1), k, min_support=min_val_support)
    log(f"  {protocol} / {key}: train {_counts(labels[train_idx])}, validation "
        f"{_counts(labels[val_idx])}, test {_counts(labels[test_idx])}")
    start = time.perf_counter()
    model, history = fit(key, arrays, train_idx, val_idx, epochs=epochs, batch_size=batch_size,
                         learning_rate=learning_rate, weights=weights, select=select, size=size,
                         seed=seed, lr_schedule=lr_schedule, image_dropout=image_dropout,
                         log=log)
    train_seconds = time.perf_counter() - start
    t = time.perf_counter()
    p_val = predict(model, key, arrays, val_idx)
    p_test = predict(model, key, arrays, test_idx)
    predict_seconds = time.perf_counter() - t
    y_test = labels[test_idx]
    capped = len(test_idx) < len(idx["test"])
    mix = full_test if capped else None
    summary = {
        "model": key, "builder": MODELS[key][0], "what": MODELS[key][1], "protocol": protocol,
        "train": _counts(labels[train_idx]), "val": _counts(labels[val_idx]),
        "test": _counts(y_test), "full_test": full_test, "test_capped": capped,
        "class_weights": None if weights is None else [float(w) for w in weights],
        "history": history, "train_seconds": round(train_seconds, 1),
        "predict_seconds": round(predict_seconds, 1),
        "argmax": dechazal_table(confusion(y_test, np.argmax(p_test, 1), k), full_counts=mix),
        "confusion_argmax": confusion(y_test, np.argmax(p_test, 1), k).tolist(),
        "all_n_baseline": all_n_baseline(y_test, full_counts=mix),
    }
    if protocol == "inter":
        mult, val_bacc = tune_multipliers(labels[val_idx], p_val, min_support=min_val_support)
        pred = apply_multipliers(p_test, mult)
        summary["multipliers"] = [float(m) for m in mult]
        summary["val_balanced_accuracy_tuned"] = val_bacc
        summary["tuned"] = dechazal_table(confusion(y_test, pred, k), full_counts=mix)
        summary["confusion_tuned"] = confusion(y_test, pred, k).tolist()
        if not capped:
            summary["tuned_ci"] = record_bootstrap(y_test, pred, arrays["record"][test_idx])
    if not capped:
        summary["argmax_ci"] = record_bootstrap(y_test, np.argmax(p_test, 1),
                                                arrays["record"][test_idx])
    run_dir = Path(out_dir) / protocol / key
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(run_dir / "test_predictions.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, y_true=y_test, y_score=p_test, record=arrays["record"][test_idx],
                     sample=arrays["sample"][test_idx], val_true=labels[val_idx], val_score=p_val)
    if save and key not in ("vgg16", "ctx_gbm"):  # vgg16 is 260 MB; its head is what was trained
        save_model(model, run_dir / "model.keras", include_optimizer=False)
    atomic_write_json(run_dir / "summary.json", summary)
    keras.backend.clear_session()
    return summary


def run_fast(arrays, *, protocols, models, out_dir, epochs, header="", log=print,
             resume=False, **kw):
    """Every (protocol, model); writes ``report.md`` and ``summary.json``; returns the summaries.

    ``epochs`` is an int or a {model: epochs} dict; other keyword arguments go to
    :func:`run_one` (``max_train_per_class`` and ``max_test_per_class`` may also be
    {model: cap} dicts). With ``resume``, a (protocol, model) whose ``summary.json`` in
    ``out_dir`` was written with the same settings is read instead of trained again.
    """
    out_dir = Path(out_dir)
    summaries = []
    for protocol in protocols:
        for key in models:
            if key not in MODELS:
                raise ValueError(f"Unknown model. Expected some of {list(MODELS)}. "
                                 f"Received: {key!r}")
            opts = {k: (v.get(key) if isinstance(v, dict) else v) for k, v in kw.items()}
            e = epochs.get(key) if isinstance(epochs, dict) else epochs
            settings = _settings(arrays, e, opts)
            done = out_dir / protocol / key / "summary.json"
            if resume and done.is_file():
                old = json.loads(done.read_text())
                if old.get("settings") == settings:
                    log(f"  {protocol} / {key}: finished run read from {done}")
                    summaries.append(old)
                    continue
                log(f"  {protocol} / {key}: {done} has other settings; training again")
            s = run_one(arrays, protocol, key, out_dir=out_dir, epochs=e, log=log, **opts)
            s["settings"] = settings
            atomic_write_json(done, s)
            summaries.append(s)
            atomic_write_text(out_dir / "report.md", report_markdown(summaries, header))
    atomic_write_json(out_dir / "summary.json", {"summaries": summaries})
    return summaries


def _settings(arrays, epochs, opts):
    """What a finished run must match to be reused (``resume``)."""
    defaults = {"max_weight_ratio": MAX_WEIGHT_RATIO, "min_val_support": 50,
                "lr_schedule": "constant", "image_dropout": None}
    clean = {k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items()
             if not (k in defaults and v == defaults[k])}  # defaults are not recorded
    return json.loads(json.dumps({"epochs": epochs, "n_beats": int(len(arrays["labels"])),
                                  "meta": {k: v for k, v in arrays.get("meta", {}).items()
                                           if k in ("size", "render_size", "version", "synthetic",
                                                    "n_per_class", "n_patients", "seed")},
                                  **clean}))


def load_summaries(out_dir):
    """The summaries of a finished or partial run (``<protocol>/<model>/summary.json``)."""
    out = []
    for protocol in PROTOCOL_NAMES:
        for key in MODELS:
            p = Path(out_dir) / protocol / key / "summary.json"
            if p.is_file():
                out.append(json.loads(p.read_text()))
    return out

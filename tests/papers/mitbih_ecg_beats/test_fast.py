"""The MIT-BIH array path: RR features, de Chazal's table, threshold tuning, the RR model, run.py."""

import json

import numpy as np
import pytest

from heartcv.data.synthetic.beats import BEAT_CLASSES, generate_beat_images, synthetic_rr
from heartcv.papers.mitbih_ecg_beats import beatset, fast
from tests.conftest import REPO_ROOT, load_module

F, N, Q, S, V = range(5)
MITDB = REPO_ROOT.parent / "shared" / "data" / "mitdb"


def _main():
    return load_module(REPO_ROOT / "experiments" / "mitbih_ecg_beats" / "run.py", "mitbih_run").main


def test_rr_intervals_pre_post_local_and_record_mean():
    # beats at 0, 1, 2, 2.5 (premature), 4, 5 s at 100 Hz
    samples = np.array([0, 100, 200, 250, 400, 500])
    pre, post, local, mean = beatset.rr_intervals(samples, 100, local_beats=2)
    np.testing.assert_allclose(pre, [1, 1, 1, 0.5, 1.5, 1])
    np.testing.assert_allclose(post, [1, 1, 0.5, 1.5, 1, 1])
    np.testing.assert_allclose(mean, 1.0)  # 5 s over 5 intervals
    # local_beats=2: the mean of the pre-RR of the beat before and the beat itself
    np.testing.assert_allclose(local, [1, 1, 1, 0.75, 1.0, 1.25])
    feats = beatset.rr_features(samples, 100, local_beats=2)
    assert feats.shape == (6, len(beatset.RR_FEATURES))
    premature = feats[3]
    assert premature[0] == pytest.approx(0.5) and premature[1] == pytest.approx(1.5)
    assert premature[3] == pytest.approx(1 / 3)  # pre / post


def test_rr_features_are_normalised_per_record():
    # the same rhythm at 60 and at 120 bpm gives the same normalised features
    slow = beatset.rr_features(np.array([0, 360, 720, 900, 1440, 1800]), 360)
    fast_ = beatset.rr_features(np.array([0, 180, 360, 450, 720, 900]), 360)
    np.testing.assert_allclose(slow[:, :5], fast_[:, :5], rtol=1e-6)
    assert slow[0, 5] == pytest.approx(2 * fast_[0, 5])  # only the record mean differs


def test_rr_input_checks():
    with pytest.raises(ValueError, match="increasing"):
        beatset.rr_intervals(np.array([0, 10, 5]), 360)
    with pytest.raises(ValueError, match="positive"):
        beatset.rr_matrix(np.array([1.0]), np.array([0.0]), np.array([1.0]), np.array([1.0]))


def test_synthetic_rr_follows_the_pause_rules():
    d = generate_beat_images(6, size=16, render_size=32, seed=1)
    pre, post, local, mean = synthetic_rr(d, np.zeros(len(d["labels"]), int))
    lab = d["labels"]
    v = lab == BEAT_CLASSES.index("V")
    n = lab == BEAT_CLASSES.index("N")
    s = lab == BEAT_CLASSES.index("S")
    # V: premature with a compensatory pause (pre + post ~ 2 x sinus RR, 3% jitter)
    assert np.all(pre[v] < 0.75 * d["base_rr"][v])
    np.testing.assert_allclose(pre[v] + post[v], 2 * d["base_rr"][v], rtol=0.2)
    assert np.all(pre[s] < 0.85 * d["base_rr"][s])
    np.testing.assert_allclose(pre[n], d["base_rr"][n])
    assert np.unique(mean).size == 1


def test_dechazal_table_by_hand():
    # rows true F, N, Q, S, V
    cm = np.zeros((5, 5), int)
    cm[N, N], cm[N, S] = 90, 10
    cm[S, S], cm[S, N] = 6, 4
    cm[V, V] = 5
    t = fast.dechazal_table(cm)
    assert t["accuracy"] == pytest.approx(101 / 115)
    assert t["S"]["sensitivity"] == pytest.approx(0.6)
    assert t["S"]["ppv"] == pytest.approx(6 / 16)
    assert t["S"]["fpr"] == pytest.approx(10 / 105)
    assert t["N"]["ppv"] == pytest.approx(90 / 94)
    assert np.isnan(t["F"]["sensitivity"])  # no F beats: not measured
    assert t["balanced_accuracy"] == pytest.approx((0.9 + 0.6 + 1.0) / 3)
    # re-weighted to 1,000 N and 10 S beats: Se unchanged, +P of S falls
    w = fast.dechazal_table(cm, full_counts={"N": 1000, "S": 10, "V": 5})
    assert w["S"]["sensitivity"] == pytest.approx(0.6)
    assert w["S"]["ppv"] == pytest.approx(6 / (6 + 100))
    base = fast.all_n_baseline(np.array([N] * 100 + [S] * 10 + [V] * 5))
    assert base["accuracy"] == pytest.approx(100 / 115)
    assert base["S"]["sensitivity"] == 0 and base["balanced_accuracy"] == pytest.approx(1 / 3)


def test_tune_multipliers_recovers_a_suppressed_class():
    rng = np.random.default_rng(0)
    y = np.array([N] * 200 + [S] * 60 + [F] * 10)
    probs = np.full((270, 5), 0.01)
    probs[:, N] = 0.6
    # S beats score higher on S than N beats do, but never above N
    probs[:, S] = np.where(y == S, 0.3, 0.05) + rng.uniform(0, 0.02, 270)
    assert fast.balanced_accuracy(y, probs.argmax(1), min_support=50) == pytest.approx(0.5)
    mult, score = fast.tune_multipliers(y, probs)
    assert score == pytest.approx(1.0)  # over N and S: F's 10 beats are too few to count
    assert mult[N] == 1.0 and mult[S] > 1.0 and mult[F] == 1.0
    pred = fast.apply_multipliers(probs, mult)
    np.testing.assert_array_equal(pred[y != F], y[y != F])


def test_class_weights_are_balanced_and_capped():
    labels = np.array([N] * 1000 + [S] * 10 + [V] * 100 + [F] * 1)
    w = fast.class_weights(labels, max_ratio=50)
    assert w[Q] == 0
    assert w[S] / w[N] == pytest.approx(50)  # capped (100x uncapped)
    assert w[V] / w[N] == pytest.approx(10)
    assert w[F] / w[N] == pytest.approx(50)  # capped (1000x uncapped)


def test_protocol_indices():
    d = beatset.synthetic_set(4, n_patients=10, size=16, render_size=32)
    idx = fast.protocol_indices(d, "inter", val_records=("s04", "s05"))
    assert set(d["record"][idx["val"]]) == {"s04", "s05"}
    assert not set(d["record"][idx["train"]]) & {"s04", "s05"}
    assert not set(d["record"][idx["test"]]) & set(d["record"][idx["train"]])
    intra = fast.protocol_indices(d, "intra")
    assert not set(intra["train"]) & set(intra["test"]) and not set(intra["val"]) & set(intra["train"])
    with pytest.raises(ValueError, match="not training"):
        fast.protocol_indices(d, "inter", val_records=("s09",))


def test_beat_models_round_trip(tmp_path):
    import keras

    import heartcv  # noqa: F401
    from heartcv.io import load_model, save_model
    from heartcv.papers.mitbih_ecg_beats.models import mitbih_beat_cnn, mitbih_beat_rr

    assert mitbih_beat_cnn().count_params() == 156_589
    m = mitbih_beat_rr(input_shape=(32, 32, 1), filters=(4, 8))
    x = {"image": np.random.default_rng(0).integers(0, 256, (3, 32, 32, 1)).astype("float32"),
         "rr": np.random.default_rng(1).random((3, 6)).astype("float32")}
    p = m.predict(x, verbose=0)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    for name in ("m.keras", "m.h5"):
        path = save_model(m, tmp_path / name, include_optimizer=False)
        np.testing.assert_allclose(load_model(path).predict(x, verbose=0), p, rtol=1e-5,
                                   atol=1e-6)
    # the RR input changes the prediction
    x2 = dict(x, rr=x["rr"] * 3)
    assert not np.allclose(m.predict(x2, verbose=0), p)
    with pytest.raises(ValueError, match="rr_features"):
        mitbih_beat_rr(rr_features=0)
    keras.backend.clear_session()


def test_run_py_needs_data_or_quick(capsys, tmp_path):
    main = _main()

    assert main(["--output-dir", str(tmp_path)]) == 2
    assert "--quick" in capsys.readouterr().err
    assert main(["--data", str(tmp_path / "missing"), "--output-dir", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["--data", str(tmp_path / "empty"), "--output-dir", str(tmp_path)]) == 2
    assert "no WFDB records" in capsys.readouterr().err


@pytest.mark.skipif(not MITDB.is_dir(), reason="MIT-BIH records not in ../shared/data/mitdb")
def test_mitdb_rr_features_of_a_record():
    from heartcv.data.datasets import mitbih

    table = mitbih.beat_table(MITDB, ["232"])  # sinus bradycardia with APCs, DS2
    feats = beatset.rr_features(table["sample"].to_numpy(), 360.0)
    s = (table["aami"] == "S").to_numpy()
    n = (table["aami"] == "N").to_numpy()
    assert s.sum() > 1000
    # supraventricular beats come early relative to the record's mean RR
    assert np.median(feats[s, 0]) < np.median(feats[n, 0])


@pytest.mark.slow
def test_quick_run_writes_results_json(tmp_path, capsys):
    main = _main()
    from heartcv.results import read_results

    assert main(["--quick", "--epochs", "1", "--models", "beat_rr", "--output-dir",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    path = tmp_path / "mitbih_ecg_beats" / "quick" / "results.json"
    assert out[-1] == f"results: {path}"
    r = read_results(path)
    for key in ("intra/accuracy", "ds2/S/sensitivity", "ds2/V/ppv", "ds2/all_n_baseline/accuracy",
                "ds2/beat_rr/tuned/balanced_accuracy", "intra/beat_rr/argmax/N/fpr"):
        assert key in r, key
    assert 0 <= r["ds2/balanced_accuracy"] <= 1
    summary = json.loads((path.parent / "inter" / "beat_rr" / "summary.json").read_text())
    assert summary["multipliers"][BEAT_CLASSES.index("N")] == 1.0
    assert (path.parent / "report.md").read_text().count("all-N baseline") == 2


def test_record_bootstrap_resamples_records():
    # record a: all S found; record b: none found -> the S sensitivity interval spans 0..1
    y = np.array([S] * 10 + [S] * 10 + [N] * 20)
    pred = np.array([S] * 10 + [N] * 10 + [N] * 20)
    rec = np.array(["a"] * 10 + ["b"] * 10 + ["c"] * 20)
    ci = fast.record_bootstrap(y, pred, rec, n_boot=300)
    assert ci["S"]["sensitivity"][0] == 0.0 and ci["S"]["sensitivity"][1] == 1.0
    assert ci["N"]["sensitivity"] == [1.0, 1.0]
    assert ci["accuracy"][0] < 0.75 < ci["accuracy"][1]


def _beat_image(width, shift=0, size=32):
    """A black-on-white 'beat': a flat line with a spike of ``width`` columns at the centre."""
    img = np.full((size, size), 255, np.uint8)
    img[size // 2, :] = 0
    c = size // 2 + shift
    img[4:size // 2, c - width // 2:c - width // 2 + width] = 0
    return img


def test_morphology_features_measure_each_beat_against_its_own_record():
    normal, wide = _beat_image(1), _beat_image(7)
    # record a: 9 normal beats and one wide (ventricular-like) beat
    images = np.stack([normal] * 9 + [wide])[..., None]
    record = np.array(["a"] * 10)
    f = beatset.morphology_features(images, record)
    assert f.shape == (10, len(beatset.MORPHOLOGY_FEATURES)) and f.dtype == np.float32
    names = list(beatset.MORPHOLOGY_FEATURES)
    # the normal beats equal their template; the wide one does not
    np.testing.assert_allclose(f[:9, names.index("qrs_corr")], 1.0, atol=1e-4)
    np.testing.assert_allclose(f[:9, names.index("qrs_abs_diff")], 0.0, atol=1e-6)
    assert f[9, names.index("qrs_abs_diff")] > 0.01
    assert f[9, names.index("qrs_spread_ratio")] > 1.5 * f[0, names.index("qrs_spread_ratio")]
    # each record has its own template: a record of wide beats makes the wide beat normal
    both = beatset.morphology_features(np.concatenate([images, np.stack([wide] * 5)[..., None]]),
                                       np.array(["a"] * 10 + ["b"] * 5))
    np.testing.assert_allclose(both[:10], f, rtol=1e-5, atol=1e-6)  # record a unchanged
    np.testing.assert_allclose(both[10:, names.index("qrs_abs_diff")], 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="one record per image"):
        beatset.morphology_features(images, record[:3])
    with pytest.raises(ValueError, match="grey beat images"):
        beatset.morphology_features(np.zeros((2, 8, 8, 3), np.uint8), record[:2])


def test_context_features_and_the_ctx_models(tmp_path):
    import keras

    d = beatset.synthetic_set(60, n_patients=10, size=32, render_size=64)
    ctx = beatset.context_features(d)
    assert ctx.shape == (len(d["labels"]), 12) and np.all(np.isfinite(ctx))
    np.testing.assert_array_equal(ctx[:, :6], d["rr"])
    assert beatset.context_features(d) is ctx  # computed once
    val = ("s04", "s05")
    s = fast.run_one(d, "inter", "ctx_gbm", out_dir=tmp_path, epochs=1, batch_size=16,
                     size=32, val_records=val, min_val_support=5)
    assert s["history"]["best_epoch"] == 1 and "tuned" in s
    assert not (tmp_path / "inter" / "ctx_gbm" / "model.keras").exists()
    assert s["argmax"]["balanced_accuracy"] > 0.3  # 5 classes: chance 0.2
    s = fast.run_one(d, "intra", "beat_ctx", out_dir=tmp_path, epochs=1, batch_size=64,
                     size=32, lr_schedule="cosine", image_dropout=0.0)
    model = keras.models.load_model(tmp_path / "intra" / "beat_ctx" / "model.keras")
    assert model.get_layer("rr_dense1").kernel.shape[0] == 12
    assert model.get_layer("image_dropout").rate == 0.0
    with pytest.raises(ValueError, match="lr_schedule"):
        fast.fit("beat_ctx", d, np.arange(4), np.arange(4), epochs=1, batch_size=4,
                 learning_rate=1e-3, weights=None, select=lambda y, p: 0.0, size=32,
                 lr_schedule="step")
    r = fast.results_dict([s])
    assert r["intra/headline_model_is_beat_ctx"] == 1
    keras.backend.clear_session()


def test_resume_settings_leave_defaults_out():
    """A run with the default schedule and dropout matches one recorded before they existed."""
    d = beatset.synthetic_set(4, n_patients=10, size=16, render_size=32)
    old = fast._settings(d, 8, {"seed": 0})
    assert fast._settings(d, 8, {"seed": 0, "lr_schedule": "constant",
                                 "image_dropout": None}) == old
    assert fast._settings(d, 8, {"seed": 0, "lr_schedule": "cosine"}) != old
    assert fast._settings(d, 8, {"seed": 0, "image_dropout": 0.0}) != old

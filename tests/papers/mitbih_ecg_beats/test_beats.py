"""MIT-BIH beat windows, split protocols, beat images, the bundle and the paper's VGG16."""

import numpy as np
import pytest

import heartcv
from heartcv.data.datasets import mitbih
from heartcv.data.bundle import read_bundle
from heartcv.data.synthetic.beats import render_beat_image


# ----------------------------------------------------------------------------- windows


def test_windows_of_record_100_match_the_signal_and_the_aami_counts(mitdb_dir):
    w = mitbih.beat_windows(mitdb_dir, ["100"])
    assert w.fs == 360.0 and w.r_index == 216 and w.signals.shape == (len(w.beats), 432)
    assert w.signals.dtype == np.float32 and set(w.beats["lead"]) == {"MLII"}
    rec = mitbih.read_record(mitdb_dir, "100")
    for k in (0, 500, len(w.beats) - 1):  # the window's centre is the annotated R peak sample
        s = int(w.beats["sample"].iloc[k])
        np.testing.assert_allclose(w.signals[k], rec.signal[s - 216:s + 216, 0], atol=1e-6)
    # every beat is either windowed or dropped near an end; per class as aami_counts
    both = np.concatenate([w.beats["aami"], w.dropped["aami"]])
    counts = mitbih.aami_counts(mitdb_dir, ["100"])
    assert counts.to_dict() == {"N": 2239, "S": 33, "V": 1, "F": 0, "Q": 0}
    for cls, n in counts.items():
        assert int((both == cls).sum()) == n
    # the dropped beats are those within 0.6 s of an end (record 100: the first and the last)
    assert len(w.dropped) == 2
    assert all(s < 216 or s + 216 > 650000 for s in w.dropped["sample"])


def test_symbols_map_to_aami_classes(mitdb_dir):
    w = mitbih.beat_windows(mitdb_dir, ["208"])  # N, S, V and many F beats
    for sym, cls in zip(w.beats["symbol"], w.beats["aami"]):
        assert sym in mitbih.AAMI_MAP[cls]
    assert set(w.beats["aami"]) >= {"N", "V", "F"}


def test_channel_by_name_and_longer_window(mitdb_dir):
    w = mitbih.beat_windows(mitdb_dir, ["114"], channel="MLII", window=(1.0, 0.5))
    assert set(w.beats["lead"]) == {"MLII"} and w.signals.shape[1] == 540 and w.r_index == 360
    with pytest.raises(ValueError, match=r"no signal 'MLI'.*Did you mean 'MLII'"):
        mitbih.beat_windows(mitdb_dir, ["114"], channel="MLI")
    with pytest.raises(ValueError, match=r"Expected `channel` in \[0, 2\). Received: channel=5"):
        mitbih.beat_windows(mitdb_dir, ["100"], channel=5)
    with pytest.raises(ValueError, match=r"Expected `window` as \(seconds before, seconds after\)"):
        mitbih.beat_windows(mitdb_dir, ["100"], window=(0.6,))


def test_window_mask():
    keep = mitbih.window_mask([0, 10, 89, 90, 95], 100, 10, 10)
    assert keep.tolist() == [False, True, True, True, False]


# ----------------------------------------------------------------------------- protocols


def test_protocols(mitdb_dir):
    table = mitbih.beat_table(mitdb_dir)
    inter = mitbih.protocol_split(table, "inter")
    assert set(table["record"][inter == "train"]) == set(mitbih.DS1)
    assert set(table["record"][inter == "test"]) == set(mitbih.DS2)
    assert set(table["record"][inter == ""]) == set(mitbih.PACED_RECORDS)
    intra = mitbih.protocol_split(table, "intra", seed=0)
    assert 0.19 < np.mean(intra == "test") < 0.21
    # every record is on both sides of the beat-level split (the leakage of that protocol)
    assert set(table["record"][intra == "test"]) == set(table["record"][intra == "train"])
    # a beat's split depends on (seed, record, sample) only, not on the other records loaded
    alone = mitbih.protocol_split(table[table["record"] == "100"], "intra", seed=0)
    np.testing.assert_array_equal(alone, intra[(table["record"] == "100").to_numpy()])
    assert not np.array_equal(mitbih.protocol_split(table, "intra", seed=1), intra)
    with pytest.raises(ValueError, match=r"Unknown split protocol. Did you mean 'inter'"):
        mitbih.protocol_split(table, "interr")


# ----------------------------------------------------------------------------- images


def test_render_real_beat(mitdb_dir):
    w = mitbih.beat_windows(mitdb_dir, ["100"])
    img = render_beat_image(w.signals[10])
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    assert img.max() == 255 and img.min() < 64  # a dark trace on white
    np.testing.assert_array_equal(img[..., 0], img[..., 2])  # black trace: grey in RGB
    assert (img < 128).mean() < 0.1


# ----------------------------------------------------------------------------- bundle


def test_bundle_of_two_records(mitdb_dir, tmp_path):
    out, counts = mitbih.write_beat_bundle(mitdb_dir, tmp_path / "b.h5", records=["100", "103"],
                                           size=32, render_size=64, progress=False)
    b = read_bundle(out)
    expected = mitbih.aami_counts(mitdb_dir, ["100", "103"])
    assert b.class_names == ["F", "N", "Q", "S", "V"] and b.task == "multiclass"
    assert b.images.shape == (len(b), 32, 32, 1) and b.images.dtype == np.uint8
    assert len(b) == expected.sum() - counts.loc["total", "dropped near ends"]
    assert counts.loc["total", "annotated"] == expected.sum()
    got = dict(zip(b.class_names, b.labels.sum(0).astype(int)))
    for cls in mitbih.AAMI_CLASSES:
        assert got[cls] == expected[cls] - counts.loc[cls, "dropped near ends"]
    assert set(b.patient_id) == {"100", "103"} and b.image_id[0] == "100_000370"
    np.testing.assert_array_equal(b.split, b.meta("split_inter"))
    assert set(b.split) == {"test"}  # 100 and 103 are DS2 records
    intra = b.meta("split_intra")
    assert set(intra) == {"train", "test"} and 0.15 < np.mean(intra == "test") < 0.25
    assert b.attrs["r_index"] == 216 and b.attrs["max_per_class"] == 0
    # a seeded subset keeps each beat's split
    sub, _ = mitbih.write_beat_bundle(mitdb_dir, tmp_path / "s.h5", records=["100", "103"],
                                      size=32, render_size=64, max_per_class=20, progress=False)
    s = read_bundle(sub)
    assert dict(zip(s.class_names, s.labels.sum(0).astype(int))) == {
        c: min(20, n) for c, n in got.items()}  # {F: 0, N: 20, Q: 0, S: 20, V: 1}
    where = {i: k for k, i in enumerate(b.image_id)}
    k = [where[i] for i in s.image_id]
    np.testing.assert_array_equal(s.meta("split_intra"), intra[k])
    np.testing.assert_array_equal(s.images, b.images[k])
    with pytest.raises(FileExistsError, match="--overwrite"):
        mitbih.write_beat_bundle(mitdb_dir, sub, records=["100"])


def test_prep_cli_prints_counts(mitdb_dir, tmp_path, capsys):
    rc = mitbih.main(["--raw", str(mitdb_dir), "--out", str(tmp_path / "x.h5"), "--records", "100",
                      "--max-per-class", "10", "--size", "16", "--render-size", "32",
                      "--no-progress"])
    text = capsys.readouterr().out
    assert rc == 0 and "all (48 records)   90631  2781  7236  803  8043  109494" in text
    assert "dropped near ends" in text and (tmp_path / "x.h5").is_file()
    assert mitbih.main(["--raw", str(tmp_path / "nowhere")]) == 2


def test_aami_totals_constant_matches_the_module_docstring():
    assert mitbih.AAMI_TOTALS == {"N": 90631, "S": 2781, "V": 7236, "F": 803, "Q": 8043}


# ----------------------------------------------------------------------------- model


def test_mitbih_vgg16_parameter_counts_equal_table_2():
    model = heartcv.build_model("mitbih_vgg16", backbone_weights=None)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert (model.count_params(), trainable, frozen) == (65_075_013, 50_360_325, 14_714_688)
    names = [layer.name for layer in model.layers]
    assert names[-6:] == ["flatten", "fc1", "dropout", "fc2", "dropout_1", "predictions"]
    assert model.get_layer("block5_pool").output.shape[1:] == (4, 4, 512)
    assert model.output.shape[1:] == (5,)


ILL_CASES = [
    ({"input_shape": (None, None, 3)}, ValueError, r"Expected a fixed `input_shape`"),
    ({"hidden_units": 0}, ValueError, r"Expected `hidden_units` >= 1. Received: hidden_units=0"),
    ({"dropout": 1.0}, ValueError, r"Expected `dropout` in \[0, 1\). Received: dropout=1.0"),
    ({"backbone": "vgg61"}, ValueError, r"Unknown backbone 'vgg61'. Did you mean 'vgg16'"),
]


@pytest.mark.parametrize("kwargs, exc, message", ILL_CASES)
def test_mitbih_vgg16_illegal_arguments(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        heartcv.build_model("mitbih_vgg16", **{"backbone_weights": None,
                                                "input_shape": (32, 32, 3), **kwargs})

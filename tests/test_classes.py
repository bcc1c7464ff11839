"""Class-safe evaluation: a model's class names against a bundle's, and `--class-map`."""

import json

import numpy as np
import pytest

from heartcv.classes import align_targets, check_class_names, parse_class_map

LEADS28 = ["myocardial_infarction", "history_of_mi", "covid19"]  # a leads28 model's classes


def test_parse_class_map():
    assert parse_class_map(None) == {} and parse_class_map(" ") == {}
    assert parse_class_map("MI=myocardial_infarction, old MI = history_of_mi") == {
        "MI": "myocardial_infarction", "old MI": "history_of_mi"}


@pytest.mark.parametrize("text, match", [
    ("MI", r"old=new"), ("MI=", r"old=new"), ("=x", r"old=new"),
    ("a=x,a=y", r"'a' twice"),
])
def test_parse_class_map_refuses(text, match):
    with pytest.raises(ValueError, match=match):
        parse_class_map(text)


def test_check_class_names():
    assert check_class_names(LEADS28, LEADS28).tolist() == [0, 1, 2]
    assert check_class_names(LEADS28, ["covid19", "myocardial_infarction"]).tolist() == [2, 0]
    cols = check_class_names(LEADS28, ["MI", "COVID"], {"MI": "myocardial_infarction",
                                                       "COVID": "covid19"})
    assert cols.tolist() == [0, 2]
    np.testing.assert_array_equal(align_targets([[1, 0], [0, 1]], cols, 3),
                                  [[1, 0, 0], [0, 0, 1]])


@pytest.mark.parametrize("data, class_map, match", [
    (["normal", "myocardial_infarction"], None,
     r"^Class names differ: m.keras has \['myocardial_infarction', 'history_of_mi', 'covid19'\], "
     r"b.h5 has \['normal', 'myocardial_infarction'\]; pass --class-map"),
    (["MI"], {"MI": "nope"}, r"maps onto \['nope'\], not a class of m.keras"),
    (["MI"], {"PMI": "history_of_mi"}, r"names \['PMI'\], not a class of b.h5"),
    (["MI", "AMI"], {"MI": "myocardial_infarction", "AMI": "myocardial_infarction"},
     r"one bundle class per model class"),
])
def test_check_class_names_refuses(data, class_map, match):
    with pytest.raises(ValueError, match=match):
        check_class_names(LEADS28, data, class_map, model="m.keras", data="b.h5")


@pytest.fixture(scope="module")
def leads_model(tmp_path_factory):
    """A tiny leads28-like classifier (28 x 28 x 13 → 3 classes) with its card."""
    import keras

    root = tmp_path_factory.mktemp("model")
    inp = keras.Input((28, 28, 13))
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(inp)
    out = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    path = root / "m.keras"
    keras.Model(inp, out).save(path)
    path.with_suffix(".card.json").write_text(json.dumps(
        {"model": "tiny", "task": "multiclass", "class_names": LEADS28, "input_size": [28, 28]}))
    return path


def _bundle(path, names):
    from heartcv.data.bundle import write_bundle

    n, k = 12, len(names)
    rng = np.random.default_rng(0)
    labels = np.eye(k, dtype=np.float32)[np.arange(n) % k]
    write_bundle(path, rng.integers(0, 255, (n, 28, 28, 13), dtype=np.uint8), labels=labels,
                 patient_id=[f"p{i}" for i in range(n)], split=["test"] * n, class_names=names,
                 task="multiclass", source="test")
    return path


def test_cli_evaluate_refuses_other_class_names_then_maps_them(leads_model, tmp_path, capsys):
    from heartcv.cli import main

    data = _bundle(tmp_path / "printouts.h5", ["MI", "history of MI", "COVID"])
    args = ["evaluate", str(leads_model), "--data", str(data), "--out", str(tmp_path / "ev")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "['myocardial_infarction', 'history_of_mi', 'covid19']" in err
    assert "['MI', 'history of MI', 'COVID']" in err
    assert not (tmp_path / "ev" / "metrics.json").exists()

    assert main(args + ["--class-map", "MI=myocardial_infarction,history of MI=history_of_mi,"
                                       "COVID=covid19"]) == 0
    capsys.readouterr()
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["n_samples"] == 12 and m["class_map"]["COVID"] == "covid19"
    assert m["class_names"] == LEADS28

    assert main(args + ["--class-map", "MI"]) == 2  # malformed: one line, exit 2
    assert "old=new" in capsys.readouterr().err


def test_evaluate_scores_a_subset_in_the_models_columns(leads_model, tmp_path):
    """The MI and history-of-MI sheets of another source, in the other order: scored in the
    model's columns, by name."""
    from heartcv.evaluate import predict_bundle

    data = _bundle(tmp_path / "mi.h5", ["history_of_mi", "myocardial_infarction"])
    p = predict_bundle(leads_model, data, "test", None)
    assert p["class_names"] == LEADS28
    assert p["targets"].shape == (12, 3) and p["targets"][:, 2].sum() == 0
    np.testing.assert_array_equal(p["targets"][:, [1, 0]], np.eye(2)[np.arange(12) % 2])

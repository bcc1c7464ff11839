"""cxr14 transfer-learning models and weighted loss: builders, freezing, loss by hand, reload."""

import types

import keras
import numpy as np
import pytest

import heartcv
from heartcv.data.batches import label_frequencies
from heartcv.losses import WeightedBinaryCrossentropy
from heartcv.papers.cxr14_transfer_learning.models import cxr14_transfer

MODELS = ("cxr14_densenet121", "cxr14_resnet50")


def _images(n=3, side=32, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, side, side, 3)).astype("float32")


@pytest.mark.parametrize("name", MODELS)
def test_registered_multilabel_sigmoid_head(name):
    spec = heartcv.get_spec(name)
    assert spec.task == "multilabel" and spec.paper == "cxr14_transfer_learning"
    assert spec.parameters()["backbone_weights"] == "imagenet"  # the paper's default
    model = heartcv.build_model(name, input_shape=(32, 32, 3), backbone_weights=None)
    head = model.get_layer("predictions")
    assert model.layers[-1] is head and head.units == 14
    assert head.activation.__name__ == "sigmoid"
    pooled_by = model.get_layer(head.input._keras_history[0].name)
    assert isinstance(pooled_by, keras.layers.GlobalAveragePooling2D)
    y = model.predict(_images(), verbose=0)
    assert y.shape == (3, 14) and np.all((y > 0) & (y < 1))
    # independent sigmoids: rows do not sum to one as a softmax would
    assert not np.allclose(y.sum(axis=1), 1.0, atol=1e-3)


def test_freeze_backbone_options():
    frozen = cxr14_transfer(input_shape=(32, 32, 3), backbone_weights=None, freeze_backbone=True)
    assert [w.name for w in frozen.trainable_weights] == ["kernel", "bias"]
    assert frozen.get_layer("predictions").trainable
    auto = cxr14_transfer(input_shape=(32, 32, 3), backbone_weights=None)  # from scratch: trained
    assert len(auto.trainable_weights) > 100 and all(layer.trainable for layer in auto.layers)


ILL_CASES = [
    ({"dropout": 1.0}, "Expected `dropout` in [0, 1)"),
    ({"num_classes": 0}, "Expected `num_classes` >= 1"),
    ({"input_shape": (32, 32)}, "Expected `input_shape` as (height, width, channels)"),
    ({"classifier_activation": "relu"}, "Expected `classifier_activation` in"),
    ({"freeze_backbone": "yes"}, "Expected `freeze_backbone` in"),
    ({"freeze_backbone": 1}, "Expected `freeze_backbone` in"),
    ({"backbone": "densenet12"}, "Did you mean 'densenet121'"),
    ({"normalization": "percentil"}, "Did you mean 'percentile'"),
    ({"normalization": "minmax"}, "Received: normalization='minmax'"),
]


@pytest.mark.parametrize("kwargs,message", ILL_CASES)
def test_ill_arguments(kwargs, message):
    args = {"input_shape": (32, 32, 3), "backbone_weights": None, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("`", "`")):
        cxr14_transfer(**args)


def test_missing_local_weights_file_is_named(tmp_path):
    missing = tmp_path / "densenet121_notop.h5"
    with pytest.raises(FileNotFoundError, match="densenet121_weights_tf_dim_ordering"):
        cxr14_transfer(input_shape=(32, 32, 3), backbone_weights=str(missing))


# ----------------------------------------------------------------------------- the loss

TRAIN = np.array([[1, 0, 1], [0, 0, 1], [0, 1, 1], [0, 0, 0]], np.float32)  # f+ = .25 .25 .75
VAL = np.array([[1, 1, 0], [1, 1, 0]], np.float32)  # different frequencies: must not be used


def _hand_loss(y, p, wp, wn):
    """Mean over images of the mean over known labels of -(w+ y log p + w- (1-y) log(1-p))."""
    per_image = []
    for yi, pi in zip(y, p):
        terms = [-(wp[k] * np.log(pi[k])) if yi[k] == 1 else -(wn[k] * np.log(1 - pi[k]))
                 for k in range(len(yi)) if not np.isnan(yi[k])]
        per_image.append(sum(terms) / len(terms))
    return float(np.mean(per_image))


def test_weighted_loss_matches_hand_computation():
    f = label_frequencies(TRAIN)
    np.testing.assert_allclose(f["positive"], [0.25, 0.25, 0.75])
    loss = WeightedBinaryCrossentropy.from_frequencies(f["positive"])
    # positive weight = negative frequency, negative weight = positive frequency
    assert loss.positive_weights == [0.75, 0.75, 0.25]
    assert loss.negative_weights == [0.25, 0.25, 0.75]
    y = np.array([[1, 0, np.nan], [0, 1, 1]], np.float32)
    p = np.array([[0.9, 0.2, 0.5], [0.3, 0.6, 0.8]], np.float32)
    expected = _hand_loss(y, p, [0.75, 0.75, 0.25], [0.25, 0.25, 0.75])
    # by hand: image 1 = (0.75*-ln .9 + 0.25*-ln .8)/2, image 2 = (0.25*-ln .7 + 0.75*-ln .6
    # + 0.25*-ln .8)/3
    by_hand = ((0.75 * -np.log(0.9) + 0.25 * -np.log(0.8)) / 2
               + (0.25 * -np.log(0.7) + 0.75 * -np.log(0.6) + 0.25 * -np.log(0.8)) / 3) / 2
    assert expected == pytest.approx(by_hand, rel=1e-6)
    assert float(loss(y, p)) == pytest.approx(by_hand, rel=1e-5)


def test_engine_weights_come_from_the_training_split_only():
    from heartcv.config import load_config
    from heartcv.train import make_loss

    data = types.SimpleNamespace(task="multilabel", splits={
        "train": types.SimpleNamespace(targets=TRAIN), "val": types.SimpleNamespace(targets=VAL)})
    loss = make_loss(load_config(None, ["train.loss=weighted_bce"]), data)
    assert isinstance(loss, WeightedBinaryCrossentropy)
    np.testing.assert_allclose(loss.negative_weights, [0.25, 0.25, 0.75])


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_model_with_weighted_loss_reloads_without_custom_objects(tmp_path, ext):
    # The loss is what is checked; a small model keeps the test fast (the cxr14 models'
    # own round trips are in tests/test_models.py).
    model = heartcv.build_model("small_cnn", input_shape=(32, 32, 3), num_classes=3,
                                filters=(4, 8), classifier_activation="sigmoid")
    model.compile(optimizer="adam",
                  loss=WeightedBinaryCrossentropy.from_frequencies([0.25, 0.25, 0.75]))
    x, y = _images(4, seed=1), TRAIN
    before = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    path = heartcv.save_model(model, tmp_path / f"cxr14{ext}")
    loaded = keras.models.load_model(path)  # compile=True, no custom_objects
    assert isinstance(loaded.loss, WeightedBinaryCrossentropy)
    assert loaded.loss.positive_weights == [0.75, 0.75, 0.25]
    after = loaded.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert after == pytest.approx(before, rel=1e-5)

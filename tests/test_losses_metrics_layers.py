import numpy as np
import pytest

import keras

import heartcv
from heartcv.layers import ImagePreprocessing
from heartcv.losses import BCEDiceLoss, DiceLoss, WeightedBinaryCrossentropy
from heartcv.metrics import DiceCoefficient, MaskIoU


def test_weighted_bce_hand_computed():
    loss = WeightedBinaryCrossentropy.from_frequencies([0.2, 0.5])  # w+ = [0.8, 0.5], w- = [0.2, 0.5]
    y = np.array([[1.0, 0.0], [0.0, np.nan]], "float32")
    p = np.array([[0.9, 0.3], [0.4, 0.99]], "float32")
    row1 = (-(0.8 * np.log(0.9)) + -(0.5 * np.log(0.7))) / 2
    row2 = -(0.2 * np.log(0.6))  # the NaN label is ignored
    assert float(loss(y, p)) == pytest.approx((row1 + row2) / 2, rel=1e-5)


def test_weighted_bce_config_round_trip_and_reload(tmp_path):
    loss = WeightedBinaryCrossentropy([0.7, 0.6], [0.3, 0.4])
    again = WeightedBinaryCrossentropy.from_config(loss.get_config())
    assert again.positive_weights == [0.7, 0.6] and again.negative_weights == [0.3, 0.4]
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="sigmoid", name="predictions")(inputs))
    model.compile(optimizer="adam", loss=loss)
    x = np.random.default_rng(0).normal(size=(8, 2)).astype("float32")
    y = (x > 0).astype("float32")
    before = model.evaluate(x, y, verbose=0)
    for ext in (".keras", ".h5"):
        path = heartcv.save_model(model, tmp_path / f"m{ext}")
        reloaded = keras.models.load_model(path)  # no custom_objects
        assert reloaded.evaluate(x, y, verbose=0) == pytest.approx(before, rel=1e-5)


def test_weighted_bce_length_mismatch():
    with pytest.raises(ValueError, match="equal length"):
        WeightedBinaryCrossentropy([0.5], [0.5, 0.5])


def test_dice_losses_and_metrics():
    t = np.zeros((1, 4, 4, 1), "float32")
    t[0, :2, :, 0] = 1  # 8 pixels
    p = np.zeros_like(t)
    p[0, :1, :, 0] = 1  # 4 pixels, all inside
    assert float(DiceLoss(smooth=0.0)(t, p)) == pytest.approx(1 - 2 * 4 / 12, abs=1e-6)
    bce_dice = float(BCEDiceLoss(smooth=0.0)(t, p))
    assert bce_dice > float(DiceLoss(smooth=0.0)(t, p))
    d, i = DiceCoefficient(), MaskIoU()
    d.update_state(t, p)
    i.update_state(t, p)
    assert float(d.result()) == pytest.approx(8 / 12)
    assert float(i.result()) == pytest.approx(4 / 8)
    assert DiceCoefficient.from_config(d.get_config()).threshold == 0.5


@pytest.mark.parametrize("mode, pixel, expected", [
    ("unit", [255.0, 0.0, 127.5], [1.0, 0.0, 0.5]),
    ("tf", [255.0, 0.0, 127.5], [1.0, -1.0, 0.0]),
    ("torch", [255.0, 255.0, 255.0], [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]),
    ("caffe", [10.0, 20.0, 30.0], [30 - 103.939, 20 - 116.779, 10 - 123.68]),
    ("none", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
])
def test_image_preprocessing_modes(mode, pixel, expected):
    x = np.array(pixel, "float32").reshape(1, 1, 1, 3)
    out = np.asarray(ImagePreprocessing(mode)(x)).ravel()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_image_preprocessing_minmax_and_config():
    x = np.array([10.0, 60.0, 110.0], "float32").reshape(1, 1, 3, 1)
    np.testing.assert_allclose(np.asarray(ImagePreprocessing("minmax")(x)).ravel(), [0, 0.5, 1], atol=1e-6)
    layer = ImagePreprocessing.from_config(ImagePreprocessing("tf", name="p").get_config())
    assert layer.mode == "tf" and layer.name == "p"
    with pytest.raises(ValueError, match=r"Expected `mode` in .* Received: mode='bgr'"):
        ImagePreprocessing("bgr")

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



# ------------------------------------------------------------------ partial labels


def _plain_bce_dice(y, p, smooth=1.0):
    """BCEDiceLoss before partial labels, per image (the formula it must still give)."""
    from keras import ops

    y, p = ops.cast(y, "float32"), ops.cast(p, "float32")
    bce = ops.mean(keras.losses.binary_crossentropy(y, p), axis=(1, 2))
    inter = ops.sum(y * p, axis=(1, 2, 3))
    total = ops.sum(y, axis=(1, 2, 3)) + ops.sum(p, axis=(1, 2, 3))
    dice = (2.0 * inter + smooth) / (total + smooth)
    return bce + (1.0 - dice)


def _masks_and_probs(n=4, size=8, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, size, size, k)) > 0.6).astype("float32")
    p = rng.uniform(0.01, 0.99, (n, size, size, k)).astype("float32")
    return y, p


def test_masked_losses_equal_the_plain_losses_when_nothing_is_missing():
    y, p = _masks_and_probs()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(BCEDiceLoss().call(y, p)),
                                  keras.ops.convert_to_numpy(_plain_bce_dice(y, p)))  # bit for bit
    from keras import ops

    inter = ops.sum(y * p, axis=(1, 2, 3))
    dice = (2.0 * inter + 1.0) / (ops.sum(y, axis=(1, 2, 3)) + ops.sum(p, axis=(1, 2, 3)) + 1.0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(DiceLoss().call(y, p)),
                                  keras.ops.convert_to_numpy(1.0 - dice))
    # gradients too: the selected plain branch, the masked one contributing exact zeros
    import tensorflow as tf

    pv = tf.Variable(p)
    with tf.GradientTape() as tape:
        new = BCEDiceLoss()(y, pv)
    with tf.GradientTape() as tape2:
        old = tf.reduce_mean(_plain_bce_dice(y, pv))
    np.testing.assert_array_equal(new.numpy(), old.numpy())
    np.testing.assert_array_equal(tape.gradient(new, pv).numpy(), tape2.gradient(old, pv).numpy())


def test_masked_losses_and_metrics_ignore_sentinel_channels():
    from heartcv.losses import MISSING_MASK

    y, p = _masks_and_probs(k=2)
    y3 = np.concatenate([y, np.full(y.shape[:3] + (1,), MISSING_MASK, "float32")], axis=-1)
    for noise in (0.02, 0.97):  # whatever the model says on the unlabelled channel
        p3 = np.concatenate([p, np.full(p.shape[:3] + (1,), noise, "float32")], axis=-1)
        for loss in (BCEDiceLoss(), DiceLoss()):
            np.testing.assert_allclose(keras.ops.convert_to_numpy(loss.call(y3, p3)),
                                       keras.ops.convert_to_numpy(loss.call(y, p)), rtol=1e-6)
        for metric in (DiceCoefficient, MaskIoU):
            a, b = metric(), metric()
            a.update_state(y3, p3)
            b.update_state(y, p)
            assert float(a.result()) == pytest.approx(float(b.result()), rel=1e-6)
    # one image with a second channel unlabelled: only its first channel counts
    y_part = y.copy()
    y_part[0, ..., 1] = MISSING_MASK
    got = keras.ops.convert_to_numpy(BCEDiceLoss(smooth=0.0).call(y_part, p))[0]
    want = BCEDiceLoss(smooth=0.0).call(y[:1, ..., :1], p[:1, ..., :1])
    assert got == pytest.approx(float(keras.ops.convert_to_numpy(want)[0]), rel=1e-6)
    # no gradient reaches an unlabelled channel
    import tensorflow as tf

    pv = tf.Variable(np.concatenate([p, np.full(p.shape[:3] + (1,), 0.3, "float32")], axis=-1))
    with tf.GradientTape() as tape:
        value = BCEDiceLoss()(y3, pv)
    grad = tape.gradient(value, pv).numpy()
    assert np.all(grad[..., 2] == 0) and np.any(grad[..., :2] != 0)
    # an image with no labelled channel: zero loss, left out of the Dice mean
    y_none = y3.copy()
    y_none[1] = MISSING_MASK
    p3 = np.concatenate([p, np.zeros(p.shape[:3] + (1,), "float32")], axis=-1)
    assert float(keras.ops.convert_to_numpy(BCEDiceLoss().call(y_none, p3))[1]) == 0.0
    a, b = DiceCoefficient(), DiceCoefficient()
    a.update_state(y_none, p3)
    b.update_state(np.delete(y3, 1, axis=0), np.delete(p3, 1, axis=0))
    assert float(a.result()) == pytest.approx(float(b.result()), rel=1e-6)

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

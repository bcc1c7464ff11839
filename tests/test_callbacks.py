"""TensorBoard sample images (issue 25): at least 192 px, labels drawn at that size."""

import keras
import numpy as np
import pytest

from heartcv.callbacks import (DISPLAY_SIZE, ImageSummary, draw_label, render_predictions,
                               upscale_for_display)


def test_upscale_for_display_by_a_whole_factor():
    x = np.arange(32 * 40, dtype=np.int64).reshape(32, 40).astype(np.uint8)
    y = upscale_for_display(x)
    assert DISPLAY_SIZE == 192 and y.shape == (192, 240)  # 6 x: every pixel a 6 x 6 block
    np.testing.assert_array_equal(y[::6, ::6], x)
    assert upscale_for_display(np.zeros((50, 50, 3), np.uint8)).shape == (200, 200, 3)
    assert upscale_for_display(np.zeros((16, 16, 1), np.uint8)).shape == (192, 192, 1)
    big = np.zeros((224, 224, 3), np.uint8)
    assert upscale_for_display(big) is big and upscale_for_display(x, None) is x


def _label_height(rgb):
    """Rows spanned by the label's yellow text in the top-left corner."""
    yellow = (rgb[..., 0] > 150) & (rgb[..., 1] > 150) & (rgb[..., 2] < 100)
    rows = np.nonzero(yellow[:40, :120].any(axis=1))[0]
    return 0 if not len(rows) else int(rows.max() - rows.min() + 1)


def test_labels_are_legible_at_display_size():
    rgb = draw_label(np.full((192, 192, 3), 128, np.uint8), "p=0.93")
    assert _label_height(rgb) >= 12  # the old label: 6 rows on a 32 px image, 10 on 96 px
    assert (rgb[2, 2] == 0).all()  # on a black box, whatever the image below


def _tiny_model(size=32):
    inp = keras.Input((size, size, 1))
    x = keras.layers.GlobalAveragePooling2D()(inp)
    return keras.Model(inp, keras.layers.Dense(1, activation="sigmoid", name="predictions")(x))


def _written_images(log_dir):
    tf = pytest.importorskip("tensorflow")
    out = []
    for path in sorted(log_dir.rglob("events.out.tfevents*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == "validation_samples":
                    blobs = tf.make_ndarray(value.tensor)  # [width, height, png, png, ...]
                    out += [tf.io.decode_png(b).numpy() for b in blobs[2:]]
    return out


def test_image_summary_writes_images_of_at_least_192_px(tmp_path):
    pytest.importorskip("tensorflow")
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 1)).astype(np.float32)
    model = _tiny_model()
    rendered = render_predictions(model, images, "binary")
    assert rendered.shape == (3, 192, 192, 3) and _label_height(rendered[0]) >= 12
    for name, render in [("engine", lambda m, x: render_predictions(m, x, "binary")),
                         ("plain", lambda m, x: np.repeat(x, 3, axis=-1).astype(np.uint8))]:
        cb = ImageSummary(tmp_path / name, images, render)
        cb.set_model(model)
        cb.on_epoch_end(0)
        cb.on_train_end()
        written = _written_images(tmp_path / name)
        assert len(written) == 3 and all(w.shape == (192, 192, 3) for w in written), name

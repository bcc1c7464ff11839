"""Explanations: known-answer Grad-CAM/CAM/saliency on tiny models, AMM maps, overlays."""

import warnings

import cv2
import keras
import numpy as np
import pytest

import heartcv
from heartcv import explain
from heartcv.explain.gradients import feature_tensor, gradcam_raw
from heartcv.localization import mass_inside
from heartcv.models import attention_model

S = 32
TOP_LEFT = np.zeros((S, S), bool)
TOP_LEFT[: S // 2, : S // 2] = True
BOTTOM_RIGHT = TOP_LEFT[::-1, ::-1]


def two_blob_images(n=3, seed=0):
    """A red blob in the top-left quadrant and a green blob in the bottom-right one."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:S, 0:S]
    x = np.zeros((n, S, S, 3), np.float32)
    for i in range(n):
        (ry, rx), (gy, gx) = rng.uniform(4, 12, size=(2, 2))
        x[i, ..., 0] = 200 * np.exp(-((yy - ry) ** 2 + (xx - rx) ** 2) / 8.0)
        x[i, ..., 1] = 200 * np.exp(-((yy - 31 + gy) ** 2 + (xx - 31 + gx) ** 2) / 8.0)
    return x


def channel_model(channel):
    """Features = (red, green); the nonlinear head reads only ``channel``: the answer is known."""
    inp = keras.Input((S, S, 3), name="image")
    f = keras.layers.Conv2D(2, 1, use_bias=False, activation="relu", name="features")(inp)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(f)
    x = keras.layers.Dense(4, activation="elu", name="hidden")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="predictions")(x)
    model = keras.Model(inp, out)
    model.get_layer("features").set_weights([np.eye(3, 2, dtype="float32")[None, None]])
    hidden = np.zeros((2, 4), "float32")
    hidden[channel] = [0.02, 0.01, 0.03, 0.02]
    model.get_layer("hidden").set_weights([hidden, np.zeros(4, "float32")])
    model.get_layer("predictions").set_weights([np.ones((4, 1), "float32"), np.zeros(1, "float32")])
    return model


@pytest.fixture(scope="module")
def cxa():
    return heartcv.build_model("cxa_densenet121")  # (None, None, 3): any size


@pytest.fixture(scope="module")
def small():
    model = heartcv.build_model("small_cnn", input_shape=(S, S, 3))
    pred = model.get_layer("predictions")
    kernel, bias = pred.get_weights()
    pred.set_weights([np.abs(kernel), bias])  # positive evidence, so maps are not all zero
    return model


@pytest.mark.parametrize("plus", [False, True])
def test_gradcam_follows_the_channel_the_class_reads(plus):
    x = two_blob_images()
    for channel, region, other in ((0, TOP_LEFT, BOTTOM_RIGHT), (1, BOTTOM_RIGHT, TOP_LEFT)):
        model = channel_model(channel)
        assert explain.default_target_layer(model) == "features"
        maps = explain.gradcam(model, x, plus=plus)
        assert maps.shape == (3, S, S) and maps.dtype == np.float32
        assert maps.min() >= 0 and np.allclose(maps.max(axis=(1, 2)), 1.0)
        assert np.all(mass_inside(maps, np.stack([region] * 3)) > 0.9)
        assert np.all(mass_inside(maps, np.stack([other] * 3)) < 0.02)


def test_gradcam_plus_plus_closed_form():
    # logit = a·mean(red) + b·mean(green): dS/dA_k = g_k = w_k / Z everywhere, so Eq. 19 gives
    # alpha_k = 1 / (2 + S_k g_k) (S_k = Σ A_k) and w_k = Z alpha_k g_k — unlike Grad-CAM's g_k
    inp = keras.Input((S, S, 3), name="image")
    f = keras.layers.Conv2D(2, 1, use_bias=False, activation="relu", name="features")(inp)
    g = keras.layers.GlobalAveragePooling2D(name="gap")(f)
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid", name="predictions")(g))
    model.get_layer("features").set_weights([np.eye(3, 2, dtype="float32")[None, None]])
    w = np.array([1.0, 3.0])
    model.get_layer("predictions").set_weights([w[:, None].astype("float32"),
                                                np.zeros(1, "float32")])
    x = two_blob_images()
    a = x[..., :2].astype(np.float64)
    grad = w / (S * S)
    weights = grad / (2 + a.sum(axis=(1, 2)) * grad)  # (N, 2)
    expected = np.einsum("nhwk,nk->nhw", a, weights)
    expected /= expected.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(explain.gradcam(model, x, plus=True), expected, atol=1e-5)
    plain = np.einsum("nhwk,k->nhw", a, w)
    assert not np.allclose(expected, plain / plain.max(axis=(1, 2), keepdims=True), atol=1e-2)


def test_cam_falls_back_to_gradcam_for_nonlinear_head():
    model = channel_model(0)
    x = two_blob_images()
    assert explain.linear_gap_head(model) is None
    with pytest.raises(ValueError, match="CAM is defined only"):
        explain.class_activation_map(model, x, strict=True)
    np.testing.assert_allclose(explain.class_activation_map(model, x),
                               explain.gradcam(model, x, layer="features"), atol=1e-6)


def test_strict_cam_equals_gradcam_and_hand_computation(small):
    x = np.random.default_rng(1).uniform(0, 255, (4, S, S, 3)).astype("float32")
    assert explain.linear_gap_head(small).name == "gap"
    cam = explain.class_activation_map(small, x, strict=True)
    assert cam.max() == pytest.approx(1.0)
    np.testing.assert_allclose(cam, explain.gradcam(small, x, layer="block4_pool"), atol=1e-5)
    probe = keras.Model(small.inputs[0], small.get_layer("block4_pool").output)
    feats = np.asarray(probe(x, training=False))
    w = small.get_layer("predictions").get_weights()[0][:, 0]
    raw = np.maximum(np.einsum("nhwk,k->nhw", feats, w), 0)
    hand = np.stack([cv2.resize(r, (S, S), interpolation=cv2.INTER_LINEAR) for r in raw])
    np.testing.assert_allclose(cam, hand / hand.max(axis=(1, 2), keepdims=True), atol=1e-5)


def test_gradcam_matches_tf_keras_vis():
    with warnings.catch_warnings():  # tf-keras-vis imports scipy.ndimage.interpolation
        warnings.simplefilter("ignore", DeprecationWarning)
        from tf_keras_vis.gradcam import Gradcam

    init = keras.initializers.GlorotUniform(seed=3)
    inp = keras.Input((S, S, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(8, 3, activation="relu", kernel_initializer=init, name="c1")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", kernel_initializer=init, name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(8, activation="elu", kernel_initializer=init)(x)
    out = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=init,
                             name="predictions")(x)
    model = keras.Model(inp, out)
    images = np.random.default_rng(2).uniform(0, 255, (6, S, S, 3)).astype("float32")
    ours, probs = gradcam_raw(model, images, feature_tensor(model, "c2"), 0)
    theirs = Gradcam(model, clone=False)(lambda o: o[:, 0], images, penultimate_layer="c2",
                                        seek_penultimate_conv_layer=False, expand_cam=False,
                                        normalize_cam=False)
    assert ours.max() > 0
    # tf-keras-vis differentiates the probability p = sigmoid(z): dp/dA = p(1 - p) dz/dA
    scale = (probs[:, 0] * (1 - probs[:, 0]))[:, None, None]
    np.testing.assert_allclose(np.asarray(theirs), scale * ours, rtol=1e-4, atol=1e-7)


def test_saliency_is_zero_where_the_output_does_not_look():
    inp = keras.Input((S, S, 3), name="image")
    x = keras.layers.Cropping2D(((0, S // 2), (0, S // 2)))(inp)  # top-left quadrant only
    x = keras.layers.Conv2D(4, 3, activation="relu",
                            kernel_initializer=keras.initializers.GlorotUniform(seed=0))(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid", name="predictions")(x))
    images = np.random.default_rng(0).uniform(0, 255, (2, S, S, 3)).astype("float32")
    vanilla = explain.saliency(model, images)
    smooth = explain.saliency(model, images, smooth_samples=4, seed=0)
    for m in (vanilla, smooth):
        assert m.shape == (2, S, S) and m.dtype == np.float32
        assert np.all(m[:, ~TOP_LEFT] == 0) and np.allclose(m.max(axis=(1, 2)), 1.0)
    np.testing.assert_array_equal(smooth, explain.saliency(model, images, smooth_samples=4, seed=0))
    assert not np.allclose(smooth, vanilla)
    # grey (N, H, W) input is repeated to the model's 3 channels
    assert explain.saliency(model, images[..., 0]).shape == (2, S, S)


@pytest.mark.parametrize("side", [64, 96])
def test_attention_maps_any_size(cxa, side):
    x = np.random.default_rng(side).uniform(0, 255, (3, side, side, 1)).astype("float32")
    probs, maps = explain.attention_maps(cxa, x)
    assert probs.shape == (3,) and maps.shape == (3, side, side) and maps.dtype == np.float32
    assert maps.min() >= 0 and maps.max() <= 1
    p, w = attention_model(cxa)([np.repeat(x, 3, axis=-1)], training=False)
    np.testing.assert_allclose(probs, np.asarray(p)[:, 0], rtol=1e-4, atol=1e-6)
    hand = np.stack([cv2.resize(m[..., 0], (side, side), interpolation=cv2.INTER_LINEAR)
                     for m in np.asarray(w)])
    np.testing.assert_allclose(maps, hand, atol=1e-5)


def test_batching_does_not_change_maps(small):
    x = np.random.default_rng(4).uniform(0, 255, (5, S, S, 3)).astype("float32")
    for fn in (explain.gradcam, explain.class_activation_map, explain.saliency):
        np.testing.assert_allclose(fn(small, x, batch_size=2), fn(small, x), atol=1e-5)


def test_gradcam_on_densenet_backbone(cxa):
    assert explain.default_target_layer(cxa) == "relu"
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    maps = explain.gradcam(cxa, x, plus=True)
    assert maps.shape == (2, 64, 64) and maps.min() >= 0 and maps.max() <= 1


def test_attention_renderer(cxa, small):
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    plain = explain.attention_renderer(annotate=False, min_size=None)(cxa, x)
    assert plain.shape == (2, 64, 64, 3) and plain.dtype == np.uint8
    _, maps = explain.attention_maps(cxa, x)
    np.testing.assert_array_equal(plain[1], explain.overlay(x[1], maps[1], alpha=0.2))
    xs = x[:, :S, :S]
    out = explain.attention_renderer(annotate=False, min_size=0)(small, xs)  # Grad-CAM
    assert out.shape == (2, S, S, 3) and out.dtype == np.uint8
    cams = explain.gradcam(small, xs, class_index=None)
    np.testing.assert_array_equal(out[0], explain.overlay(xs[0], cams[0]))
    # TensorBoard's default: enlarged by a whole factor to >= 192 px, then overlaid and labelled
    big = explain.attention_renderer(annotate=False)(small, xs)
    assert big.shape == (2, 192, 192, 3)
    upscaled = np.repeat(np.repeat(np.clip(xs[0], 0, 255).astype(np.uint8), 6, 0), 6, 1)
    np.testing.assert_array_equal(big[0], explain.overlay(upscaled, cams[0]))
    labelled = explain.attention_renderer()(small, xs)
    assert labelled.shape == big.shape and not np.array_equal(labelled, big)


def test_save_overlay_grid(tmp_path):
    x = two_blob_images(2)
    maps = explain.gradcam(channel_model(0), x)
    path = explain.save_overlay_grid(x[..., :1], {"red": maps, "green": maps[:, ::-1]},
                                     tmp_path / "fig" / "grid.png", titles=["y=1", "y=0"])
    img = cv2.imread(str(path))
    assert img is not None and img.shape[1] > img.shape[0]  # 5 columns, 2 rows
    assert sorted(p.name for p in path.parent.iterdir()) == ["grid.png"]
    with pytest.raises(ValueError, match="titles"):
        explain.save_overlay_grid(x, maps, tmp_path / "g.png", titles=["one"])
    with pytest.raises(ValueError, match="alpha"):
        explain.save_overlay_grid(x, maps, tmp_path / "g.png", alpha=2)


ILL_CASES = [
    (lambda m: explain.attention_maps(m, np.zeros((1, S, S, 3))), "no attention layer"),
    (lambda m: explain.gradcam(m, np.zeros((1, S, S, 3)), layer="block4_pol"), "Did you mean"),
    (lambda m: explain.gradcam(m, np.zeros((1, S, S, 3)), layer="gap"), "4-D"),
    (lambda m: explain.gradcam(m, np.zeros((1, S, S, 3)), class_index=1), "class_index"),
    (lambda m: explain.gradcam(m, np.zeros((S, S))), "images"),
    (lambda m: explain.gradcam(m, np.zeros((1, 48, 48, 3))), "resize"),
    (lambda m: explain.gradcam(m, np.zeros((1, S, S, 3)), batch_size=0), "batch_size"),
    (lambda m: explain.saliency(m, np.zeros((1, S, S, 3)), smooth_samples=-1), "smooth_samples"),
    (lambda m: explain.saliency(m, np.zeros((1, S, S, 3)), noise=0), "noise"),
]


@pytest.mark.parametrize("call, message", ILL_CASES)
def test_bad_arguments(small, call, message):
    with pytest.raises(ValueError, match=message):
        call(small)


# ------------------------------------------------------------------ backends (TensorFlow, JAX)

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]
JAX_PYTHON = REPO / ".venv-jax" / "bin" / "python"


def test_backend_reference_maps_are_tensorflows():
    """tests/fixtures/explain_backends.npz (which the JAX subset compares with) is still what
    TensorFlow computes: every map of every gradient method on the fixed-weight models."""
    from tests.jax import reference

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the reference maps are TensorFlow's")
    ref = np.load(reference.FIXTURE)
    got = reference.maps()
    assert sorted(got) == sorted(ref.files)
    for key in ref.files:
        np.testing.assert_allclose(got[key], ref[key], atol=1e-5, err_msg=key)


def test_gradcam_needs_no_tape_on_intermediate_tensors():
    """Grad-CAM at a layer whose output also bypasses it (concatenation) equals the gradient
    taken by hand through a model split at that layer."""
    from heartcv.explain import backend
    from tests.jax import reference

    model = reference.skip_model()
    x = reference.images(2)
    feature = model.get_layer("conv_c").output  # the rest of the graph depends on it only
    rest = keras.Model(feature, model.get_layer("predictions").input)
    head = keras.Model(model.inputs[0], feature)
    a = keras.ops.convert_to_numpy(head(x))
    kernel = keras.ops.convert_to_numpy(model.get_layer("predictions").kernel)

    def score(t):
        return keras.ops.matmul(rest(t), kernel)[:, 1]

    _, (g,) = backend.vjp(score, [a])
    cams = np.maximum(np.einsum("nhwk,nk->nhw", a, keras.ops.convert_to_numpy(g).mean((1, 2))),
                      0)
    got, _ = gradcam_raw(model, x, feature, class_index=1)
    np.testing.assert_allclose(got, cams, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_gradcam_agrees_between_tensorflow_and_jax(tmp_path):
    """The same saved model and image: Grad-CAM here (TensorFlow) and in .venv-jax (JAX, no
    TensorFlow) correlate >= 0.99 per image."""
    import subprocess

    from tests.jax import reference

    if not JAX_PYTHON.is_file():
        pytest.skip(f"{JAX_PYTHON} is absent (`make test-jax` creates it)")
    model = reference.small_cnn()
    x = reference.images(3)
    path = heartcv.save_model(model, tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", x)
    here = explain.gradcam(model, x, class_index=None)
    code = ("import sys, numpy as np, heartcv; from heartcv import explain; "
            "m = heartcv.load_model(sys.argv[1]); x = np.load(sys.argv[2]); "
            "np.save(sys.argv[3], explain.gradcam(m, x, class_index=None))")
    env = dict(__import__("os").environ, KERAS_BACKEND="jax")
    proc = subprocess.run([str(JAX_PYTHON), "-c", code, str(path), str(tmp_path / "x.npy"),
                           str(tmp_path / "jax.npy")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    there = np.load(tmp_path / "jax.npy")
    for a, b in zip(here, there):
        assert reference.correlation(a, b) >= 0.99

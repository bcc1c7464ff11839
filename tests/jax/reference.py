"""Fixed models and images whose explanation maps are compared across Keras backends.

Weights come from a NumPy generator (not Keras' initialisers, which differ by backend), so
TensorFlow and JAX build the very same models. ``tests/fixtures/explain_backends.npz`` holds
the maps computed under TensorFlow; ``tests/test_explain.py`` checks they are still what
TensorFlow gives, ``tests/jax/test_jax.py`` that JAX gives the same. Regenerate (TensorFlow
backend, after a deliberate change of the maps) with::

    .venv/bin/python -m tests.jax.reference
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "explain_backends.npz"
SIZE = 32


def _seeded(model, seed):
    """Overwrite every weight with seeded NumPy values (BN variances/scales kept positive)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        if w.path.endswith(("moving_variance", "gamma")):
            value = rng.uniform(0.5, 1.5, shape)
        elif w.path.endswith(("moving_mean", "beta", "bias")):
            value = rng.normal(0.0, 0.05, shape)
        else:
            fan_in = int(np.prod(shape[:-1])) or 1
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        w.assign(value.astype(w.dtype))
    return model


def skip_model():
    """A DenseNet-like graph: the explained layer's output also feeds a concatenation."""
    inp = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0, name="scale")(inp)
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_a")(x)
    b = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_b")(a)
    c = keras.layers.Concatenate(name="concat")([a, b])
    f = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="conv_c")(c)
    f = keras.layers.Activation("relu", name="relu")(f)
    g = keras.layers.GlobalAveragePooling2D(name="gap")(f)
    h = keras.layers.Dense(16, activation="elu", name="hidden")(g)
    out = keras.layers.Dense(3, activation="softmax", name="predictions")(h)
    return _seeded(keras.Model(inp, out, name="skip_model"), 1)


def small_cnn():
    import heartcv

    return _seeded(heartcv.build_model("small_cnn", input_shape=(SIZE, SIZE, 3)), 2)


def images(n=3, seed=0):
    """Smooth random blobs in [0, 255] (gradients vary, nothing saturates)."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (n, 8, 8, 3)).astype(np.float32)
    return np.stack([cv2.resize(im, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
                     for im in noise]).clip(0, 255).astype(np.float32)


def maps(models=None, x=None) -> dict:
    """name → maps of every gradient method on the reference models."""
    from heartcv import explain

    models = models or {"skip": skip_model(), "small": small_cnn()}
    x = images() if x is None else x
    out = {}
    for key, model in models.items():
        layer = "conv_b" if key == "skip" else None  # skip: a layer whose output branches
        out[f"{key}/probs"] = np.asarray(model.predict(x, verbose=0), np.float32)
        out[f"{key}/gradcam"] = explain.gradcam(model, x, layer=layer, class_index=None)
        out[f"{key}/gradcam++"] = explain.gradcam(model, x, layer=layer, plus=True)
        out[f"{key}/saliency"] = explain.saliency(model, x, class_index=None)
        out[f"{key}/smoothgrad"] = explain.saliency(model, x, smooth_samples=4, seed=3)
        out[f"{key}/cam"] = explain.class_activation_map(model, x)
    out["small/deep_taylor"] = explain.deep_taylor(models["small"], x)
    return out


def correlation(a, b) -> float:
    """Pearson correlation of two maps (1.0 when both are the same constant)."""
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    if a.std() == 0 or b.std() == 0:
        return 1.0 if np.allclose(a, b) else 0.0
    return float(np.corrcoef(a, b)[0, 1])


if __name__ == "__main__":
    if keras.backend.backend() != "tensorflow":
        raise SystemExit("write the reference maps under the TensorFlow backend")
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(FIXTURE, **maps())
    print(FIXTURE)

"""The one place where :mod:`heartcv.explain` differentiates: a vector-Jacobian product per backend.

Every gradient method (Grad-CAM(++), saliency, SmoothGrad, deep Taylor) asks for the same
thing: the outputs of a function of some tensors and the vector-Jacobian product of those
outputs with a cotangent chosen after seeing them (a one-hot of each image's class, a
relevance share). :func:`vjp` computes it with ``tf.GradientTape`` under TensorFlow and
``jax.vjp`` under JAX; the rest of the package is written in ``keras.ops``, so the maps are
the same on both backends (``tests/test_explain.py`` and ``tests/jax/`` compare them).
Other Keras backends (torch, numpy, openvino) raise one ``ValueError`` naming the backend.

Gradients with respect to an intermediate layer's output (Grad-CAM's dS/dA) cannot be taken
under JAX by watching a tensor the way a tape does; :func:`tapped_model` rebuilds a model
whose chosen layer output gets a zero-valued ``delta`` added (same weights, same values), so
dS/dA = dS/d(delta) on every backend.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np

SUPPORTED = ("tensorflow", "jax")


def name() -> str:
    """The Keras backend in use, checked to be one that explanations support."""
    backend = keras.backend.backend()
    if backend not in SUPPORTED:
        raise ValueError(f"heartcv.explain computes gradients on the {' and '.join(SUPPORTED)} "
                         f"Keras backends. Received: KERAS_BACKEND={backend!r}")
    return backend


def require_tensorflow(what: str) -> None:
    """Raise one clear error for TensorFlow-only tools (tf-keras-vis) under another backend."""
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(f"{what} uses tf-keras-vis, which needs the TensorFlow backend. "
                         f"Received: KERAS_BACKEND={backend!r}; use the heartcv engine "
                         "(heartcv.explain.saliency / gradcam), which runs on any backend.")


def vjp(fn, primals, cotangent=None, *, has_aux=False):
    """Outputs of ``fn(*primals)`` and their vector-Jacobian product.

    Args:
        fn: function of the tensors in ``primals`` (keras.ops), returning one tensor ``y``
            or, with ``has_aux``, ``(y, aux)`` where ``aux`` is not differentiated.
        primals: list of tensors (or arrays) to differentiate with respect to.
        cotangent: function ``y -> v`` (same shape and dtype as ``y``) chosen after ``y`` is
            known; None for ones (the gradient of ``sum(y)``).
        has_aux: see ``fn``.

    Returns:
        ``(y, grads)`` or ``(y, aux, grads)``: ``grads`` is a list (one per primal) of
        ``v · ∂y/∂primal``; a primal that ``y`` does not depend on gets None under TensorFlow
        and zeros under JAX.
    """
    backend = name()
    primals = [keras.ops.convert_to_tensor(p) for p in primals]
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            for p in primals:
                tape.watch(p)
            res = fn(*primals)
        y, aux = res if has_aux else (res, None)
        v = None if cotangent is None else cotangent(y)
        grads = list(tape.gradient(y, primals, output_gradients=v))
    else:
        import jax

        if has_aux:
            y, pullback, aux = jax.vjp(fn, *primals, has_aux=True)
        else:
            (y, pullback), aux = jax.vjp(fn, *primals), None
        v = keras.ops.ones_like(y) if cotangent is None else cotangent(y)
        grads = list(pullback(keras.ops.cast(v, y.dtype)))
    return (y, aux, grads) if has_aux else (y, grads)


def one_hot_rows(idx, y):
    """(B, K) cotangent selecting ``y[i, idx[i]]`` (the gradient of the chosen class scores)."""
    idx = np.asarray(idx, dtype="int32")
    return keras.ops.one_hot(keras.ops.convert_to_tensor(idx), int(y.shape[-1]), dtype=y.dtype)


@keras.saving.register_keras_serializable(package="heartcv")
class _GradientTap(keras.layers.Layer):
    """Identity that adds ``self.delta`` while one is set (a tensor of the input's shape).

    Lives only inside the companion models of :func:`tapped_model`; never saved.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.delta = None

    def call(self, x):
        return x if self.delta is None else x + keras.ops.cast(self.delta, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


_TAPPED = weakref.WeakKeyDictionary()


def _producer(tensor):
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        raise ValueError("Expected a tensor produced by a layer of the model. "
                         f"Received: {tensor!r}")
    return history[0], history[2]


def tapped_model(model, feature, head_layer):
    """``(companion, tap)``: ``companion(x) -> [A, head, output]`` with dS/dA reachable.

    ``companion`` shares every layer (and weight) of ``model``; the output of the layer that
    produces ``feature`` passes through ``tap`` (adds ``tap.delta`` when set, else identity).
    ``head`` is the input of ``head_layer`` (the ``predictions`` Dense) and ``output`` its
    output, or both the model's single output when ``head_layer`` is None. Cached per model
    and feature tensor, so repeated calls do not add nodes to the model's layers.
    """
    per_model = _TAPPED.setdefault(model, {})
    key = (id(feature), None if head_layer is None else head_layer.name)
    if key in per_model:
        return per_model[key]
    producer, _ = _producer(feature)
    if isinstance(producer.output, (list, tuple)):
        raise ValueError(f"Expected a feature layer with one output. Received: layer "
                         f"{producer.name!r} with {len(producer.output)} outputs")
    tap = _GradientTap(name=f"heartcv_gradient_tap_{producer.name}")
    seen = {}

    def call_function(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        if layer is producer and "feature" not in seen:
            out = tap(out)
            seen["feature"] = out
        if head_layer is not None and layer is head_layer:
            seen["head"], seen["output"] = args[0], out
        return out

    inputs = keras.Input(tuple(model.inputs[0].shape[1:]), dtype=model.inputs[0].dtype)
    clone = keras.models.clone_model(model, input_tensors=inputs, clone_function=lambda l: l,
                                     call_function=call_function)
    if "feature" not in seen:
        raise ValueError(f"Could not find the layer {producer.name!r} while tracing model "
                         f"{model.name!r} for gradients.")
    if head_layer is None:
        seen["head"] = seen["output"] = clone.outputs[0]
    companion = keras.Model(inputs, [seen["feature"], seen["head"], seen["output"]],
                            name=f"{model.name}_tapped")
    per_model[key] = (companion, tap)
    return companion, tap


def feature_vjp(companion, tap, x, to_logits, cotangent):
    """Run ``companion`` on ``x`` and differentiate the logits with respect to its feature.

    ``to_logits`` maps the ``head`` output to the class logits z; None takes z = the
    ``output`` (a model without a Dense ``predictions`` logit to recompute).

    Returns ``(A, z, probabilities, dS/dA)`` as NumPy arrays, S = Σ cotangent(z)·z.
    """
    x = keras.ops.convert_to_tensor(x)
    shape = tuple(companion.outputs[0].shape[1:])
    if None in shape:  # a fully convolutional model: the feature size follows the input's
        shape = tuple(companion.compute_output_shape(tuple(x.shape))[0][1:])
    a0 = keras.ops.zeros((int(x.shape[0]),) + shape, dtype=companion.outputs[0].dtype)

    def fn(delta):
        tap.delta = delta
        try:
            a, h, p = companion(x, training=False)
        finally:
            tap.delta = None
        z = to_logits(h) if to_logits is not None else keras.ops.cast(p, "float32")
        return z, (a, p)

    z, (a, p), (g,) = vjp(fn, [a0], cotangent, has_aux=True)
    if g is None:
        raise ValueError("The class score does not depend on the chosen feature layer.")
    to_np = keras.ops.convert_to_numpy
    return to_np(a), to_np(z), to_np(p), to_np(g)

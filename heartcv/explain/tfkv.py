"""Sensitivity analysis with tf-keras-vis, and the share of a map's mass on the heart.

The CHD paper (``../shared/papers/chd-xray-vgg-unet.txt``, Fig. 5b and 7) runs "sensitivity
analysis", the gradient of the class score with respect to the input pixels, and finds
the fine-tuned VGG16 looking at the lungs rather than the heart. :func:`saliency_tfkv`
computes it with tf-keras-vis 0.8.7 (``tf_keras_vis.saliency.Saliency``), which works on
heartcv's Keras 3 models: ``tf.keras`` is Keras 3 here (``keras._tf_keras``), the model is
cloned with ``tf.keras.models.clone_model`` and its output activation made linear by
``ReplaceToLinear`` (the original is untouched). The map equals
:func:`heartcv.explain.saliency` (GradientTape on the logit): max over channels of
|∂ logit / ∂ x|, divided by its maximum; ``tests/test_layer_outputs.py`` checks they agree.
Remaining differences: SmoothGrad noise comes from NumPy's global generator inside
tf-keras-vis (seeded here, its state restored afterwards), and tf-keras-vis holds all
``smooth_samples`` noisy copies of a batch in memory at once.

:func:`heart_attention_share` answers "is the model looking at the heart?" with one number:
the share of a saliency / relevance / Grad-CAM map's mass inside the heart mask
(:func:`heartcv.localization.mass_inside`), its mean over images with a bootstrap CI, and the
chance level (the heart's share of the image: the share of a uniform map).

References:
    Simonyan K, Vedaldi A, Zisserman A. Deep inside convolutional networks: visualising image
    classification models and saliency maps. ICLR workshop 2014.
    Smilkov D, Thorat N, Kim B, Viegas F, Wattenberg M. SmoothGrad: removing noise by adding
    noise. arXiv:1706.03825, 2017.
    Kubota Y. tf-keras-vis, https://github.com/keisen/tf-keras-vis (version 0.8.7).
"""

from __future__ import annotations

import warnings

import numpy as np

from heartcv.explain._common import (
    batches, check_batch_size, check_smoothgrad, class_head, class_indices, normalize_max,
    prepare_images,
)
from heartcv.explain.backend import require_tensorflow
from heartcv.localization import localization_summary, mass_inside


def _saliency_class():
    with warnings.catch_warnings():  # tf-keras-vis imports scipy.ndimage.interpolation
        warnings.simplefilter("ignore", DeprecationWarning)
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    return Saliency, ReplaceToLinear


def saliency_tfkv(model, images, class_index=None, smooth_samples=0, *, noise=0.15, seed=0,
                  batch_size=8):
    """Vanilla saliency or SmoothGrad of the class logit, computed by tf-keras-vis.

    Args:
        model: a heartcv classifier whose ``predictions`` layer (or single output layer) has
            an ``activation`` attribute (replaced by linear in a clone: the logit is explained).
        images: (N, H, W[, C]) in [0, 255], as the model takes them.
        class_index: output unit (int), or None for each image's top class.
        smooth_samples: 0 for vanilla gradients, else the SmoothGrad sample count.
        noise: SmoothGrad noise s.d. relative to each image's (max − min) (tf-keras-vis's
            ``smooth_noise``), > 0.
        seed: seed of NumPy's global generator while tf-keras-vis draws the noise (its state
            is restored afterwards), or None to leave the generator alone.
        batch_size: images per gradient computation.

    Returns:
        (N, H, W) float32 in [0, 1]: max over channels of |mean gradient|, divided by its max.

    Raises:
        ValueError: under a Keras backend other than TensorFlow (tf-keras-vis needs it; use
            :func:`heartcv.explain.saliency`, the same map on any backend).
    """
    require_tensorflow("saliency_tfkv")
    batch_size = check_batch_size(batch_size)
    check_smoothgrad(smooth_samples, noise)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"Expected `seed` as an int or None (it seeds NumPy's global generator, "
                        f"which tf-keras-vis uses). Received: seed={seed!r}")
    x = prepare_images(model, images)
    _, _, out = class_head(model)
    class_indices(class_index, np.zeros((1, out.shape[-1])))  # validate before any work
    names = list(getattr(model, "output_names", []) or [])
    if len(model.outputs) != 1 or not names or not hasattr(model.get_layer(names[0]),
                                                                "activation"):
        raise ValueError(f"saliency_tfkv needs one output layer with an activation to make "
                         f"linear. Received: model {model.name!r} with outputs {names}")
    saliency_cls, replace_to_linear = _saliency_class()
    import tensorflow as tf

    sal = saliency_cls(model, model_modifier=replace_to_linear(), clone=True)
    state = np.random.get_state() if seed is not None else None
    maps = []
    try:
        if seed is not None:
            np.random.seed(seed)
        for sl in batches(len(x), batch_size):
            xb = x[sl]
            logits = sal.model(xb, training=False)
            idx = tf.constant(class_indices(class_index, np.asarray(logits)), dtype="int32")
            with warnings.catch_warnings():  # tf-keras-vis calls the model on a list of inputs
                warnings.filterwarnings("ignore", message="The structure of `inputs`")
                g = sal(lambda o, idx=idx: tf.gather(o, idx, axis=1, batch_dims=1), xb,
                        smooth_samples=int(smooth_samples), smooth_noise=float(noise),
                        keepdims=True, gradient_modifier=None, normalize_map=False)
            maps.append(np.abs(np.asarray(g, dtype=np.float64)).max(axis=-1))
    finally:
        if state is not None:
            np.random.set_state(state)
    return normalize_max(np.concatenate(maps))


def heart_attention_share(maps, masks, *, n_boot=1000, ci=0.95, seed=0) -> dict:
    """Share of each map's mass inside the heart mask, with the mean's bootstrap CI.

    Args:
        maps: (N, h, w) non-negative maps (saliency, deep Taylor relevance, Grad-CAM, ...);
            resized (bilinear) to the mask size.
        masks: (N, H, W) heart masks (non-zero = heart), one non-empty mask per image.
        n_boot: bootstrap resamples of the images (0: no CI). ci: confidence level.
        seed: int or ``np.random.Generator`` for the bootstrap.

    Returns:
        dict: ``share`` (N,) float64 per image (NaN for an all-zero map), ``mean``, ``ci``
        [low, high] (percentile bootstrap over images), ``n`` (maps with mass),
        ``chance`` (mean heart share of the image: a uniform map's share) with ``chance_ci``,
        ``pointing_game`` (share of maps whose maximum is on the heart), and ``ratio``
        (``mean / chance``: > 1 means more mass on the heart than a uniform map puts there).
    """
    share = mass_inside(maps, masks)
    summary = localization_summary(maps, masks=masks, n_boot=n_boot, ci=ci, seed=seed,
                                   thresholds=(0.5,), iou_thresholds=(0.5,),
                                   iobb_thresholds=(0.5,))
    mass, chance = summary["mass_inside"], summary["area_fraction"]
    return {
        "share": share, "mean": mass["mean"], "ci": mass["ci"], "n": mass["n"],
        "chance": chance["mean"], "chance_ci": chance["ci"],
        "pointing_game": summary["pointing_game"]["mean"],
        "ratio": mass["mean"] / chance["mean"] if chance["mean"] else float("nan"),
        "n_boot": summary["n_boot"], "ci_level": summary["ci_level"],
    }

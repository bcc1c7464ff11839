"""The phantom's options: CTR distribution, prevalence, label noise and AP films.

:func:`resolve_phantom_options` fills in the defaults of the chosen ``ctr_distribution``
(``"jsrt"``, the realistic phantom, or ``"bands"``, the easy one) and checks every value;
:func:`heartcv.data.synthetic.chest.generate_chest_xrays` documents them.
"""

import numpy as np

from heartcv.data.synthetic.chest_shapes import CTR_DEFAULTS, check_ctr_options, ctr_share_above

# Realistic-phantom defaults (ctr_distribution="jsrt"); "bands" uses no noise and PA only.
DEFAULT_LABEL_NOISE = (0.04, 0.10)  # (P(observed 1 | true 0), P(observed 0 | true 1))
DEFAULT_AP_PROB = 0.4  # ChestX-ray14: 44,810 of 112,120 images are AP


def _label_noise(value):
    """``label_noise`` as (P(1 | true 0), P(0 | true 1)), or one clear error."""
    pair = (value, value) if isinstance(value, (int, float, np.integer, np.floating)) \
        and not isinstance(value, bool) else value
    try:
        fp, fn = (float(x) for x in pair)
    except (TypeError, ValueError):
        raise ValueError("Expected `label_noise` as a flip probability or a pair (P(1 | true 0), "
                         f"P(0 | true 1)). Received: label_noise={value!r}") from None
    if not (0.0 <= fp <= 0.5 and 0.0 <= fn <= 0.5):
        raise ValueError("Expected `label_noise` flip probabilities in [0, 0.5]. "
                         f"Received: label_noise={value!r}")
    return fp, fn


def resolve_phantom_options(task="cardiomegaly", *, ctr_distribution=None, ctr_mean=0.475,
                            ctr_sd=0.056, ctr_skew=2.0, ctr_range=(0.33, 0.72), normal_ctr=None,
                            cardiomegaly_ctr=None, prevalence=None, label_noise=None,
                            ap_prob=None):
    """The effective CTR, label-noise and AP settings of :func:`generate_chest_xrays`, with the
    defaults of the chosen ``ctr_distribution`` filled in and every value checked.

    Returns:
        dict with ``ctr`` (keyword arguments of
        :func:`~heartcv.data.synthetic.chest_shapes.sample_ctr`), ``prevalence`` (float: the
        share of patients with a true ``CTR > 0.5``), ``label_noise`` ((P(1 | 0), P(0 | 1)))
        and ``ap_prob`` (float).
    """
    bands_given = normal_ctr is not None or cardiomegaly_ctr is not None
    if ctr_distribution is None:
        ctr_distribution = "bands" if bands_given else "jsrt"
    elif ctr_distribution == "jsrt" and bands_given:
        raise ValueError("`normal_ctr`/`cardiomegaly_ctr` apply to ctr_distribution='bands'. "
                         f"Received: ctr_distribution='jsrt', normal_ctr={normal_ctr}, "
                         f"cardiomegaly_ctr={cardiomegaly_ctr}")
    ctr = check_ctr_options(ctr_distribution, ctr_mean, ctr_sd, ctr_skew, ctr_range,
                            CTR_DEFAULTS["normal_ctr"] if normal_ctr is None else normal_ctr,
                            CTR_DEFAULTS["cardiomegaly_ctr"] if cardiomegaly_ctr is None
                            else cardiomegaly_ctr)
    realistic = ctr_distribution == "jsrt"
    if prevalence is None:
        prevalence = ctr_share_above(ctr["ctr_mean"], ctr["ctr_sd"], ctr["ctr_skew"],
                                     ctr["ctr_range"]) if realistic else 0.5
    label_noise = (DEFAULT_LABEL_NOISE if realistic else 0.0) if label_noise is None \
        else label_noise
    if ap_prob is None:
        ap_prob = DEFAULT_AP_PROB if realistic and task in ("cardiomegaly", "findings") else 0.0
    for name, val in (("prevalence", prevalence), ("ap_prob", ap_prob)):
        if isinstance(val, bool) or not isinstance(val, (int, float, np.integer, np.floating)) \
                or not 0.0 <= val <= 1.0:
            raise ValueError(f"Expected `{name}` in [0, 1]. Received: {name}={val}")
    return dict(ctr=ctr, prevalence=float(prevalence), label_noise=_label_noise(label_noise),
                ap_prob=float(ap_prob))

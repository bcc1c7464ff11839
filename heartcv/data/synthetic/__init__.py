"""Synthetic data that the demo and the default tests run on, with no download."""

from heartcv.data.synthetic.chest import (  # noqa: F401
    generate_chest_xrays, measure_ctr, render_phantom,
)
from heartcv.data.synthetic.ceiling import bayes_ceiling, format_ceiling  # noqa: F401
from heartcv.data.synthetic.chest_shapes import (  # noqa: F401
    CHD_CLASSES, FINDING_CLASSES, sample_patient_params,
)
from heartcv.data.synthetic.beats import generate_beat_images, render_beat_image  # noqa: F401
from heartcv.data.synthetic.ecg import generate_ecg_printouts  # noqa: F401

"""Custom layers, one public class per file, all registered under package ``heartcv``."""

from heartcv.layers.attention_estimator import AttentionEstimator  # noqa: F401
from heartcv.layers.background_normalization import BackgroundNormalization  # noqa: F401
from heartcv.layers.global_weighted_average_pooling import GlobalWeightedAveragePooling  # noqa: F401
from heartcv.layers.image_preprocessing import ImagePreprocessing  # noqa: F401
from heartcv.layers.intensity_normalization import IntensityNormalization  # noqa: F401
from heartcv.layers.mask_background import MaskBackground  # noqa: F401
from heartcv.layers.random_affine import RandomAffine  # noqa: F401
from heartcv.layers.random_brightness_factor import RandomBrightnessFactor  # noqa: F401
from heartcv.layers.random_cardiac_enlargement import RandomCardiacEnlargement  # noqa: F401
from heartcv.layers.random_contrast_range import RandomContrastRange  # noqa: F401
from heartcv.layers.random_exposure import RandomExposure  # noqa: F401
from heartcv.layers.random_gamma import RandomGamma  # noqa: F401
from heartcv.layers.random_gaussian_blur import RandomGaussianBlur  # noqa: F401
from heartcv.layers.random_gaussian_noise import RandomGaussianNoise  # noqa: F401
from heartcv.layers.random_lead_background import RandomLeadBackground  # noqa: F401
from heartcv.layers.random_lead_warp import RandomLeadWarp  # noqa: F401
from heartcv.layers.random_line_thickness import RandomLineThickness  # noqa: F401
from heartcv.layers.random_resolution_loss import RandomResolutionLoss  # noqa: F401
from heartcv.layers.spatial_mean import SpatialMean  # noqa: F401
from heartcv.layers.temporal_attention import TemporalAttention  # noqa: F401

"""Custom layers, one public class per file, all registered under package ``heartcv``."""

from heartcv.layers.image_preprocessing import ImagePreprocessing  # noqa: F401

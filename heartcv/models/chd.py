"""CHD paper classifiers: VGG16 fine-tuning and VGG+Mask."""

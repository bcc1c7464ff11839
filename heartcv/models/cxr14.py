"""ChestX-ray14 14-label transfer-learning models (DenseNet121, ResNet50)."""

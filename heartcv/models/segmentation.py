"""Segmentation networks: U-Net (CHD paper Fig. 6) and VGG16-U-Net."""

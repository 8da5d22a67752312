"""Necks: the SSD extra layers and the Feature-Fused SSD fusion."""

from .feature_fused import FeatureFusedNeck, bilinear_kernel
from .ssd_extra import SSDExtraLayers

__all__ = ["FeatureFusedNeck", "SSDExtraLayers", "bilinear_kernel"]

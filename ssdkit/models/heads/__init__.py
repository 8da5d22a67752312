"""Prediction heads."""

from .ssd_head import SSDHead

__all__ = ["SSDHead"]

"""Detectors."""

from .ssd import SSD

__all__ = ["SSD"]

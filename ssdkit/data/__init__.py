"""Datasets and transforms (importing this registers them)."""

from .datasets import VOC_CLASSES, CocoDataset, TiledDataset, VOCDataset, YOLODataset
from .transforms import (
    BadImageError,
    Expand,
    LoadImage,
    MinIoURandomCrop,
    PackInputs,
    PhotometricDistortion,
    RandomFlip,
    Resize,
)

__all__ = [
    "VOC_CLASSES",
    "BadImageError",
    "CocoDataset",
    "Expand",
    "LoadImage",
    "MinIoURandomCrop",
    "PackInputs",
    "PhotometricDistortion",
    "TiledDataset",
    "RandomFlip",
    "Resize",
    "VOCDataset",
    "YOLODataset",
]

"""Datasets: VOC and COCO, and tiles of either."""

from .coco import CocoDataset
from .tiled import TiledDataset
from .voc import VOC_CLASSES, VOCDataset

__all__ = ["CocoDataset", "TiledDataset", "VOCDataset", "VOC_CLASSES"]

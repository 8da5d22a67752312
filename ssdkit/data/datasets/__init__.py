"""Datasets: VOC and COCO."""

from .coco import CocoDataset
from .voc import VOC_CLASSES, VOCDataset

__all__ = ["CocoDataset", "VOCDataset", "VOC_CLASSES"]

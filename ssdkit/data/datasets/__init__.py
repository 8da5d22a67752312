"""Datasets: VOC, COCO and YOLO txt, and tiles of any of them."""

from .coco import CocoDataset
from .tiled import TiledDataset
from .voc import VOC_CLASSES, VOCDataset
from .yolo import YOLODataset

__all__ = ["CocoDataset", "TiledDataset", "VOCDataset", "VOC_CLASSES", "YOLODataset"]

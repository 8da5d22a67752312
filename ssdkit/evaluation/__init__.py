"""Metrics: VOC mAP and COCO AP (pycocotools)."""

from .coco_metric import CocoMetric
from .dump import DumpDetections
from .voc_ap import average_precision, match_detections
from .voc_metric import VOCMetric

__all__ = ["CocoMetric", "DumpDetections", "VOCMetric", "average_precision", "match_detections"]

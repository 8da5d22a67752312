"""Metrics: VOC mAP and COCO AP (pycocotools); the detection analysis (PR curves, confusion matrix, worst errors)."""

from .analysis import DetectionAnalysis
from .coco_metric import CocoMetric
from .confusion import confusion_matrix, match_across_classes
from .dump import DumpDetections
from .errors import KINDS, classify_detections, false_positives, missed_objects
from .voc_ap import ClassPR, average_precision, class_pr, match_class, match_detections
from .voc_metric import VOCMetric

__all__ = [
    "CocoMetric",
    "DumpDetections",
    "VOCMetric",
    "average_precision",
    "match_detections",
    "DetectionAnalysis",
    "confusion_matrix",
    "match_across_classes",
    "KINDS",
    "classify_detections",
    "false_positives",
    "missed_objects",
    "ClassPR",
    "class_pr",
    "match_class",
]

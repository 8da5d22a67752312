"""Box math as pure functions (torch and numpy), and the containers and layouts built on it."""

from .boxes import (
    batched_pairwise_iou,
    box_area,
    box_problems,
    cxcywh_to_xyxy,
    paired_iou,
    pairwise_iou,
    validate_boxes,
    xyxy_to_cxcywh,
)
from .detections import Detections
from .np_boxes import np_pairwise_iou
from .prior_grid import PriorGrid
from .sample import DetSample
from .workspace import Workspace

__all__ = [
    "DetSample",
    "Detections",
    "PriorGrid",
    "Workspace",
    "batched_pairwise_iou",
    "box_area",
    "box_problems",
    "cxcywh_to_xyxy",
    "np_pairwise_iou",
    "paired_iou",
    "pairwise_iou",
    "validate_boxes",
    "xyxy_to_cxcywh",
]

"""Box math as pure tensor functions."""

from .detections import Detections
from .np_boxes import np_pairwise_iou
from .sample import DetSample
from .workspace import Workspace
from .boxes import (batched_pairwise_iou, box_area, cxcywh_to_xyxy, pairwise_iou, validate_boxes,
                    xyxy_to_cxcywh)

__all__ = ["DetSample", "Detections", "batched_pairwise_iou", "box_area", "cxcywh_to_xyxy", "pairwise_iou", "validate_boxes", "Workspace", "np_pairwise_iou",
           "xyxy_to_cxcywh"]

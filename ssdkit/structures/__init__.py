"""Box math as pure tensor functions."""

from .detections import Detections
from .boxes import (batched_pairwise_iou, box_area, cxcywh_to_xyxy, pairwise_iou, validate_boxes,
                    xyxy_to_cxcywh)

__all__ = ["Detections", "batched_pairwise_iou", "box_area", "cxcywh_to_xyxy", "pairwise_iou", "validate_boxes",
           "xyxy_to_cxcywh"]

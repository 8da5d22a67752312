"""torchvision's own SSD code called on our tensors (the reference the core is proven equal to)."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torchvision.models.detection import _utils as tv_utils
from torchvision.models.detection.ssd import SSD
from torchvision.ops import box_iou


def tv_ssd_stub() -> SimpleNamespace:
    """The attributes torchvision's SSD methods read, with ssd300_vgg16's defaults."""
    return SimpleNamespace(
        box_coder=tv_utils.BoxCoder(weights=(10.0, 10.0, 5.0, 5.0)),
        neg_to_pos_ratio=3.0,
        score_thresh=0.01,
        nms_thresh=0.45,
        detections_per_img=200,
        topk_candidates=400,
        proposal_matcher=tv_utils.SSDMatcher(0.5),
    )


def tv_match(gt: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """torchvision's ``SSDMatcher(0.5)`` on one image: the matched gt per prior ``[P]``, -1 background."""
    if gt.numel() == 0:
        return torch.full((priors.shape[0],), -1, dtype=torch.int64)
    return tv_utils.SSDMatcher(0.5)(box_iou(gt, priors))


def tv_matched_idxs(gts: list[torch.Tensor], priors: torch.Tensor) -> list[torch.Tensor]:
    return [tv_match(g, priors) for g in gts]


def tv_compute_loss(cls_logits, box_deltas, gts, labels_1based, priors) -> dict:
    targets = [dict(boxes=g, labels=lab) for g, lab in zip(gts, labels_1based, strict=True)]
    anchors = [priors] * len(gts)
    head = dict(cls_logits=cls_logits, bbox_regression=box_deltas)
    return SSD.compute_loss(tv_ssd_stub(), targets, head, anchors, tv_matched_idxs(gts, priors))


def tv_postprocess(cls_logits, box_deltas, priors, image_shapes) -> list[dict]:
    head = dict(cls_logits=cls_logits, bbox_regression=box_deltas)
    return SSD.postprocess_detections(tv_ssd_stub(), head, [priors] * cls_logits.shape[0], image_shapes)

"""NMS within groups (per image and class), on top of torchvision.ops."""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import batched_nms, nms

SMALL = 1000  # below this many candidates one offset-trick call is cheapest


def grouped_nms(boxes: Tensor, scores: Tensor, groups: Tensor, iou_threshold: float) -> Tensor:
    """Greedy NMS applied separately to each group.

    Args:
        boxes: ``[N, 4]`` xyxy; scores ``[N]``; groups ``[N]`` long, **sorted** (non-decreasing).

    Returns:
        Indices of the kept boxes, ``[K]`` long, in no particular order.

    torchvision's ``batched_nms`` scans all N candidates once per group on CPU when N is large
    (O(groups x N)); with groups already contiguous each group is one slice, so only the NMS
    kernel itself remains.
    """
    n = boxes.shape[0]
    if n <= SMALL or boxes.device.type != "cpu":
        return batched_nms(boxes, scores, groups, iou_threshold)
    _, counts = torch.unique_consecutive(groups, return_counts=True)
    kept = []
    start = 0
    for c, b, s in zip(counts.tolist(), boxes.split(counts.tolist()), scores.split(counts.tolist()), strict=True):
        kept.append(nms(b, s, iou_threshold) + start)
        start += c
    return torch.cat(kept)

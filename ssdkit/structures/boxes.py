"""Box conversions and IoU. Boxes are ``[..., 4]`` float tensors, xyxy unless named otherwise."""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import box_iou


def xyxy_to_cxcywh(boxes: Tensor) -> Tensor:
    """``[..., 4]`` (x1, y1, x2, y2) -> ``[..., 4]`` (cx, cy, w, h)."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    w, h = x2 - x1, y2 - y1
    return torch.stack((x1 + 0.5 * w, y1 + 0.5 * h, w, h), dim=-1)


def cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    """``[..., 4]`` (cx, cy, w, h) -> ``[..., 4]`` (x1, y1, x2, y2)."""
    cx, cy, w, h = boxes.unbind(-1)
    hw, hh = 0.5 * w, 0.5 * h
    return torch.stack((cx - hw, cy - hh, cx + hw, cy + hh), dim=-1)


def box_area(boxes: Tensor) -> Tensor:
    """``[..., 4]`` -> ``[...]`` area (negative extents count as zero)."""
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def pairwise_iou(a: Tensor, b: Tensor) -> Tensor:
    """``[N, 4]`` x ``[M, 4]`` -> ``[N, M]`` IoU (torchvision.ops.box_iou)."""
    return box_iou(a, b)


def batched_pairwise_iou(gt: Tensor, priors: Tensor, gt_valid: Tensor | None = None) -> Tensor:
    """IoU of every ground truth with every prior, batched.

    Args:
        gt: ``[B, G, 4]`` padded ground-truth boxes.
        priors: ``[P, 4]`` boxes shared by every image.
        gt_valid: ``[B, G]`` bool; padded rows get IoU -1 so no prior ever matches them.

    Returns:
        ``[B, G, P]`` IoU. Coordinates are split into contiguous planes first and every
        ``[B, G, P]`` step runs in place, so the largest intermediate is one ``[B, G, P]`` tensor.
    """
    px1, py1, px2, py2 = priors.t().contiguous().unsqueeze(1).unsqueeze(1)  # each [1, 1, P]
    gx1, gy1, gx2, gy2 = gt.permute(2, 0, 1).contiguous().unsqueeze(-1)  # each [B, G, 1]
    inter = torch.clamp(px2, max=gx2)
    inter -= torch.clamp(px1, min=gx1)
    inter.clamp_(min=0)
    ih = torch.clamp(py2, max=gy2)
    ih -= torch.clamp(py1, min=gy1)
    inter *= ih.clamp_(min=0)
    union = torch.add((px2 - px1) * (py2 - py1), (gx2 - gx1) * (gy2 - gy1), out=ih)
    union -= inter
    iou = inter.div_(union)
    if gt_valid is not None:
        iou.masked_fill_(~gt_valid.unsqueeze(-1), -1.0)
    return iou


def validate_boxes(boxes: Tensor, where: str = "boxes") -> None:
    """Raise ``ValueError`` naming the first NaN/infinite or degenerate box (x2 <= x1 or y2 <= y1).

    Args:
        boxes: ``[..., 4]`` xyxy.
        where: what to call the tensor in the message (e.g. ``'gt_boxes of image 3'``).
    """
    if boxes.numel() == 0:
        return
    flat = boxes.reshape(-1, 4)
    bad = ~torch.isfinite(flat).all(-1)
    if bad.any():
        i = int(bad.nonzero()[0])
        raise ValueError(f"{where}: box {i} has a NaN or infinite coordinate: {flat[i].tolist()}")
    degenerate = (flat[:, 2] <= flat[:, 0]) | (flat[:, 3] <= flat[:, 1])
    if degenerate.any():
        i = int(degenerate.nonzero()[0])
        raise ValueError(
            f"{where}: box {i} {flat[i].tolist()} has zero or negative size (need x2 > x1 and y2 > y1, xyxy). "
            f"Drop or fix it in the dataset (the datasets' `bad_box` option).")

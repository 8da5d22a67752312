"""Box conversions and IoU. Boxes are ``[..., 4]`` float tensors, xyxy unless named otherwise."""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import box_iou

from .workspace import Workspace


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


def paired_iou(a: Tensor, b: Tensor) -> Tensor:
    """``[M, 4]`` and ``[M, 4]`` -> ``[M]`` IoU of ``a[i]`` with ``b[i]``.

    The same float operations in the same order as :func:`pairwise_iou` (torchvision's ``box_iou``), so
    a pair gets bit for bit the value it gets in the full matrix and ties break alike.
    """
    lt = torch.maximum(a[:, :2], b[:, :2])
    wh = (torch.minimum(a[:, 2:], b[:, 2:]) - lt).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a + area_b - inter)


def batched_pairwise_iou(
    gt: Tensor, priors: Tensor, gt_valid: Tensor | None = None, workspace: Workspace | None = None
) -> Tensor:
    """IoU of every ground truth with every prior, batched.

    Args:
        gt: ``[B, G, 4]`` padded ground-truth boxes.
        priors: ``[P, 4]`` boxes shared by every image.
        gt_valid: ``[B, G]`` bool; padded rows get IoU -1 so no prior ever matches them.
        workspace: reuse its buffers for the three ``[B, G, P]`` steps; the result then lives in the
            workspace (valid until its next use).

    Returns:
        ``[B, G, P]`` IoU. Coordinates are split into contiguous planes and every ``[B, G, P]`` step
        writes into one of three buffers, so no intermediate exceeds ``B x G x P`` elements.
    """
    shape = (gt.shape[0], gt.shape[1], priors.shape[0])
    ws = workspace if workspace is not None else Workspace()
    a, b, c = (ws.get(f"iou{i}", shape, priors.dtype, priors.device) for i in range(3))
    px1, py1, px2, py2 = priors.t().contiguous().unsqueeze(1).unsqueeze(1)  # each [1, 1, P]
    gx1, gy1, gx2, gy2 = gt.to(priors.dtype).permute(2, 0, 1).contiguous().unsqueeze(-1)  # each [B, G, 1]
    inter = torch.minimum(px2, gx2, out=a)
    inter.sub_(torch.maximum(px1, gx1, out=b)).clamp_(min=0)
    ih = torch.minimum(py2, gy2, out=b)
    ih.sub_(torch.maximum(py1, gy1, out=c)).clamp_(min=0)
    inter.mul_(ih)
    union = torch.add((px2 - px1) * (py2 - py1), (gx2 - gx1) * (gy2 - gy1), out=b)
    iou = inter.div_(union.sub_(inter))
    if gt_valid is not None:
        iou.masked_fill_(~gt_valid.unsqueeze(-1), -1.0)
    return iou


def box_problems(boxes: Tensor) -> tuple[Tensor, Tensor]:
    """``[N, 4]`` xyxy -> ``[N]`` masks: a NaN or infinite coordinate; zero or negative size."""
    nonfinite = ~torch.isfinite(boxes).all(-1)
    degenerate = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    return nonfinite, degenerate


def validate_boxes(boxes: Tensor, where: str = "boxes") -> None:
    """Raise ``ValueError`` naming the first NaN/infinite or degenerate box (x2 <= x1 or y2 <= y1).

    Args:
        boxes: ``[..., 4]`` xyxy.
        where: what to call the tensor in the message (e.g. ``'gt_boxes of image 3'``).
    """
    if boxes.numel() == 0:
        return
    flat = boxes.reshape(-1, 4)
    bad, degenerate = box_problems(flat)
    if bad.any():
        i = int(bad.nonzero()[0])
        raise ValueError(f"{where}: box {i} has a NaN or infinite coordinate: {flat[i].tolist()}")
    if degenerate.any():
        i = int(degenerate.nonzero()[0])
        raise ValueError(
            f"{where}: box {i} {flat[i].tolist()} has zero or negative size (need x2 > x1 and y2 > y1, xyxy). "
            f"Drop or fix it in the dataset (the datasets' `bad_box` option)."
        )

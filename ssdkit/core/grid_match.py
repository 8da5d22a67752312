"""Exact matching statistics from only the priors near each ground truth.

IoU(gt, prior) depends on the overlap in x times the overlap in y, and for a grid of identical
boxes each overlap is a trapezoid in the centre offset: the cells where IoU can reach a value t
form one rectangle of cells per (gt, grid group), computed in closed form. Visiting those
rectangles with t = min(threshold, the gt's best IoU) finds every pair at or above the threshold
and every prior that ties for a gt's best, i.e. everything the dense ``[B, G, P]`` IoU is reduced to.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ssdkit.structures import PriorGrid, paired_iou

# Relative slack on t and absolute slack (in cells) on window edges: candidates are a superset of
# the exact set; their IoU is then computed exactly, so slack costs a few pairs, never a wrong answer.
T_SLACK = 1e-4
CELL_SLACK = 1e-3


def _cell_range(lo: Tensor, hi: Tensor, start: Tensor, step: Tensor, count: Tensor) -> tuple[Tensor, Tensor]:
    """First cell and number of cells whose centre ``start + i step`` lies in ``[lo, hi]`` (``[N, K]``)."""
    first = torch.ceil((lo - start) / step - CELL_SLACK).clamp(min=0)
    last = torch.minimum(torch.floor((hi - start) / step + CELL_SLACK), (count - 1).to(lo.dtype))
    return first.long(), (last - first + 1).clamp(min=0).long()


def grid_candidates(gt: Tensor, priors: Tensor, grid: PriorGrid, floor_iou: float) -> tuple[Tensor, Tensor, Tensor]:
    """Every (gt, prior) pair with IoU >= ``min(floor_iou, best IoU of that gt)`` (and a few more).

    Args:
        gt: ``[N, 4]`` xyxy boxes (any number of images, flattened).
        priors: ``[P, 4]`` xyxy priors laid out as ``grid``.
        floor_iou: the lowest IoU a caller compares against (a matching threshold), > 0.

    Returns:
        ``gt index [M]``, ``prior index [M]`` and their exact IoU ``[M]`` (torchvision's values).
    """
    n, k = gt.shape[0], grid.num_groups
    g = gt.to(grid.w.dtype)
    gx1, gy1, gx2, gy2 = (c.unsqueeze(1) for c in g.unbind(-1))  # [N, 1]
    gw, gh = gx2 - gx1, gy2 - gy1
    # the best cell of each group is the one nearest the gt centre (both overlaps peak there)
    near_i = torch.floor((0.5 * (gx1 + gx2) - grid.x0) / grid.dx + 0.5).clamp(min=0).minimum(grid.fw - 1).long()
    near_j = torch.floor((0.5 * (gy1 + gy2) - grid.y0) / grid.dy + 0.5).clamp(min=0).minimum(grid.fh - 1).long()
    near = grid.base + (near_j * grid.fw + near_i) * grid.per_cell  # [N, K]
    near_iou = paired_iou(gt.unsqueeze(1).expand(n, k, 4).reshape(-1, 4), priors[near.reshape(-1)]).view(n, k)
    t = near_iou.amax(dim=1, keepdim=True).clamp(max=floor_iou) * (1 - T_SLACK)  # [N, 1]
    # IoU >= t  <=>  inter >= t (A + B) / (1 + t); inter = ox * oy with ox <= min(w), oy <= min(h)
    inter_min = t * (gw * gh + grid.w * grid.h) / (1 + t)
    max_ox, max_oy = torch.minimum(gw, grid.w), torch.minimum(gh, grid.h)
    need_ox, need_oy = inter_min / max_oy, inter_min / max_ox
    reachable = (need_ox <= max_ox) & (need_oy <= max_oy)  # False for NaN too
    # ox >= c  <=>  centre in [x1 - w/2 + c, x2 + w/2 - c]
    first_i, count_i = _cell_range(
        gx1 - 0.5 * grid.w + need_ox, gx2 + 0.5 * grid.w - need_ox, grid.x0, grid.dx, grid.fw
    )
    first_j, count_j = _cell_range(
        gy1 - 0.5 * grid.h + need_oy, gy2 + 0.5 * grid.h - need_oy, grid.y0, grid.dy, grid.fh
    )
    counts = (count_i * count_j * reachable).reshape(-1)  # [N * K]
    total = int(counts.sum())
    window = torch.repeat_interleave(torch.arange(n * k, device=gt.device), counts, output_size=total)
    local = torch.arange(total, device=gt.device) - (counts.cumsum(0) - counts)[window]
    wide = count_i.reshape(-1)[window]
    col = first_i.reshape(-1)[window] + local % wide
    row = first_j.reshape(-1)[window] + local // wide
    grp = window % k
    prior = grid.base[grp] + (row * grid.fw[grp] + col) * grid.per_cell[grp]
    gt_index = window // k
    return gt_index, prior, paired_iou(gt[gt_index], priors[prior])


def sparse_match_stats(
    gt_boxes: Tensor,
    gt_valid: Tensor,
    priors: Tensor,
    grid: PriorGrid,
    floor_iou: float,
    candidates: tuple[Tensor, Tensor, Tensor] | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """What a matcher needs from the ``[B, G, P]`` IoU, without making it: for the priors that some gt
    reaches with IoU >= ``floor_iou`` or that are some gt's best, and for each valid gt.

    Args:
        gt_boxes: ``[B, G, 4]``; gt_valid ``[B, G]`` bool; priors ``[P, 4]`` laid out as ``grid``.
        floor_iou: the lowest threshold the matcher compares the per-prior best IoU with.
        candidates: :func:`grid_candidates` of the valid gts (``gt_valid.nonzero()`` order), if already made.

    Returns:
        ``keys [U]`` (``image * P + prior``, ascending), their ``best_iou [U]`` and ``best_gt [U]``
        (first gt slot on ties), and ``best_prior [B, G]`` (each gt's first best prior; 0 for a gt that
        overlaps no prior, as an argmax over zeros; 0 for padded rows). Priors outside ``keys`` have a
        best IoU below ``floor_iou``.
    """
    b, g = gt_valid.shape
    p = priors.shape[0]
    img, slot = gt_valid.nonzero(as_tuple=True)
    gt_index, prior, iou = candidates or grid_candidates(gt_boxes[img, slot], priors, grid, floor_iou)
    n, dev = img.shape[0], iou.device
    gt_best = torch.zeros(n, dtype=iou.dtype, device=dev).scatter_reduce_(0, gt_index, iou, "amax")
    prior_or_p = torch.where(iou == gt_best[gt_index], prior, p)
    first = torch.full((n,), p, dtype=torch.long, device=dev).scatter_reduce_(0, gt_index, prior_or_p, "amin")
    best_prior = torch.zeros((b, g), dtype=torch.long, device=dev)
    best_prior[img, slot] = torch.where(gt_best > 0, first, 0)
    keep = iou >= floor_iou
    iou, gt_index = iou[keep], gt_index[keep]
    keys, inv = torch.unique(img[gt_index] * p + prior[keep], return_inverse=True)
    best_iou = torch.zeros(keys.shape[0], dtype=iou.dtype, device=dev).scatter_reduce_(0, inv, iou, "amax")
    slot_or_g = torch.where(iou == best_iou[inv], slot[gt_index], g)
    best_gt = torch.full((keys.shape[0],), g, dtype=torch.long, device=dev).scatter_reduce_(0, inv, slot_or_g, "amin")
    return keys, best_iou, best_gt, best_prior

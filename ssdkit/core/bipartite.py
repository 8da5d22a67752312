"""Greedy bipartite matching of ground truths to priors, as the released Caffe SSD's ``MatchBBox``
(weiliu89/caffe, branch ``ssd``, ``src/caffe/util/bbox_util.cpp``), batched and without a loop over boxes.

``MatchBBox`` keeps the pairs with overlap ``> 1e-6`` and, while a gt is left, takes the pair of highest
IoU among free priors and unmatched gts, scanning priors ascending, then gts ascending, with a strict ``>``:
under the total order (IoU descending, prior ascending, gt ascending) it takes the first free pair.
It stops when no free prior overlaps a free gt, so such a gt stays unmatched.

Here each round takes every *mutually best* pair at once: a free gt whose best free prior (first on ties)
has that gt as its best free gt (first on ties). Such a pair is first in the total order among all pairs
touching its prior or its gt, so the greedy scan reaches it with both ends free and takes it; and a pair
touching an end of it comes after it, so it is never taken and the rest of the scan runs on the remaining
boxes alone. Hence greedy = the mutually best pairs + greedy on what is left, and repeating gives Caffe's
result. The first free pair in the total order is always mutually best, so every round takes one or more.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ssdkit.structures import PriorGrid, Workspace, batched_pairwise_iou

from .grid_match import grid_candidates

#: ``MatchBBox`` keeps a (prior, gt) pair only when their overlap is above this
MIN_OVERLAP = 1e-6


def parked_iou(gt_boxes: Tensor, priors: Tensor, gt_valid: Tensor, ws: Workspace) -> Tensor:
    """``[B, G, P]`` IoU with padded rows moved far outside every prior (IoU exactly 0 there)."""
    far = float(priors.abs().max()) * 4 + 1e4
    parked = torch.tensor([-far, -far, 1 - far, 1 - far], dtype=gt_boxes.dtype, device=gt_boxes.device)
    return batched_pairwise_iou(torch.where(gt_valid.unsqueeze(-1), gt_boxes, parked), priors, workspace=ws)


def greedy_dense(iou: Tensor, gt_valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Greedy bipartite pairs from the full IoU.

    Args:
        iou: ``[B, G, P]``, overwritten (the columns of taken priors are zeroed); a prior to keep out of
            matching has a zero column, a padded row is zero or masked by ``gt_valid [B, G]``.

    Returns:
        ``image [K]``, ``gt slot [K]``, ``prior [K]``: one pair per matched gt, distinct priors.
    """
    b, g, _ = iou.shape
    best_iou, best_prior = iou.max(dim=2)  # each gt's first best prior
    free = gt_valid & (best_iou > MIN_OVERLAP)
    slots = torch.arange(g, device=iou.device)
    found: list[tuple[Tensor, Tensor, Tensor]] = []
    while bool(free.any()):
        # col[b, k, j] = IoU of gt k with gt j's best prior; its argmax over free k is that prior's best gt
        col = iou.gather(2, best_prior.unsqueeze(1).expand(b, g, g)).masked_fill_(~free.unsqueeze(2), -1.0)
        img, gt = (free & (col.argmax(dim=1) == slots)).nonzero(as_tuple=True)
        if img.numel() == 0:  # cannot happen for IoUs (the first free pair is mutually best); never loop forever
            raise RuntimeError("greedy_dense: a round took no pair; is an IoU NaN?")
        prior = best_prior[img, gt]
        found.append((img, gt, prior))
        free[img, gt] = False
        iou[img, :, prior] = 0.0
        # free gts whose best prior was just taken look again among the free priors
        si, sj = (free & (iou.gather(2, best_prior.unsqueeze(2)).squeeze(2) == 0)).nonzero(as_tuple=True)
        if si.numel():
            again_iou, best_prior[si, sj] = iou[si, sj].max(dim=1)
            free[si, sj] = again_iou > MIN_OVERLAP
    if not found:
        empty = torch.zeros(0, dtype=torch.long, device=iou.device)
        return empty, empty, empty
    img, gt, prior = (torch.cat(t) for t in zip(*found, strict=True))
    return img, gt, prior


def greedy_edges(gt: Tensor, prior: Tensor, iou: Tensor) -> Tensor:
    """Greedy bipartite matching on a list of pairs (``[E]`` each): ``gt`` and ``prior`` ids (unique per image,
    image-major: ascending ids within an image follow slot and prior order), their IoU. -> taken ``[E]`` bool.

    Exact for the full problem when the list holds every pair with IoU at or above some value: the greedy
    scan meets those first, whatever comes after.
    """
    e, dev = gt.shape[0], gt.device
    _, gt = torch.unique(gt, return_inverse=True)
    _, prior = torch.unique(prior, return_inverse=True)
    order = torch.argsort(prior * (int(gt.max()) + 1 if e else 1) + gt)  # prior ascending, then gt
    order = order[torch.argsort(iou[order], descending=True, stable=True)]
    rank = torch.empty_like(order)
    rank[order] = torch.arange(e, device=dev)
    taken = torch.zeros(e, dtype=torch.bool, device=dev)
    alive = torch.arange(e, device=dev)
    while alive.numel():
        r, g, p = rank[alive], gt[alive], prior[alive]
        g_first = torch.full((e,), e, dtype=torch.long, device=dev).scatter_reduce_(0, g, r, "amin")
        p_first = torch.full((e,), e, dtype=torch.long, device=dev).scatter_reduce_(0, p, r, "amin")
        won = (r == g_first[g]) & (r == p_first[p])
        taken[alive[won]] = True
        g_done = torch.zeros(e, dtype=torch.bool, device=dev).index_fill_(0, g[won], True)
        p_done = torch.zeros(e, dtype=torch.bool, device=dev).index_fill_(0, p[won], True)
        alive = alive[~(g_done[g] | p_done[p])]
    return taken


def greedy_on_grid(
    gt_boxes: Tensor,
    gt_valid: Tensor,
    priors: Tensor,
    grid: PriorGrid,
    floor_iou: float,
    ws: Workspace,
    candidates: tuple[Tensor, Tensor, Tensor] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`greedy_dense`'s pairs from the prior grid: the pairs with IoU >= ``floor_iou`` (every one is a
    grid candidate) are matched first, exactly (:func:`greedy_edges`); the gts left then overlap free priors
    only below ``floor_iou`` and are matched on their own rows of the dense IoU, the taken priors zeroed.

    Args:
        gt_boxes: ``[B, G, 4]``; gt_valid ``[B, G]``; priors ``[P, 4]`` laid out as ``grid``.
        candidates: ``grid_candidates`` of the valid gts (``gt_valid.nonzero()`` order), if already made.

    Returns:
        ``image [K]``, ``gt slot [K]``, ``prior [K]``.
    """
    b, p = gt_valid.shape[0], priors.shape[0]
    img, slot = gt_valid.nonzero(as_tuple=True)
    gt_index, prior, iou = candidates or grid_candidates(gt_boxes[img, slot], priors, grid, floor_iou)
    keep = (iou >= floor_iou) & (iou > MIN_OVERLAP)
    gt_index, key = gt_index[keep], img[gt_index[keep]] * p + prior[keep]
    won = greedy_edges(gt_index, key, iou[keep])
    gt_index, key = gt_index[won], key[won]
    left = torch.ones(img.shape[0], dtype=torch.bool, device=img.device).index_fill_(0, gt_index, False)
    pairs = [(img[gt_index], slot[gt_index], key % p)]
    if bool(left.any()):
        li, ls = img[left], slot[left]
        counts = torch.bincount(li, minlength=b)
        row = torch.arange(li.shape[0], device=li.device) - (counts.cumsum(0) - counts)[li]
        rows = int(counts.max())
        boxes = gt_boxes.new_zeros((b, rows, 4))
        boxes[li, row] = gt_boxes[li, ls]
        valid = torch.zeros((b, rows), dtype=torch.bool, device=li.device)
        valid[li, row] = True
        sub = parked_iou(boxes, priors, valid, ws)
        sub[key // p, :, key % p] = 0.0  # the priors taken above
        i2, r2, p2 = greedy_dense(sub, valid)
        slot_of = torch.zeros((b, rows), dtype=torch.long, device=li.device)
        slot_of[li, row] = ls
        pairs.append((i2, slot_of[i2, r2], p2))
    i, s, q = (torch.cat(t) for t in zip(*pairs, strict=True))
    return i, s, q

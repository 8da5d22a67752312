"""Matchers: assign each prior a ground-truth index, batched over images.

Return codes per prior: ``>= 0`` matched gt index, ``-1`` background, ``-2`` ignored.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ssdkit.registry import MATCHERS
from ssdkit.structures import Workspace, batched_pairwise_iou

BACKGROUND = -1
IGNORE = -2


def _force_best_priors(matched: Tensor, iou: Tensor, gt_valid: Tensor) -> Tensor:
    """Give every valid gt its highest-IoU prior; if two gts share one, the higher gt index wins.

    Args:
        matched: ``[B, P]`` long, modified in place.
        iou: ``[B, G, P]``.
        gt_valid: ``[B, G]`` bool.
    """
    best_prior = iou.argmax(dim=2)  # [B, G]; first prior on ties
    g = torch.arange(iou.shape[1], device=iou.device).expand_as(best_prior)
    src = torch.where(gt_valid, g, torch.full_like(g, -1))
    forced = torch.full_like(matched, -1).scatter_reduce_(1, best_prior, src, reduce="amax")
    return torch.where(forced >= 0, forced, matched)


def _iou(gt_boxes: Tensor, priors: Tensor, gt_valid: Tensor | None, ws: Workspace) -> tuple[Tensor, Tensor]:
    """``[B, G, P]`` IoU and the ``[B, G]`` valid mask.

    Padded rows are moved far outside every prior (IoU exactly 0) instead of masking the
    ``[B, G, P]`` result: real gts come first, so a padded row can only win a prior whose best IoU
    is 0 (background anyway), and forced matching skips padded rows.
    """
    if gt_valid is None:
        gt_valid = torch.ones(gt_boxes.shape[:2], dtype=torch.bool, device=gt_boxes.device)
    else:
        far = float(priors.abs().max()) * 4 + 1e4
        parked = torch.tensor([-far, -far, 1 - far, 1 - far], dtype=gt_boxes.dtype, device=gt_boxes.device)
        gt_boxes = torch.where(gt_valid.unsqueeze(-1), gt_boxes, parked)
    return batched_pairwise_iou(gt_boxes, priors, workspace=ws), gt_valid


@MATCHERS.register_module()
class SSDMatcher:
    """The paper's matching: each gt to its best prior, then every prior with IoU >= threshold.

    Equals torchvision's ``SSDMatcher`` image by image (first prior / first gt on ties; when one prior
    is the best of several gts, the last of them keeps it).
    """

    def __init__(self, iou_threshold: float = 0.5) -> None:
        self.iou_threshold = iou_threshold
        self.workspace = Workspace()

    def __call__(self, gt_boxes: Tensor, priors: Tensor, gt_valid: Tensor | None = None) -> Tensor:
        """``gt_boxes [B, G, 4]``, ``priors [P, 4]``, ``gt_valid [B, G]`` -> matched gt index ``[B, P]``."""
        b, g = gt_boxes.shape[:2]
        if g == 0:
            return torch.full((b, priors.shape[0]), BACKGROUND, dtype=torch.long, device=priors.device)
        iou, valid = _iou(gt_boxes, priors, gt_valid, self.workspace)
        best_iou, best_gt = iou.max(dim=1)
        matched = best_gt.masked_fill_(best_iou < self.iou_threshold, BACKGROUND)
        return _force_best_priors(matched, iou, valid)

    def __repr__(self) -> str:
        return f"SSDMatcher(iou_threshold={self.iou_threshold})"


@MATCHERS.register_module()
class ArgMaxMatcher:
    """TF Object Detection API style: IoU >= ``matched_threshold`` matches, IoU < ``unmatched_threshold``
    is background, the band between is ignored (-2). ``force_match`` also gives each gt its best prior."""

    def __init__(self, matched_threshold: float = 0.5, unmatched_threshold: float = 0.4,
                 force_match: bool = True) -> None:
        if unmatched_threshold > matched_threshold:
            raise ValueError(f"ArgMaxMatcher: unmatched_threshold ({unmatched_threshold}) must not exceed "
                             f"matched_threshold ({matched_threshold})")
        self.matched_threshold = matched_threshold
        self.unmatched_threshold = unmatched_threshold
        self.force_match = force_match
        self.workspace = Workspace()

    def __call__(self, gt_boxes: Tensor, priors: Tensor, gt_valid: Tensor | None = None) -> Tensor:
        """``gt_boxes [B, G, 4]``, ``priors [P, 4]``, ``gt_valid [B, G]`` -> ``[B, P]`` (-1 bg, -2 ignore)."""
        b, g = gt_boxes.shape[:2]
        if g == 0:
            return torch.full((b, priors.shape[0]), BACKGROUND, dtype=torch.long, device=priors.device)
        iou, valid = _iou(gt_boxes, priors, gt_valid, self.workspace)
        best_iou, matched = iou.max(dim=1)
        matched.masked_fill_(best_iou < self.matched_threshold, IGNORE)
        matched.masked_fill_(best_iou < self.unmatched_threshold, BACKGROUND)
        if self.force_match:
            matched = _force_best_priors(matched, iou, valid)
        return matched

    def __repr__(self) -> str:
        return (f"ArgMaxMatcher(matched_threshold={self.matched_threshold}, "
                f"unmatched_threshold={self.unmatched_threshold}, force_match={self.force_match})")

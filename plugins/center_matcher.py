"""A custom matcher, as a plugin: SSD's IoU rule, plus "a prior whose centre lies outside the gt box is never
a positive" (the centre-sampling idea of FCOS / ATSS). It shows the matcher extension point: subclass
``ssdkit.core.IoUMatcher``, give ``floor_iou`` and ``decide``, register it.

    custom_imports = dict(imports=['plugins.center_matcher'], allow_failed_imports=False)
    model = dict(matcher=dict(_delete_=True, type='CenterInsideMatcher', iou_threshold=0.4))

At SSD's threshold 0.5 the extra rule never bites: a prior whose centre lies outside a box shares at most half of
itself with it, so its IoU is at most 0.5. Below 0.5 it removes the off-centre positives a looser threshold adds.
"""

from __future__ import annotations

from torch import Tensor

from ssdkit.core import BACKGROUND, IoUMatcher
from ssdkit.registry import MATCHERS


@MATCHERS.register_module()
class CenterInsideMatcher(IoUMatcher):
    """IoU >= ``iou_threshold`` with the best gt, and the prior's centre inside that gt; else background.
    Each gt still gets its best prior (``force_match``), so no object goes unmatched."""

    def __init__(self, iou_threshold: float = 0.4) -> None:
        super().__init__()
        self.iou_threshold = iou_threshold
        self.centres: Tensor | None = None  # [P, 2], set per call by match_sparse
        self.gts: Tensor | None = None  # [B, G, 4]

    @property
    def floor_iou(self) -> float:
        return 0.0  # decide() needs the dense view (every prior's best gt), so no grid shortcut

    def match_sparse(self, gt_boxes, priors, gt_valid=None, grid=None):
        self.centres, self.gts = (priors[:, :2] + priors[:, 2:]) / 2, gt_boxes
        return super().match_sparse(gt_boxes, priors, gt_valid, grid)

    def decide(self, best_iou: Tensor, best_gt: Tensor) -> Tensor:
        """``best_iou [B, P]``, ``best_gt [B, P]`` -> gt index or BACKGROUND."""
        assert self.centres is not None and self.gts is not None
        box = self.gts.gather(1, best_gt.unsqueeze(-1).expand(-1, -1, 4))  # [B, P, 4]
        c = self.centres.unsqueeze(0)
        inside = (c >= box[..., :2]).all(-1) & (c <= box[..., 2:]).all(-1)
        return best_gt.masked_fill((best_iou < self.iou_threshold) | ~inside, BACKGROUND)

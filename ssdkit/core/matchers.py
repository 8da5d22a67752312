"""Matchers: assign each prior a ground-truth index, batched over images.

Return codes per prior: ``>= 0`` matched gt index, ``-1`` background, ``-2`` ignored.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ssdkit.registry import MATCHERS
from ssdkit.structures import PriorGrid, Workspace

from .bipartite import greedy_dense, greedy_on_grid, parked_iou
from .grid_match import grid_candidates, sparse_match_stats

BACKGROUND = -1
IGNORE = -2
#: how ``force_match`` gives the gts their priors (``IoUMatcher.bipartite``)
BIPARTITE_RULES = ("torchvision", "greedy")


class IoUMatcher:
    """The base of the IoU matchers, and the public extension point for new ones: subclass it, implement
    :attr:`floor_iou` and :meth:`decide`, register the class in ``MATCHERS``. Matching is a per-prior rule on
    (best IoU, best gt), then optionally (``force_match``) priors forced onto gts, by :attr:`bipartite`:
    ``'torchvision'`` gives each gt its best prior (if two gts share one, the higher gt index keeps it, as
    torchvision); ``'greedy'`` gives each gt a prior of its own, greedily by IoU (Caffe's ``MatchBBox``,
    :mod:`ssdkit.core.bipartite`), and leaves a gt that overlaps no free prior unmatched.

    Given the priors' :class:`~ssdkit.structures.PriorGrid` (the detector passes it), only the priors
    near each gt are visited; the result is the same as the dense ``[B, G, P]`` IoU's, ties included.
    """

    force_match = True
    bipartite = "torchvision"

    def __init__(self) -> None:
        self.workspace = Workspace()

    @property
    def floor_iou(self) -> float:
        """The lowest IoU :meth:`decide` tells apart from background: priors with a lower best IoU are never
        visited on the grid (return 0 to always match densely)."""
        raise NotImplementedError

    def decide(self, best_iou: Tensor, best_gt: Tensor) -> Tensor:
        """Per prior, from its best IoU with any gt and that gt's index (elementwise, any shape): the gt index,
        ``BACKGROUND`` (-1) or ``IGNORE`` (-2)."""
        raise NotImplementedError

    def __call__(
        self, gt_boxes: Tensor, priors: Tensor, gt_valid: Tensor | None = None, grid: PriorGrid | None = None
    ) -> Tensor:
        """``gt_boxes [B, G, 4]``, ``priors [P, 4]``, ``gt_valid [B, G]`` -> ``[B, P]`` long: matched gt
        index, -1 background, -2 ignore."""
        img, prior, code = self.match_sparse(gt_boxes, priors, gt_valid, grid)
        out = torch.full((gt_boxes.shape[0], priors.shape[0]), BACKGROUND, dtype=torch.long, device=priors.device)
        out[img, prior] = code
        return out

    def match_sparse(
        self, gt_boxes: Tensor, priors: Tensor, gt_valid: Tensor | None = None, grid: PriorGrid | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The same result as its non-background entries: ``image [M]``, ``prior [M]``, ``code [M]``."""
        b, g = gt_boxes.shape[:2]
        p, dev = priors.shape[0], priors.device
        if gt_valid is None:
            gt_valid = torch.ones((b, g), dtype=torch.bool, device=dev)
        if g == 0 or not bool(gt_valid.any()):
            empty = torch.zeros(0, dtype=torch.long, device=dev)
            return empty, empty, empty
        if grid is None or self.floor_iou <= 0:
            return self._match_dense(gt_boxes, priors, gt_valid)
        if grid.num_priors != p:
            raise ValueError(
                f"{type(self).__name__}: the prior grid describes {grid.num_priors} priors but {p} were given"
            )
        img, slot = gt_valid.nonzero(as_tuple=True)
        candidates = grid_candidates(gt_boxes[img, slot], priors, grid, self.floor_iou)
        keys, best_iou, best_gt, best_prior = sparse_match_stats(
            gt_boxes, gt_valid, priors, grid, self.floor_iou, candidates
        )
        code = self.decide(best_iou, best_gt)
        if self.force_match:
            if self.bipartite == "greedy":
                img, slot, forced_prior = greedy_on_grid(
                    gt_boxes, gt_valid, priors, grid, self.floor_iou, self.workspace, candidates
                )
            else:
                forced_prior = best_prior[img, slot]
            keys, inv = torch.unique(torch.cat((keys, img * p + forced_prior)), return_inverse=True)
            decided = torch.full(keys.shape, BACKGROUND, dtype=torch.long, device=dev)
            decided[inv[: code.shape[0]]] = code
            forced = torch.full(keys.shape, -1, dtype=torch.long, device=dev).scatter_reduce_(
                0, inv[code.shape[0] :], slot, "amax"
            )
            code = torch.where(forced >= 0, forced, decided)
        keep = code != BACKGROUND
        keys, code = keys[keep], code[keep]
        return keys // p, keys % p, code

    def _match_dense(self, gt_boxes: Tensor, priors: Tensor, gt_valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Padded rows get IoU 0 (moved outside every prior) instead of masking: real gts come first, so a
        padded row can only be a prior's best where that best is 0 (background anyway), and forcing skips it."""
        iou = parked_iou(gt_boxes, priors, gt_valid, self.workspace)
        best_iou, best_gt = iou.max(dim=1)  # first gt on ties
        matched = self.decide(best_iou, best_gt)
        if self.force_match:
            if self.bipartite == "greedy":
                img, slot, prior = greedy_dense(iou, gt_valid)  # zeroes columns of iou
            else:
                img, slot = gt_valid.nonzero(as_tuple=True)
                prior = iou.argmax(dim=2)[img, slot]  # first prior on ties
            p = priors.shape[0]
            forced = torch.full_like(matched, -1).view(-1).scatter_reduce_(0, img * p + prior, slot, "amax")
            matched = torch.where(forced.view_as(matched) >= 0, forced.view_as(matched), matched)
        img, prior = (matched != BACKGROUND).nonzero(as_tuple=True)
        return img, prior, matched[img, prior]


@MATCHERS.register_module()
class SSDMatcher(IoUMatcher):
    """The paper's matching: each gt to a prior of its own, then every prior with IoU >= threshold.

    ``bipartite='torchvision'`` (or ``None``, the default) equals torchvision's ``SSDMatcher`` image by image:
    each gt forced onto its best prior (first prior / first gt on ties; when one prior is the best of several
    gts, the last of them keeps it, so the others may end with no prior). ``bipartite='greedy'`` equals the
    released Caffe SSD's ``MatchBBox`` with ``match_type`` PER_PREDICTION (weiliu89/caffe, branch ``ssd``,
    ``src/caffe/util/bbox_util.cpp``): greedy bipartite matching over the pairs with IoU > 1e-6
    (:mod:`ssdkit.core.bipartite`), then each other prior takes its best gt if that IoU >= threshold.
    """

    def __init__(self, iou_threshold: float = 0.5, bipartite: str | None = None) -> None:
        super().__init__()
        if bipartite is not None and bipartite not in BIPARTITE_RULES:
            raise ValueError(
                f"SSDMatcher: bipartite={bipartite!r} is not one of {', '.join(map(repr, BIPARTITE_RULES))} or None"
            )
        self.iou_threshold = iou_threshold
        self.bipartite = bipartite or "torchvision"

    @property
    def floor_iou(self) -> float:
        return self.iou_threshold

    def decide(self, best_iou: Tensor, best_gt: Tensor) -> Tensor:
        return best_gt.masked_fill(best_iou < self.iou_threshold, BACKGROUND)

    def __repr__(self) -> str:
        return f"SSDMatcher(iou_threshold={self.iou_threshold}, bipartite={self.bipartite!r})"


@MATCHERS.register_module()
class ArgMaxMatcher(IoUMatcher):
    """TF Object Detection API style: IoU >= ``matched_threshold`` matches, IoU < ``unmatched_threshold``
    is background, the band between is ignored (-2). ``force_match`` also gives each gt its best prior."""

    def __init__(
        self, matched_threshold: float = 0.5, unmatched_threshold: float = 0.4, force_match: bool = True
    ) -> None:
        if unmatched_threshold > matched_threshold:
            raise ValueError(
                f"ArgMaxMatcher: unmatched_threshold ({unmatched_threshold}) must not exceed "
                f"matched_threshold ({matched_threshold})"
            )
        super().__init__()
        self.matched_threshold = matched_threshold
        self.unmatched_threshold = unmatched_threshold
        self.force_match = force_match

    @property
    def floor_iou(self) -> float:
        return self.unmatched_threshold

    def decide(self, best_iou: Tensor, best_gt: Tensor) -> Tensor:
        matched = best_gt.masked_fill(best_iou < self.matched_threshold, IGNORE)
        return matched.masked_fill_(best_iou < self.unmatched_threshold, BACKGROUND)

    def __repr__(self) -> str:
        return (
            f"ArgMaxMatcher(matched_threshold={self.matched_threshold}, "
            f"unmatched_threshold={self.unmatched_threshold}, force_match={self.force_match})"
        )

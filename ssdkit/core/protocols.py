"""The contracts a plug-in part implements, one ``Protocol`` per kind (what the detector calls, nothing more).

A plugin registers a class in the matching registry (``MATCHERS``, ``BOX_CODERS``, ``LOSSES``, ``POSTPROCESSORS``,
``PRIOR_GENERATORS``) and implements the methods below; it need not inherit from anything. Shapes follow the
conventions of ``docs/design.md``: priors and boxes xyxy in network-input pixels, labels 0 background.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from ssdkit.structures import Detections, PriorGrid


class PriorGenerator(Protocol):
    """Default boxes for every location of every prediction map."""

    @property
    def num_levels(self) -> int:
        """Prediction maps it serves (the neck must give as many)."""
        ...

    @property
    def num_priors_per_location(self) -> list[int]:
        """Boxes per location of each level (the head's widths are wired from it)."""
        ...

    def __call__(
        self,
        feature_sizes: Sequence[Sequence[int]],
        image_size: Sequence[int],
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> Tensor:
        """``(H_k, W_k)`` per map and the input ``(H, W)`` -> priors ``[P, 4]``, in the head's prediction order."""
        ...


class Matcher(Protocol):
    """Dense matching: which ground truth each prior learns from."""

    def __call__(self, gt_boxes: Tensor, priors: Tensor, gt_valid: Tensor | None = None) -> Tensor:
        """``gt_boxes [B, G, 4]`` (padded), ``priors [P, 4]``, ``gt_valid [B, G]`` -> ``[B, P]`` long: the matched
        gt index, -1 background, -2 ignored."""
        ...


@runtime_checkable
class SparseMatcher(Protocol):
    """A matcher that can also return only its non-background entries, visiting only the priors near each
    ground truth on the priors' grid (``assign_targets`` uses it when present)."""

    def match_sparse(
        self, gt_boxes: Tensor, priors: Tensor, gt_valid: Tensor | None = None, grid: PriorGrid | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``image [M]``, ``prior [M]``, ``code [M]`` (gt index, or -2 ignored): the dense result's entries != -1."""
        ...


class BoxCoder(Protocol):
    """Boxes to regression targets and back (broadcasting over leading dimensions)."""

    def encode(self, gt: Tensor, priors: Tensor) -> Tensor:
        """``gt [..., 4]``, ``priors [..., 4]`` xyxy -> deltas ``[..., 4]``."""
        ...

    def decode(self, deltas: Tensor, priors: Tensor) -> Tensor:
        """``deltas [..., 4]``, ``priors [..., 4]`` -> boxes ``[..., 4]`` xyxy."""
        ...


class Loss(Protocol):
    """The training loss over all priors of a batch."""

    def __call__(
        self, cls_logits: Tensor, box_deltas: Tensor, labels: Tensor, target_deltas: Tensor
    ) -> dict[str, Tensor]:
        """``cls_logits [B, P, C+1]``, ``box_deltas [B, P, 4]``, ``labels [B, P]`` (0 background, 1..C, -1
        ignore), ``target_deltas [B, P, 4]`` -> named scalar losses (``loss_cls``, ``loss_box``)."""
        ...


class Postprocessor(Protocol):
    """Raw predictions to final detections per image."""

    def __call__(self, cls_logits: Tensor, boxes: Tensor, img_metas: Sequence[dict]) -> list[Detections]:
        """``cls_logits [B, P, C+1]``, decoded ``boxes [B, P, 4]`` in input pixels, ``img_metas`` with
        ``img_shape`` / ``ori_shape`` -> per image boxes (original pixels), scores, 0-based labels."""
        ...

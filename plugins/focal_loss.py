"""Sigmoid focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017) for SSD heads."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import sigmoid_focal_loss

from ssdkit.registry import LOSSES


@LOSSES.register_module()
class SigmoidFocalLoss(nn.Module):
    """Focal loss over the C foreground columns plus Smooth-L1 on positives, both divided by
    N = max(1, number of positives in the batch).

    Column 0 of ``cls_logits`` (background) is unused: a background prior has an all-zero target.
    Priors labelled -1 (ignored by the matcher) contribute nothing. No hard negative mining.
    """

    def __init__(
        self,
        alpha: float = 0.25,
        gamma: float = 2.0,
        smooth_l1_beta: float = 1.0,
        box_weight: float = 1.0,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma
        self.smooth_l1_beta = smooth_l1_beta
        self.box_weight = box_weight
        self.loss_weight = loss_weight

    def forward(self, cls_logits: Tensor, box_deltas: Tensor, labels: Tensor, target_deltas: Tensor) -> dict:
        """``cls_logits [B, P, C+1]``, ``box_deltas [B, P, 4]``, ``labels [B, P]`` (0 bg, 1..C, -1 ignore),
        ``target_deltas [B, P, 4]`` -> ``dict(loss_cls=[], loss_box=[])``."""
        b, p, k = cls_logits.shape
        if labels.shape != (b, p) or target_deltas.shape != box_deltas.shape or box_deltas.shape[:2] != (b, p):
            raise ValueError(
                f"SigmoidFocalLoss: cls_logits {tuple(cls_logits.shape)}, box_deltas "
                f"{tuple(box_deltas.shape)}, labels {tuple(labels.shape)}, target_deltas "
                f"{tuple(target_deltas.shape)} do not agree on [B, P]"
            )
        if k < 2:
            raise ValueError(f"SigmoidFocalLoss: cls_logits has {k} columns; needs background + at least 1 class")
        pos = labels > 0
        valid = labels >= 0
        targets = F.one_hot((labels - 1).clamp(min=0), k - 1).to(cls_logits.dtype) * pos.unsqueeze(-1)
        n = pos.sum().clamp(min=1).to(cls_logits.dtype)
        focal = sigmoid_focal_loss(
            cls_logits[..., 1:][valid], targets[valid], alpha=self.alpha, gamma=self.gamma, reduction="sum"
        )
        box = F.smooth_l1_loss(box_deltas[pos], target_deltas[pos], reduction="sum", beta=self.smooth_l1_beta)
        return dict(loss_cls=self.loss_weight * focal / n, loss_box=self.loss_weight * self.box_weight * box / n)

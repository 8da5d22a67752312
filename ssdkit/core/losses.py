"""MultiBox loss: softmax cross-entropy with hard negative mining plus Smooth-L1 on positives."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssdkit.registry import LOSSES


def hard_negative_mask(neg_loss: Tensor, num_neg: Tensor) -> Tensor:
    """Select, per image, the ``num_neg[b]`` entries of ``neg_loss[b]`` with the largest loss.

    Args:
        neg_loss: ``[B, P]``; entries that are not negatives must hold ``-inf``.
        num_neg: ``[B]`` long, already at most the number of negatives of each image.

    Returns:
        ``[B, P]`` bool mask.
    """
    k = int(num_neg.max()) if num_neg.numel() else 0
    mask = torch.zeros_like(neg_loss, dtype=torch.bool)
    if k == 0:
        return mask
    _, idx = neg_loss.topk(k, dim=1, sorted=True)
    take = torch.arange(k, device=neg_loss.device).unsqueeze(0) < num_neg.unsqueeze(1)
    return mask.scatter_(1, idx, take)


@LOSSES.register_module()
class MultiBoxLoss(nn.Module):
    """The paper's L = (L_conf + alpha L_loc) / N, N = number of matched priors in the batch.

    Negatives are ranked by their classification loss and at most ``neg_pos_ratio`` per positive are
    kept, per image; ``min_negatives_per_image`` keeps some even in images without objects. With
    N = 0 the loss is divided by 1 instead, so it stays finite. With the defaults it equals
    torchvision's ``SSD.compute_loss``.
    """

    def __init__(
        self,
        neg_pos_ratio: float = 3.0,
        alpha: float = 1.0,
        min_negatives_per_image: int = 0,
        smooth_l1_beta: float = 1.0,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.neg_pos_ratio = neg_pos_ratio
        self.alpha = alpha
        self.min_negatives_per_image = min_negatives_per_image
        self.smooth_l1_beta = smooth_l1_beta
        self.loss_weight = loss_weight

    def forward(self, cls_logits: Tensor, box_deltas: Tensor, labels: Tensor, target_deltas: Tensor) -> dict:
        """``cls_logits [B, P, C+1]``, ``box_deltas [B, P, 4]``, ``labels [B, P]`` (0 bg, -1 ignore),
        ``target_deltas [B, P, 4]`` -> ``dict(loss_cls=[], loss_box=[])``."""
        b, p, k = cls_logits.shape
        if labels.shape != (b, p) or target_deltas.shape != box_deltas.shape:
            raise ValueError(
                f"MultiBoxLoss: cls_logits {tuple(cls_logits.shape)}, box_deltas "
                f"{tuple(box_deltas.shape)}, labels {tuple(labels.shape)}, target_deltas "
                f"{tuple(target_deltas.shape)} do not agree on [B, P]"
            )
        ce = F.cross_entropy(cls_logits.reshape(-1, k), labels.clamp(min=0).reshape(-1), reduction="none").view(b, p)
        pos = labels > 0
        neg = labels == 0
        num_pos = pos.sum(dim=1)
        num_neg = (num_pos * self.neg_pos_ratio).long().clamp(min=self.min_negatives_per_image)
        num_neg = torch.minimum(num_neg, neg.sum(dim=1))
        hard_neg = hard_negative_mask(ce.detach().masked_fill(~neg, float("-inf")), num_neg)
        n = num_pos.sum().clamp(min=1).to(ce.dtype)
        loss_cls = ce.where(pos | hard_neg, ce.new_zeros(())).sum() / n
        box = F.smooth_l1_loss(box_deltas[pos], target_deltas[pos], reduction="sum", beta=self.smooth_l1_beta)
        loss_box = self.alpha * box / n
        return dict(loss_cls=self.loss_weight * loss_cls, loss_box=self.loss_weight * loss_box)

"""ParseNet L2 normalisation with a learnable per-channel scale."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class L2Norm(nn.Module):
    """``weight[C] * x / ||x||_2`` over channels; ``weight`` starts at ``scale`` (20 for conv4_3)."""

    def __init__(self, channels: int, scale: float = 20.0, eps: float = 1e-12) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), float(scale)))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, H, W]`` -> ``[B, C, H, W]``."""
        return self.weight.view(1, -1, 1, 1) * F.normalize(x, dim=1, eps=self.eps)

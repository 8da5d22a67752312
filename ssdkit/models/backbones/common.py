"""frozen_stages / norm_eval behaviour shared by the backbones."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def apply_freeze_and_norm_eval(stages: Sequence[nn.Module], frozen_stages: int, norm_eval: bool,
                               model: nn.Module, training: bool) -> None:
    """Freeze the first ``frozen_stages`` stages (no grad, eval mode); keep BN in eval if ``norm_eval``."""
    for stage in stages[:max(frozen_stages, 0)]:
        stage.eval()
        for p in stage.parameters():
            p.requires_grad_(False)
    if training and norm_eval:
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                m.eval()

"""Layer helpers shared by backbones, necks and heads: init, conv + BN + activation, L2 normalisation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "relu6": nn.ReLU6}


def xavier_init_(module: nn.Module) -> None:
    """Xavier-uniform conv weights and zero biases in every (transposed) conv of ``module``: the SSD paper's
    initialisation of new layers, and torchvision's ``_xavier_init`` for SSD300's conv6/conv7 and extras."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def conv_bn_act(cin: int, cout: int, kernel_size: int, stride: int = 1, padding: int | None = None, groups: int = 1,
                norm: bool = True, act: str = "relu") -> list[nn.Module]:
    """``[conv, BatchNorm, activation]`` (the conv without bias), or ``[conv with bias, activation]`` without
    ``norm``; a list, so callers keep flat ``nn.Sequential`` keys. ``padding`` defaults to ``kernel_size // 2``."""
    if act not in ACTIVATIONS:
        raise ValueError(f"activation={act!r}; valid: {list(ACTIVATIONS)}")
    pad = kernel_size // 2 if padding is None else padding
    conv = nn.Conv2d(cin, cout, kernel_size, stride, pad, groups=groups, bias=not norm)
    activation = ACTIVATIONS[act](inplace=True)
    return [conv, nn.BatchNorm2d(cout), activation] if norm else [conv, activation]


class L2Norm(nn.Module):
    """ParseNet L2 normalisation: ``weight[C] * x / ||x||_2`` over channels; ``weight`` starts at ``scale``
    (20 for SSD's conv4_3)."""

    def __init__(self, channels: int, scale: float = 20.0, eps: float = 1e-12) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), float(scale)))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, H, W]`` -> ``[B, C, H, W]``."""
        return self.weight.view(1, -1, 1, 1) * F.normalize(x, dim=1, eps=self.eps)

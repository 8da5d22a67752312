"""Layer helpers shared by backbones, necks and heads."""

from __future__ import annotations

from torch import nn


def xavier_init_(module: nn.Module) -> None:
    """Xavier-uniform conv weights and zero biases in every (transposed) conv of ``module``: the SSD paper's
    initialisation of new layers, and torchvision's ``_xavier_init`` for SSD300's conv6/conv7 and extras."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

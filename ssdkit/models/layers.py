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


INITS = ("xavier", "normal", "default")


def init_convs_(module: nn.Module, init: str, owner: str) -> None:
    """Initialise every conv of ``module`` as ``init`` names: ``'xavier'`` (:func:`xavier_init_`), ``'normal'``
    (weights N(0, 0.03), zero bias: torchvision's ``_normal_init`` for SSDLite) or ``'default'`` (PyTorch's)."""
    if init not in INITS:
        raise ValueError(f"{owner}: init={init!r}; valid: {', '.join(map(repr, INITS))}")
    if init == "xavier":
        xavier_init_(module)
    elif init == "normal":
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, mean=0.0, std=0.03)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)


def conv_bn_act(
    cin: int,
    cout: int,
    kernel_size: int,
    stride: int = 1,
    padding: int | None = None,
    groups: int = 1,
    norm: bool = True,
    act: str = "relu",
    norm_cfg: dict | None = None,
) -> list[nn.Module]:
    """``[conv, BatchNorm, activation]`` (the conv without bias), or ``[conv with bias, activation]`` without
    ``norm``; a list, so callers keep flat ``nn.Sequential`` keys. ``padding`` defaults to ``kernel_size // 2``;
    ``norm_cfg`` holds BatchNorm2d's ``eps`` / ``momentum`` (SSDLite: 0.001 / 0.03)."""
    if act not in ACTIVATIONS:
        raise ValueError(f"activation={act!r}; valid: {list(ACTIVATIONS)}")
    pad = kernel_size // 2 if padding is None else padding
    conv = nn.Conv2d(cin, cout, kernel_size, stride, pad, groups=groups, bias=not norm)
    activation = ACTIVATIONS[act](inplace=True)
    return [conv, batch_norm(cout, norm_cfg), activation] if norm else [conv, activation]


def batch_norm(channels: int, norm_cfg: dict | None = None) -> nn.BatchNorm2d:
    """``BatchNorm2d(channels, **norm_cfg)``; a key other than ``eps`` / ``momentum`` is named in the error."""
    cfg = dict(norm_cfg or {})
    bad = sorted(set(cfg) - {"eps", "momentum"})
    if bad:
        raise ValueError(f"norm_cfg keys {bad} unknown; valid: 'eps', 'momentum'")
    return nn.BatchNorm2d(channels, **cfg)


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

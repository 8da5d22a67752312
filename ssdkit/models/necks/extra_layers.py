"""The SSD paper's extra feature layers after the base network."""

from __future__ import annotations

from collections.abc import Sequence

from mmengine.model import BaseModule
from torch import Tensor, nn

from ..layers import conv_bn_act, init_convs_


def _plain(cin: int, mid: int, cout: int, k: int, s: int, p: int, norm: bool, norm_cfg: dict | None) -> nn.Sequential:
    return nn.Sequential(
        *conv_bn_act(cin, mid, 1, norm=norm, norm_cfg=norm_cfg),
        *conv_bn_act(mid, cout, k, s, p, norm=norm, norm_cfg=norm_cfg),
    )


def _depthwise(cin: int, mid: int, cout: int, k: int, s: int, p: int, norm_cfg: dict | None) -> nn.Sequential:
    return nn.Sequential(
        *conv_bn_act(cin, mid, 1, act="relu6", norm_cfg=norm_cfg),
        *conv_bn_act(mid, mid, k, s, p, groups=mid, act="relu6", norm_cfg=norm_cfg),
        *conv_bn_act(mid, cout, 1, act="relu6", norm_cfg=norm_cfg),
    )


class ExtraLayers(BaseModule):
    """1x1 reduce + (stride-2 or unpadded) conv blocks, each fed by the previous map.

    Args:
        in_channels: channels of the map the first block reads.
        extra_channels: per block ``(mid, out)``.
        strides, paddings, kernel_sizes: per block, for the second conv.
        depthwise: MobileNet-SSD / SSDLite blocks (1x1, depthwise kxk, 1x1, each + BN + ReLU6).
        norm: ``'BN'`` adds BatchNorm to the plain blocks.
        norm_cfg: BatchNorm's ``eps`` / ``momentum`` (torchvision's SSDLite: ``dict(eps=0.001, momentum=0.03)``).
        init: ``'xavier'`` (the paper), ``'normal'`` (N(0, 0.03), torchvision's SSDLite) or ``'default'``.
    """

    def __init__(
        self,
        in_channels: int,
        extra_channels: Sequence[Sequence[int]],
        strides: Sequence[int],
        paddings: Sequence[int],
        kernel_sizes: Sequence[int],
        depthwise: bool = False,
        norm: str | None = None,
        init: str = "xavier",
        norm_cfg: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg)
        n = len(extra_channels)
        for name, seq in (("strides", strides), ("paddings", paddings), ("kernel_sizes", kernel_sizes)):
            if len(seq) != n:
                raise ValueError(f"extra layers: {name} has {len(seq)} entries but extra_channels has {n}")
        if norm not in (None, "BN"):
            raise ValueError(f"extra layers: norm={norm!r}; valid: None, 'BN'")
        blocks = []
        cin = in_channels
        for (mid, cout), s, p, k in zip(extra_channels, strides, paddings, kernel_sizes, strict=True):
            blocks.append(
                _depthwise(cin, mid, cout, k, s, p, norm_cfg)
                if depthwise
                else _plain(cin, mid, cout, k, s, p, norm == "BN", norm_cfg)
            )
            cin = cout
        self.layers = nn.ModuleList(blocks)
        self.kernel_sizes, self.paddings = list(kernel_sizes), list(paddings)
        self.out_channels = [c for _, c in extra_channels]
        init_convs_(self, init, "extra layers")

    def forward(self, x: Tensor) -> list[Tensor]:
        """``[B, C, H, W]`` -> one map per block."""
        outs = []
        for i, block in enumerate(self.layers):
            h, w = x.shape[-2:]
            if min(h, w) + 2 * self.paddings[i] < self.kernel_sizes[i]:
                raise ValueError(
                    f"extra layer {i}: input {h}x{w} is too small for kernel {self.kernel_sizes[i]} "
                    f"with padding {self.paddings[i]}; use a larger input or fewer extra layers"
                )
            x = block(x)
            outs.append(x)
        return outs

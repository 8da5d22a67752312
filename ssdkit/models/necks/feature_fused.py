"""Feature-Fused SSD (Cao et al. 2017): conv5_3 fused into conv4_3 for small objects."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from ssdkit.registry import NECKS

from ..layers import L2Norm, xavier_init_
from .extra_layers import ExtraLayers
from .ssd_extra import SSD300_EXTRA_CHANNELS, SSD300_KERNELS, SSD300_PADDINGS, SSD300_STRIDES

PAPER_BEST = {"concat": 512, "sum": 384}  # Cao et al. 2017, §4.3 and Table 2 (docs/recipes.md)


def bilinear_kernel(channels: int, kernel_size: int) -> Tensor:
    """``[C, C, k, k]`` ConvTranspose2d weight that upsamples each channel bilinearly (FCN's filler)."""
    factor = (kernel_size + 1) // 2
    centre = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = torch.arange(kernel_size, dtype=torch.float32)
    filt = 1 - (og - centre).abs() / factor
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    weight[range(channels), range(channels)] = filt[:, None] * filt[None, :]
    return weight


@NECKS.register_module()
class FeatureFusedNeck(BaseModule):
    """Fuse conv5_3 into conv4_3, then the plain extra layers after conv7.

    conv5_3 is upsampled x2 by a deconvolution initialised as bilinear, each branch gets a 3x3 conv +
    ReLU and an L2 normalisation (scales 20 for conv4_3, 10 for conv5_3); ``mode='concat'``
    concatenates and reduces with a 1x1 conv to ``fused_channels``, ``mode='sum'`` adds the branches
    (each ``fused_channels`` wide). The fused map replaces conv4_3 as the first prediction map.

    Built with ``in_channels = [conv4_3, conv5_3, conv7]`` (``VGG16Atrous(out_features=('conv4_3',
    'conv5_3', 'conv7'), l2_norm_scale=None)``); outputs ``[fused, conv7, extras...]``.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        mode: str = "concat",
        fused_channels: int | None = None,
        conv4_3_scale: float = 20.0,
        conv5_3_scale: float = 10.0,
        extra_channels: Sequence[Sequence[int]] = SSD300_EXTRA_CHANNELS,
        strides: Sequence[int] = SSD300_STRIDES,
        paddings: Sequence[int] = SSD300_PADDINGS,
        kernel_sizes: Sequence[int] = SSD300_KERNELS,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg)
        if mode not in PAPER_BEST:
            raise ValueError(f"FeatureFusedNeck: mode={mode!r}; valid: {list(PAPER_BEST)}")
        if len(in_channels) != 3:
            raise ValueError(
                f"FeatureFusedNeck: in_channels must be [conv4_3, conv5_3, conv7], got {list(in_channels)}"
                f" (backbone out_features=('conv4_3', 'conv5_3', 'conv7'))"
            )
        c4, c5, c7 = in_channels
        self.mode = mode
        fused = fused_channels or PAPER_BEST[mode]
        branch = c4 if mode == "concat" else fused
        self.in_channels = list(in_channels)
        self.deconv = nn.ConvTranspose2d(c5, c5, 4, stride=2, padding=1)  # x2: 19 -> 38, 32 -> 64
        self.conv4_3 = nn.Conv2d(c4, branch, 3, padding=1)
        self.conv5_3 = nn.Conv2d(c5, branch, 3, padding=1)
        self.norm4_3, self.norm5_3 = L2Norm(branch, conv4_3_scale), L2Norm(branch, conv5_3_scale)
        self.fuse = nn.Conv2d(2 * branch, fused, 1) if mode == "concat" else None
        self.extras = ExtraLayers(c7, extra_channels, strides, paddings, kernel_sizes)
        xavier_init_(self)
        with torch.no_grad():
            self.deconv.weight.copy_(bilinear_kernel(c5, 4))
            if self.deconv.bias is not None:
                nn.init.zeros_(self.deconv.bias)
        self.out_channels = [fused, c7] + self.extras.out_channels

    def forward(self, feats: Sequence[Tensor]) -> list[Tensor]:
        """``[conv4_3, conv5_3, conv7]`` -> ``[fused, conv7, extras...]``."""
        if len(feats) != 3:
            raise ValueError(f"FeatureFusedNeck: expects [conv4_3, conv5_3, conv7], got {len(feats)} maps")
        c4, c5, c7 = feats
        up = self.deconv(c5)
        h, w = c4.shape[-2:]
        if up.shape[-2:] != (h, w):  # odd sizes: crop the bottom/right excess, or pad with zeros
            up = F.pad(up, (0, w - up.shape[-1], 0, h - up.shape[-2]))
        a = self.norm4_3(F.relu(self.conv4_3(c4), inplace=True))
        b = self.norm5_3(F.relu(self.conv5_3(up), inplace=True))
        if self.fuse is not None:  # concat
            fused = F.relu(self.fuse(torch.cat((a, b), dim=1)), inplace=True)
        else:
            fused = F.relu(a + b)
        return [fused, c7] + self.extras(c7)

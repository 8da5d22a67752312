"""SSDExtraLayers: the plain SSD neck (backbone maps passed through, extra maps appended)."""

from __future__ import annotations

from collections.abc import Sequence

from mmengine.model import BaseModule
from torch import Tensor

from ssdkit.registry import NECKS

from .extra_layers import ExtraLayers

# SSD300's conv8_2 .. conv11_2 (Liu et al. 2016, Fig. 2)
SSD300_EXTRA_CHANNELS: tuple[tuple[int, int], ...] = ((256, 512), (128, 256), (128, 256), (128, 256))
SSD300_STRIDES, SSD300_PADDINGS, SSD300_KERNELS = (2, 2, 1, 1), (1, 1, 0, 0), (3, 3, 3, 3)


@NECKS.register_module()
class SSDExtraLayers(BaseModule):
    """Backbone maps unchanged, then extra maps computed from the last of them.

    Defaults are SSD300's conv8_2 .. conv11_2 (19 -> 10, 5, 3, 1); SSD512 uses five blocks with strides
    (2, 2, 2, 2, 1), paddings (1, 1, 1, 1, 1) and a final 4x4 kernel (32 -> 16, 8, 4, 2, 1).
    Parameter keys of the plain blocks: ``extras.layers.{i}.0`` (1x1) and ``.2`` (kxk).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        extra_channels: Sequence[Sequence[int]] = SSD300_EXTRA_CHANNELS,
        strides: Sequence[int] = SSD300_STRIDES,
        paddings: Sequence[int] = SSD300_PADDINGS,
        kernel_sizes: Sequence[int] = SSD300_KERNELS,
        depthwise: bool = False,
        norm: str | None = None,
        init: str = "xavier",
        norm_cfg: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg)
        self.in_channels = list(in_channels)
        self.extras = ExtraLayers(
            self.in_channels[-1], extra_channels, strides, paddings, kernel_sizes, depthwise, norm, init, norm_cfg
        )
        self.out_channels = self.in_channels + self.extras.out_channels

    def forward(self, feats: Sequence[Tensor]) -> list[Tensor]:
        """Backbone maps -> backbone maps + extra maps."""
        if len(feats) != len(self.in_channels):
            raise ValueError(f"SSDExtraLayers: built for {len(self.in_channels)} inputs, got {len(feats)}")
        return list(feats) + self.extras(feats[-1])

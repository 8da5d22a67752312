"""VGG16-atrous, the SSD paper's base network."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from ssdkit.registry import BACKBONES

from ..layers import L2Norm, xavier_init_
from .common import FrozenStagesMixin
from .vgg_weights import VGG16_WEIGHTS
from .weights import weights_source

VGG16_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "C", 512, 512, 512, "M", 512, 512, 512]
CONV4_3, CONV5_3 = 22, 29  # indices of the ReLUs after conv4_3 / conv5_3 in ``layers`` (torchvision's)
STAGE_ENDS = [4, 9, 16, 23, 30]  # end (exclusive) of each conv block in ``layers``
OUTPUTS = ("conv4_3", "conv5_3", "conv7")


@BACKBONES.register_module()
class VGG16Atrous(FrozenStagesMixin, BaseModule):
    """VGG16 conv1_1 .. conv5_3 (pool3 in ceil mode: 300 -> 38), pool5 3x3 stride 1, conv6 3x3 with
    dilation 6 (1024) and conv7 1x1 (1024).

    ``layers`` has torchvision ``vgg16().features[:30]``'s indices, so ImageNet weights map 1:1.

    Args:
        out_features: any of ``'conv4_3'``, ``'conv5_3'``, ``'conv7'`` (returned in network order).
        l2_norm_scale: conv4_3 is L2-normalised with a learnable scale starting here; ``None`` returns
            the raw map (the Feature-Fused neck normalises itself).
        frozen_stages: freeze the first N stages (1-5 the VGG blocks, 6 conv6/conv7).
        norm_eval: keep normalisation layers in eval mode (VGG has none; kept for a uniform API).
        pretrained: ImageNet weights loaded in ``init_weights`` through torchvision's own loader (its cache;
            a clear message when offline), one of :data:`VGG16_WEIGHTS`:
            ``'IMAGENET1K_FEATURES'`` (the paper's Caffe VGG16 convolutions; conv6/conv7 Xavier-initialised
            as torchvision's ``ssd300_vgg16`` does) or ``'IMAGENET1K_V1'`` (torchvision's VGG16, fc6/fc7
            subsampled into conv6/conv7). The weights carry their input normalisation (``input_norm``),
            which the detector gives its data preprocessor.
    """

    WEIGHTS = VGG16_WEIGHTS

    def __init__(
        self,
        out_features: Sequence[str] = ("conv4_3", "conv7"),
        l2_norm_scale: float | None = 20.0,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__(init_cfg)
        self.pretrained = pretrained
        self.weights = weights_source(type(self).__name__, pretrained, self.WEIGHTS)
        self.input_norm = self.weights.norm if self.weights else None
        bad = [f for f in out_features if f not in OUTPUTS]
        if bad or not out_features:
            raise ValueError(f"VGG16Atrous: out_features {list(out_features)} invalid; choose from {list(OUTPUTS)}")
        self.out_features = [f for f in OUTPUTS if f in out_features]
        layers: list[nn.Module] = []
        in_ch = 3
        for v in VGG16_CFG:
            if isinstance(v, str):  # "M" max pool, "C" max pool in ceil mode (38 from 75)
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=v == "C"))
            else:
                layers += [nn.Conv2d(in_ch, v, 3, padding=1), nn.ReLU(inplace=True)]
                in_ch = v
        self.layers = nn.Sequential(*layers)
        self.pool5 = nn.MaxPool2d(3, 1, 1)
        self.conv6 = nn.Conv2d(512, 1024, 3, padding=6, dilation=6)
        self.conv7 = nn.Conv2d(1024, 1024, 1)
        self.l2_norm = L2Norm(512, l2_norm_scale) if l2_norm_scale is not None else None
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        channels = {"conv4_3": 512, "conv5_3": 512, "conv7": 1024}
        self.out_channels = [channels[f] for f in self.out_features]
        self._freeze()

    def init_weights(self) -> None:
        """Load the ``pretrained`` weights; layers they lack (``WeightsSource.fresh``) are Xavier-initialised."""
        super().init_weights()
        if self.weights is not None:
            result = self.load_state_dict(self.weights.load(), strict=False)
            fresh = {k.split(".")[0] for k in result.missing_keys} - {"l2_norm"}
            if fresh != set(self.weights.fresh) or result.unexpected_keys:
                raise RuntimeError(
                    f"VGG16Atrous: weights {self.weights.name} left {result.missing_keys} unset and "
                    f"brought unexpected {result.unexpected_keys}"
                )
            for name in self.weights.fresh:
                xavier_init_(getattr(self, name))

    def stages(self) -> list[nn.Module]:
        starts = [0] + STAGE_ENDS[:-1]
        blocks: list[nn.Module] = [self.layers[s:e] for s, e in zip(starts, STAGE_ENDS, strict=True)]
        return blocks + [nn.ModuleList([self.conv6, self.conv7])]

    def frozen_modules(self) -> list[nn.Module]:
        return self.stages()[: max(self.frozen_stages, 0)]

    def forward(self, x: Tensor) -> list[Tensor]:
        """``[B, 3, H, W]`` -> the ``out_features`` maps (300: conv4_3 38x38, conv5_3 19x19, conv7 19x19)."""
        outs = []
        x = self.layers[: CONV4_3 + 1](x)
        if "conv4_3" in self.out_features:
            outs.append(self.l2_norm(x) if self.l2_norm is not None else x)
        x = self.layers[CONV4_3 + 1 :](x)
        if "conv5_3" in self.out_features:
            outs.append(x)
        if "conv7" in self.out_features:
            x = F.relu(self.conv6(self.pool5(x)), inplace=True)
            outs.append(F.relu(self.conv7(x), inplace=True))
        return outs

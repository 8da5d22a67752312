"""MobileNetV2 and MobileNetV3 on torchvision's own modules, tapped for SSDLite, with torchvision's ImageNet weights."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from functools import partial
from typing import cast

from mmengine.model import BaseModule
from torch import Tensor, nn

from ssdkit.registry import BACKBONES

from ..layers import init_convs_
from .common import FrozenStagesMixin, load_every_layer
from .torchvision_weights import torchvision_weights
from .weights import WeightsSource, weights_source

#: Output names: the last block output at stride 8, 16 or 32 (``'stride32'`` includes the final 1x1 conv), and
#: ``'stride16_expand'``: the expansion (first 1x1) of the block that goes to stride 32, the SSDLite tap
#: (MobileNetV2 §6.2, "the expansion of layer 15"; MobileNetV3 §6.3, "C4").
TAPS = ("stride8", "stride16", "stride16_expand", "stride32")


def _layers(block: nn.Module) -> nn.Sequential:
    """The layers of an inverted residual block (torchvision: ``block`` in V3, ``conv`` in V2)."""
    return cast(nn.Sequential, block.block if hasattr(block, "block") else block.conv)


def _table(arch: str, names: Sequence[str]) -> dict[str, WeightsSource]:
    return {n: torchvision_weights(arch, n) for n in names}


class _TorchvisionMobileNet(FrozenStagesMixin, BaseModule):
    """``features`` is torchvision's ``MobileNetV2/V3.features`` (same keys, so ImageNet weights load 1:1);
    ``forward`` returns the ``out_features`` maps, splitting the stride-32 block after its expansion when
    ``'stride16_expand'`` is asked for (that block has no residual, so the split changes nothing)."""

    features: nn.Sequential

    def _setup(
        self,
        tv: nn.Module,
        out_features: Sequence[str],
        frozen_stages: int,
        norm_eval: bool,
        pretrained: str | None,
        weights: WeightsSource | None,
        init: str,
    ) -> None:
        name = type(self).__name__
        bad = [f for f in out_features if f not in TAPS]
        if bad or not out_features:
            raise ValueError(f"{name}: out_features {list(out_features)} invalid; choose from {list(TAPS)}")
        self.weights = weights
        self.input_norm = self.weights.norm if self.weights else None
        self.pretrained = pretrained
        self.features = cast(nn.Sequential, tv.features)
        if self.weights is None:
            init_convs_(self.features, init, name)
        stride, last_at, first_at = 1, dict[int, int](), dict[int, int]()
        for i, block in enumerate(self.features):
            stride *= 2 if i == 0 or getattr(block, "_is_cn", False) else 1
            last_at[stride] = i
            first_at.setdefault(stride, i)
        self.out_features = [f for f in TAPS if f in out_features]
        self._tap_index = {
            "stride8": last_at[8],
            "stride16": last_at[16],
            "stride16_expand": first_at[32],
            "stride32": last_at[32],
        }
        expand = _layers(self.features[first_at[32]])[0]
        width = {f: self.features[self._tap_index[f]] for f in ("stride8", "stride16", "stride32")}
        channels = {f: int(cast(int, block.out_channels)) for f, block in width.items()}
        channels["stride16_expand"] = int(cast(int, expand.out_channels))
        self.out_channels = [channels[f] for f in self.out_features]
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self._freeze()

    def init_weights(self) -> None:
        """Load the ``pretrained`` ImageNet weights (torchvision's loader and cache); the classifier is dropped."""
        super().init_weights()
        if self.weights is not None:
            load_every_layer(
                self, self.weights.load(), f"{type(self).__name__}: weights {self.weights.name}", "is reduced_tail set?"
            )

    def stages(self) -> list[nn.Module]:
        """The stem, then one stage per stride (blocks up to each stride change)."""
        cuts = [0] + [i for i, b in enumerate(self.features) if getattr(b, "_is_cn", False)] + [len(self.features)]
        return [self.features[a:b] for a, b in itertools.pairwise(cuts)]

    def frozen_modules(self) -> list[nn.Module]:
        return self.stages()[: max(self.frozen_stages, 0)]

    def forward(self, x: Tensor) -> list[Tensor]:
        """``[B, 3, H, W]`` -> the ``out_features`` maps (320: stride16_expand 20x20, stride32 10x10)."""
        taps = {self._tap_index[f]: f for f in self.out_features if f != "stride16_expand"}
        split = self._tap_index["stride16_expand"] if "stride16_expand" in self.out_features else -1
        outs = []
        last = max(self._tap_index[f] for f in self.out_features)
        for i, block in enumerate(self.features):
            if i == split:
                layers = _layers(block)
                x = layers[0](x)
                outs.append(x)
                x = layers[1:](x)
            else:
                x = block(x)
            if i in taps:
                outs.append(x)
            if i == last:
                break
        return outs


@BACKBONES.register_module()
class MobileNetV2(_TorchvisionMobileNet):
    """torchvision's MobileNetV2 (Sandler et al. 2018) with SSDLite taps.

    Args:
        out_features: any of :data:`TAPS` (SSDLite: ``'stride16_expand'`` 576 ch and ``'stride32'`` 1280 ch).
        width_mult: torchvision's width multiplier.
        norm_cfg: BatchNorm ``eps`` / ``momentum`` (torchvision's: 1e-5 / 0.1).
        frozen_stages: freeze the stem (1) and the next N - 1 stages; ``norm_eval``: BN kept in eval mode.
        pretrained: ``'IMAGENET1K_V1'`` or ``'IMAGENET1K_V2'`` (torchvision's weights and their normalisation).
        init: the convs' initialisation without weights: ``'default'`` (torchvision's) or ``'normal'``, ``'xavier'``.
    """

    WEIGHTS = _table("mobilenet_v2", ("IMAGENET1K_V1", "IMAGENET1K_V2"))

    def __init__(
        self,
        out_features: Sequence[str] = ("stride16_expand", "stride32"),
        width_mult: float = 1.0,
        norm_cfg: dict | None = None,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        pretrained: str | None = None,
        init: str = "default",
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__(init_cfg)
        from torchvision.models import mobilenet_v2

        norm = partial(nn.BatchNorm2d, **(norm_cfg or {}))
        self._setup(
            mobilenet_v2(weights=None, width_mult=width_mult, norm_layer=norm),
            out_features,
            frozen_stages,
            norm_eval,
            pretrained,
            weights_source("MobileNetV2", pretrained, self.WEIGHTS),
            init,
        )


@BACKBONES.register_module()
class MobileNetV3(_TorchvisionMobileNet):
    """torchvision's MobileNetV3 large or small (Howard et al. 2019) with SSDLite taps.

    Args:
        arch: ``'large'`` or ``'small'``.
        out_features: any of :data:`TAPS` (SSDLite on large: ``'stride16_expand'`` 672 ch, ``'stride32'`` 960 ch,
            480 with ``reduced_tail``).
        reduced_tail: halve the last stage's channels (MobileNetV3 Table 6; torchvision's SSDLite without ImageNet
            weights). ImageNet weights exist only without it.
        width_mult: torchvision's width multiplier.
        norm_cfg: BatchNorm ``eps`` / ``momentum`` (torchvision's: 0.001 / 0.01; its SSDLite: 0.001 / 0.03).
        frozen_stages, norm_eval, pretrained, init: as :class:`MobileNetV2` (weights: large ``'IMAGENET1K_V1'``,
            ``'IMAGENET1K_V2'``; small ``'IMAGENET1K_V1'``).
    """

    ARCHS = ("large", "small")
    WEIGHTS_BY_ARCH = {
        "large": _table("mobilenet_v3_large", ("IMAGENET1K_V1", "IMAGENET1K_V2")),
        "small": _table("mobilenet_v3_small", ("IMAGENET1K_V1",)),
    }

    def __init__(
        self,
        arch: str = "large",
        out_features: Sequence[str] = ("stride16_expand", "stride32"),
        reduced_tail: bool = False,
        width_mult: float = 1.0,
        norm_cfg: dict | None = None,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        pretrained: str | None = None,
        init: str = "default",
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__(init_cfg)
        from torchvision.models import mobilenet_v3_large, mobilenet_v3_small

        if arch not in self.ARCHS:
            raise ValueError(f"MobileNetV3: arch={arch!r}; valid: {list(self.ARCHS)}")
        if reduced_tail and pretrained is not None:
            raise ValueError(
                f"MobileNetV3: pretrained={pretrained!r} holds the full tail; set reduced_tail=False, "
                f"or pretrained=None to train the reduced tail from scratch (torchvision's SSDLite)"
            )
        self.arch = arch
        build = mobilenet_v3_large if arch == "large" else mobilenet_v3_small
        norm = partial(nn.BatchNorm2d, **{"eps": 0.001, "momentum": 0.01, **(norm_cfg or {})})
        self._setup(
            build(weights=None, width_mult=width_mult, reduced_tail=reduced_tail, norm_layer=norm),
            out_features,
            frozen_stages,
            norm_eval,
            pretrained,
            self.weights_for(dict(arch=arch, pretrained=pretrained)),
            init,
        )

    @classmethod
    def weights_for(cls, cfg: Mapping[str, object]) -> WeightsSource | None:
        """The weights a backbone config loads (they depend on ``arch``), without building it."""
        arch = str(cfg.get("arch", "large"))
        if arch not in cls.ARCHS:  # building names a bad arch
            return None
        return weights_source(cls.__name__, cfg.get("pretrained"), cls.WEIGHTS_BY_ARCH[arch])

"""MobileNetV1 (depthwise-separable convolutions) with MobileNet-SSD taps at conv11 and conv13."""

from __future__ import annotations

from collections.abc import Sequence

from mmengine.model import BaseModule
from torch import Tensor, nn

from ssdkit.registry import BACKBONES

from ..layers import ACTIVATIONS, conv_bn_act
from .common import FrozenStagesMixin, load_every_layer
from .mobilenet_digits import digits_weights
from .mobilenet_timm import MOBILENETV1_WEIGHTS
from .weights import WeightsTable, weights_source

STRIDES = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
CHANNELS = [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]


def _width(ch: int, mult: float) -> int:
    return max(8, int(ch * mult + 4) // 8 * 8)


@BACKBONES.register_module()
class MobileNetV1(FrozenStagesMixin, BaseModule):
    """A 3x3 stride-2 stem (32 ch) and 13 depthwise 3x3 + pointwise 1x1 blocks, BN and ReLU/ReLU6.

    Args:
        out_indices: blocks whose outputs are returned (1-based; 11: 19x19 x 512, 13: 10x10 x 1024 at 300).
        width_mult: channel multiplier (rounded to multiples of 8).
        activation: ``'relu'`` or ``'relu6'``.
        frozen_stages: freeze the stem (stage 0) and blocks 1 .. N.
        norm_eval: keep BatchNorm in eval mode while training.
        pretrained: ``'timm'``: timm's ImageNet ``mobilenetv1_100`` (loaded in ``init_weights`` through timm's
            loader and the Hugging Face hub cache; needs ``pip install 'ssdkit[timm]'``), which requires
            ``activation='relu6'`` and ``width_mult=1.0``. The weights carry their normalisation (RGB,
            ``(x / 255 - 0.5) / 0.5``), which the detector gives its data preprocessor.
            ``'digits'``: the demo's digit classifier (``ssdkit.models.backbones.mobilenet_digits``; width 0.5,
            RGB ``(x - 127.5) / 127.5``), shipped with ssdkit.
        weights_file: a local copy of those weights in timm's format (``model.safetensors`` from the hub or a
            ``torch.save``-d timm state dict), read instead of the hub; for ``'digits'``, another file the
            pretraining tool wrote.
    """

    WEIGHTS: WeightsTable = {**MOBILENETV1_WEIGHTS, "digits": digits_weights}

    def __init__(
        self,
        out_indices: Sequence[int] = (11, 13),
        width_mult: float = 1.0,
        activation: str = "relu6",
        frozen_stages: int = -1,
        norm_eval: bool = False,
        pretrained: str | None = None,
        weights_file: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__(init_cfg)
        if activation not in ACTIVATIONS:
            raise ValueError(f"MobileNetV1: activation={activation!r}; valid: {list(ACTIVATIONS)}")
        self.pretrained = pretrained
        self.weights = weights_source(type(self).__name__, pretrained, self.WEIGHTS)
        if self.weights is not None:
            self.weights.check(type(self).__name__, dict(activation=activation, width_mult=width_mult))
        if weights_file is not None and (self.weights is None or self.weights.load_file is None):
            raise ValueError(
                f"MobileNetV1: weights_file={weights_file!r} is read only with pretrained='timm' or 'digits'"
            )
        self.weights_file = weights_file
        self.input_norm = self.weights.norm if self.weights else None
        if not out_indices or any(not 1 <= i <= 13 for i in out_indices):
            raise ValueError(f"MobileNetV1: out_indices {list(out_indices)} must be block numbers 1 .. 13")
        cin = _width(32, width_mult)
        self.stem = nn.Sequential(*conv_bn_act(3, cin, 3, 2, act=activation))
        blocks = []
        for s, c in zip(STRIDES, CHANNELS, strict=True):
            cout = _width(c, width_mult)
            blocks.append(
                nn.Sequential(
                    nn.Sequential(*conv_bn_act(cin, cin, 3, s, groups=cin, act=activation)),
                    nn.Sequential(*conv_bn_act(cin, cout, 1, act=activation)),
                )
            )
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.out_indices = sorted(out_indices)
        self.out_channels = [_width(CHANNELS[i - 1], width_mult) for i in self.out_indices]
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
        self._freeze()

    def init_weights(self) -> None:
        """Load the ``pretrained`` weights (every layer; from ``weights_file`` when given)."""
        super().init_weights()
        if self.weights is not None:
            load_file = self.weights.load_file
            sd = load_file(self.weights_file) if load_file and self.weights_file else self.weights.load()
            load_every_layer(self, sd, f"MobileNetV1: weights {self.weights.name}")

    def frozen_modules(self) -> list[nn.Module]:
        return [self.stem, *self.blocks][: self.frozen_stages + 1 if self.frozen_stages >= 0 else 0]

    def forward(self, x: Tensor) -> list[Tensor]:
        """``[B, 3, H, W]`` -> outputs of the ``out_indices`` blocks."""
        x = self.stem(x)
        outs = []
        for i, block in enumerate(self.blocks, start=1):
            x = block(x)
            if i in self.out_indices:
                outs.append(x)
            if i == self.out_indices[-1]:
                break
        return outs

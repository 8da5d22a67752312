"""The SSD head: per prediction map one predictor for class scores and one for box offsets (a 3x3 or 1x1 conv,
or a depthwise 3x3 + BN + ReLU6 then a 1x1 conv)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from ssdkit.registry import HEADS

from ..layers import conv_bn_act, init_convs_


def _predictor(
    in_ch: int, out_ch: int, depthwise: bool, kernel_size: int = 3, norm_cfg: dict | None = None
) -> nn.Module:
    if not depthwise:
        return nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2)
    # SSDLite: depthwise 3x3 + BN + ReLU6, then pointwise 1x1
    return nn.Sequential(
        *conv_bn_act(in_ch, in_ch, 3, groups=in_ch, act="relu6", norm_cfg=norm_cfg), nn.Conv2d(in_ch, out_ch, 1)
    )


def _last_conv(predictor: nn.Module) -> tuple[str, nn.Conv2d]:
    """The conv that writes a predictor's outputs, and its name inside the predictor (``''`` for a plain conv)."""
    return [(n, m) for n, m in predictor.named_modules() if isinstance(m, nn.Conv2d)][-1]


def _flatten(x: Tensor, columns: int) -> Tensor:
    """``[B, A*K, H, W]`` -> ``[B, H*W*A, K]`` (prior order: row, column, box)."""
    b, _, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(b, -1, columns)  # channels are (box, column): free in channels_last


@HEADS.register_module()
class SSDHead(BaseModule):
    """Class scores (``C + 1`` per prior, column 0 background) and box offsets (4 per prior).

    Args:
        in_channels: channels of each prediction map (wired from the neck).
        num_priors_per_location: boxes per location of each map (wired from the prior generator).
        num_classes: foreground classes C.
        depthwise: depthwise-separable predictors (SSDLite) instead of plain convs.
        kernel_size: the plain predictors' kernel: 3 (the paper) or 1 (the released MobileNet-SSD).
        init: ``'xavier'`` (the paper: Xavier-uniform weights, zero bias), ``'normal'`` (N(0, 0.03), torchvision's
            SSDLite) or ``'default'``.
        norm_cfg: the depthwise predictors' BatchNorm ``eps`` / ``momentum`` (SSDLite: 0.001 / 0.03).
        init_background_prob: the background probability the untrained head gives every prior, set through the
            class biases (background ``log(p C / (1 - p))``, classes 0): RetinaNet's prior-probability bias
            (Lin et al. 2017) for the softmax. ``None``: zero biases (the paper). From scratch, 0.99 spares the
            first steps from learning that almost every prior is background (docs/demo.md).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_priors_per_location: Sequence[int],
        num_classes: int,
        depthwise: bool = False,
        kernel_size: int = 3,
        init: str = "xavier",
        norm_cfg: dict | None = None,
        init_background_prob: float | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(init_cfg)
        if kernel_size not in (1, 3) or (depthwise and kernel_size != 3):
            raise ValueError(f"SSDHead: kernel_size={kernel_size!r}; valid: 3, or 1 with depthwise=False")
        if init_background_prob is not None and not 0 < init_background_prob < 1:
            raise ValueError(
                f"SSDHead: init_background_prob={init_background_prob!r}; valid: None or a probability "
                f"strictly between 0 and 1 (e.g. 0.99)"
            )
        if len(in_channels) != len(num_priors_per_location):
            raise ValueError(
                f"SSDHead: {len(in_channels)} in_channels {list(in_channels)} but "
                f"{len(num_priors_per_location)} num_priors_per_location {list(num_priors_per_location)}"
            )
        self.num_classes = num_classes
        self.in_channels = list(in_channels)
        self.num_priors_per_location = list(num_priors_per_location)
        self.cls_convs = nn.ModuleList(
            _predictor(c, a * (num_classes + 1), depthwise, kernel_size, norm_cfg)
            for c, a in zip(in_channels, num_priors_per_location, strict=True)
        )
        self.reg_convs = nn.ModuleList(
            _predictor(c, a * 4, depthwise, kernel_size, norm_cfg)
            for c, a in zip(in_channels, num_priors_per_location, strict=True)
        )
        self.init_background_prob = init_background_prob
        init_convs_(self, init, "SSDHead")
        self.init_class_biases()

    def init_class_biases(self) -> None:
        """Set the class predictors' biases for ``init_background_prob`` (nothing when it is ``None``)."""
        p = self.init_background_prob
        if p is None:
            return
        k = self.num_classes + 1
        with torch.no_grad():
            for conv, a in zip(self.cls_convs, self.num_priors_per_location, strict=True):
                _, last = _last_conv(conv)
                assert last.bias is not None  # every predictor conv has one
                bias = last.bias.view(a, k)
                bias.zero_()
                bias[:, 0] = math.log(p * self.num_classes / (1 - p))

    def init_weights(self) -> None:
        """mmengine's ``init_cfg`` initialisation, then the class biases again (an ``init_cfg`` resets them)."""
        super().init_weights()
        self.init_class_biases()

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:
        """Refuse a checkpoint made for another class count, naming the key and the config fix."""
        for k, a in enumerate(self.num_priors_per_location):
            last, _ = _last_conv(self.cls_convs[k])
            key = f"{prefix}cls_convs.{k}.{last + '.' if last else ''}weight"
            if key not in state_dict:
                continue
            rows = state_dict[key].shape[0]
            if rows != a * (self.num_classes + 1):
                found = f"{rows // a - 1} classes" if rows % a == 0 else f"{rows} rows"
                raise ValueError(
                    f"checkpoint key '{key}' holds {found} for {a} priors per location, but model.num_classes="
                    f"{self.num_classes}: set model.num_classes to the checkpoint's class count, or fine-tune "
                    f"from it with model.init_cfg limited to the backbone/neck"
                )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def forward(self, feats: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """``feats``: per level ``[B, C_k, H_k, W_k]`` -> ``cls_logits [B, P, C+1]``, ``box_deltas [B, P, 4]``."""
        if len(feats) != len(self.cls_convs):
            raise ValueError(f"SSDHead: got {len(feats)} feature maps, built for {len(self.cls_convs)}")
        k = self.num_classes + 1
        cls = [_flatten(conv(f), k) for conv, f in zip(self.cls_convs, feats, strict=True)]
        reg = [_flatten(conv(f), 4) for conv, f in zip(self.reg_convs, feats, strict=True)]
        return torch.cat(cls, dim=1), torch.cat(reg, dim=1)

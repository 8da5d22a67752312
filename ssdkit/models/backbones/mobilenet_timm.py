"""timm's ImageNet MobileNetV1 (``mobilenetv1_100``) weights for ssdkit's ``MobileNetV1`` (keys: ``ssdkit.convert``).

timm's network is ssdkit's layer for layer: a 3x3 stride-2 stem (32 ch), then 13 depthwise-separable blocks
(depthwise 3x3 + BN + ReLU6, pointwise 1x1 + BN + ReLU6, no residual: timm's ``dsa`` blocks), symmetric
padding 1 (``pad_type=''``), BatchNorm eps 1e-5, channels 64 .. 1024 at width 1.0. Only the activation differs
from the Caffe MobileNet-SSD (ReLU), so these weights require ``activation='relu6'``.
"""

from __future__ import annotations

from torch import Tensor

from ssdkit.convert.timm_mobilenet import timm_mobilenetv1_to_ssdkit

from .timm_backbone import create_timm_model, timm_input_norm, timm_pretrained_cfg, timm_weights_label
from .weights import WeightsSource

TIMM_MODEL = "mobilenetv1_100"
WHO = "MobileNetV1(pretrained='timm')"


def _timm_mobilenetv1(file: str | None = None) -> dict[str, Tensor]:
    """timm's ``mobilenetv1_100`` ImageNet weights through timm's loader (HF hub cache, or ``file``), converted."""
    net = create_timm_model(TIMM_MODEL, WHO, pretrained=True, file=file)
    return timm_mobilenetv1_to_ssdkit(net.state_dict())


def timm_mobilenetv1_weights() -> WeightsSource:
    """``MobileNetV1.WEIGHTS['timm']``: made on first use, so ssdkit imports without timm; normalisation from
    timm's ``pretrained_cfg`` (mean = std = 0.5 on 0..1 RGB pixels)."""
    cfg = timm_pretrained_cfg(TIMM_MODEL, who=WHO)
    return WeightsSource(
        name="timm",
        origin=f"timm {timm_weights_label(cfg)}, ImageNet-1k",
        norm=timm_input_norm(cfg),
        load=_timm_mobilenetv1,
        load_file=_timm_mobilenetv1,
        requires=dict(activation="relu6", width_mult=1.0),
    )


#: ``MobileNetV1(pretrained=...)``: timm's ImageNet MobileNetV1 (``'timm'``).
MOBILENETV1_WEIGHTS = {"timm": timm_mobilenetv1_weights}

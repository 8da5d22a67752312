"""timm's ImageNet MobileNetV1 (``mobilenetv1_100``) for ssdkit's ``MobileNetV1``: the key mapping and the weights.

timm's network is ssdkit's layer for layer: a 3x3 stride-2 stem (32 ch), then 13 depthwise-separable blocks
(depthwise 3x3 + BN + ReLU6, pointwise 1x1 + BN + ReLU6, no residual: timm's ``dsa`` blocks), symmetric
padding 1 (``pad_type=''``), BatchNorm eps 1e-5, channels 64 .. 1024 at width 1.0. Only the activation differs
from the Caffe MobileNet-SSD (ReLU), so these weights require ``activation='relu6'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from torch import Tensor

from .timm_backbone import create_timm_model, timm_input_norm, timm_pretrained_cfg, timm_weights_label
from .weights import WeightsSource

TIMM_MODEL = "mobilenetv1_100"
WHO = "MobileNetV1(pretrained='timm')"
_PARTS = (("conv_dw", "0.0"), ("bn1", "0.1"), ("conv_pw", "1.0"), ("bn2", "1.1"))
_DROPPED = ("classifier.", "conv_head.", "norm_head.", "bn2.")  # timm's classifier head (and optional head conv)


def timm_mobilenetv1_to_ssdkit(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """timm ``mobilenetv1_100`` state dict (whole model or ``features_only``) -> ``MobileNetV1`` keys.

    ``conv_stem`` / ``bn1`` -> ``stem.0`` / ``stem.1``; ``blocks.{s}.{j}.conv_dw / bn1 / conv_pw / bn2`` ->
    ``blocks.{i}.0.0 / .0.1 / .1.0 / .1.1``, ``i`` counting timm's blocks in stage order (stages of 1, 2, 2, 6, 2
    blocks -> 0 .. 12). The classifier is dropped; any other key is an error naming it.
    """
    found = sorted(
        {(int(m[1]), int(m[2])) for k in state_dict if (m := re.fullmatch(r"blocks\.(\d+)\.(\d+)\.conv_dw\.weight", k))}
    )
    if "conv_stem.weight" not in state_dict or not found:
        raise KeyError(
            f"timm mobilenetv1 state dict: no conv_stem.weight / blocks.S.J.conv_dw.weight "
            f"(found e.g. {list(state_dict)[:4]})"
        )
    rename = {"conv_stem": "stem.0", "bn1": "stem.1"}
    for i, (s, j) in enumerate(found):
        rename.update({f"blocks.{s}.{j}.{theirs}": f"blocks.{i}.{ours}" for theirs, ours in _PARTS})
    out, unknown = {}, []
    for key, value in state_dict.items():
        module, _, param = key.rpartition(".")
        if module in rename:
            out[f"{rename[module]}.{param}"] = value
        elif not key.startswith(_DROPPED):
            unknown.append(key)
    if unknown:
        raise KeyError(f"timm mobilenetv1 state dict: keys without a place in MobileNetV1: {unknown[:6]}")
    return out


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

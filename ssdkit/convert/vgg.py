"""torchvision VGG16 state dicts -> ``VGG16Atrous`` keys (fc6/fc7 subsampled into conv6/conv7 as the paper does)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]  # conv layers of vgg16.features[:30]


def _take(sd: Mapping[str, Tensor], key: str, source: str) -> Tensor:
    if key not in sd:
        raise KeyError(f"{source}: missing key '{key}' (found e.g. {list(sd)[:4]})")
    return sd[key]


def vgg16_to_atrous(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """torchvision ImageNet ``vgg16`` state dict -> ``VGG16Atrous`` keys.

    Conv layers are copied; conv6 comes from fc6 (4096 x 25088 = 4096 x 512 x 7 x 7) taking every
    4th filter and every 3rd spatial tap (-> 1024 x 512 x 3 x 3), conv7 from fc7 taking every 4th
    output and input (-> 1024 x 1024 x 1 x 1), as the paper and DeepLab-LargeFOV do. ``l2_norm.weight``
    has no source and keeps its initial value (load with ``strict=False``).
    """
    src = "torchvision vgg16 state dict"
    out = {}
    for i in CONV_INDICES:
        for p in ("weight", "bias"):
            out[f"layers.{i}.{p}"] = _take(state_dict, f"features.{i}.{p}", src)
    fc6_w, fc6_b = _take(state_dict, "classifier.0.weight", src), _take(state_dict, "classifier.0.bias", src)
    fc7_w, fc7_b = _take(state_dict, "classifier.3.weight", src), _take(state_dict, "classifier.3.bias", src)
    if not all(bool(torch.isfinite(t).all()) for t in (fc6_w, fc6_b, fc7_w, fc7_b)):
        raise ValueError(
            f"{src}: fc6/fc7 (classifier.0, classifier.3) hold NaN or infinite values, as torchvision's "
            f"IMAGENET1K_FEATURES file does; convert it as 'vgg16_features' (convolutions only)"
        )
    out["conv6.weight"] = fc6_w.view(4096, 512, 7, 7)[::4, :, ::3, ::3].contiguous()
    out["conv6.bias"] = fc6_b[::4].contiguous()
    out["conv7.weight"] = fc7_w.view(4096, 4096, 1, 1)[::4, ::4].contiguous()
    out["conv7.bias"] = fc7_b[::4].contiguous()
    return out


def torchvision_ssd_backbone_to_atrous(state_dict: Mapping[str, Tensor], prefix: str = "backbone.") -> dict:
    """torchvision ``SSDFeatureExtractorVGG`` (SSD300) keys -> ``VGG16Atrous`` keys.

    torchvision keeps conv1_1 .. conv4_3 in ``features`` (same indices), conv5_x in ``extra.0`` (indices
    shifted by 23: pool4 is ``extra.0.0``) followed by ``extra.0.7`` = (pool5, conv6, relu, conv7, relu),
    and the conv4_3 scale as ``scale_weight``.
    """
    src = "torchvision ssd300_vgg16 state dict"
    out = {}
    for i in CONV_INDICES:
        key = f"{prefix}features.{i}" if i < 23 else f"{prefix}extra.0.{i - 23}"
        for p in ("weight", "bias"):
            out[f"layers.{i}.{p}"] = _take(state_dict, f"{key}.{p}", src)
    for ours, theirs in (("conv6", "extra.0.7.1"), ("conv7", "extra.0.7.3")):
        for p in ("weight", "bias"):
            out[f"{ours}.{p}"] = _take(state_dict, f"{prefix}{theirs}.{p}", src)
    out["l2_norm.weight"] = _take(state_dict, f"{prefix}scale_weight", src)
    return out


def vgg16_features_to_atrous(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """torchvision ``vgg16`` ``features`` only (``IMAGENET1K_FEATURES``: its classifier holds NaNs) ->
    ``VGG16Atrous`` conv1_1 .. conv5_3; conv6, conv7 and ``l2_norm.weight`` have no source."""
    src = "torchvision vgg16 features state dict"
    return {
        f"layers.{i}.{p}": _take(state_dict, f"features.{i}.{p}", src) for i in CONV_INDICES for p in ("weight", "bias")
    }

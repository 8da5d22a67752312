"""torchvision's ImageNet weights as a ``WeightsSource``: its loader and cache, its documented normalisation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

import torch
from torch import Tensor

from .weights import InputNorm, WeightsSource


def _enum(arch: str, name: str):
    from torchvision.models import get_model_weights

    return get_model_weights(arch)[name]


def fetch_torchvision_state_dict(arch: str, name: str, local_hint: str = "") -> dict[str, Tensor]:
    """``<arch> weights <name>`` through torchvision's own loader (the user's torch hub cache).

    Offline, behind a proxy or with a corrupt cache the error names the file, where torchvision's loader
    reads it, and ``local_hint`` (how to convert a local copy instead).
    """
    weights = _enum(arch, name)
    try:
        return weights.get_state_dict(progress=True)
    except Exception as err:  # offline, proxy, corrupt cache: all end here
        file = weights.url.rsplit("/", 1)[-1]
        raise RuntimeError(
            f"could not fetch torchvision's {type(weights).__name__}.{name} ({err}). On an offline "
            f"machine copy {file} into {torch.hub.get_dir()}/checkpoints, where torchvision's loader "
            f"reads it{'; ' + local_hint if local_hint else ''}"
        ) from err


def torchvision_norm(arch: str, name: str) -> InputNorm:
    """The normalisation torchvision documents for these weights (``weights.transforms()``: RGB, 0..1 pixels)."""
    preset = _enum(arch, name).transforms()
    return InputNorm(mean=tuple(preset.mean), std=tuple(preset.std), pixel_scale=255.0)


def _features_only(arch: str, name: str) -> dict[str, Tensor]:
    sd = fetch_torchvision_state_dict(
        arch,
        name,
        "or set pretrained=None and init_cfg=dict(type='Pretrained', "
        "checkpoint=PATH, prefix='features.') on the backbone",
    )
    return {k: v for k, v in sd.items() if k.startswith("features.")}


def torchvision_weights(
    arch: str, name: str, convert: Callable[[Mapping[str, Tensor]], dict[str, Tensor]] | None = None
) -> WeightsSource:
    """A ``WeightsSource`` for torchvision's ``<arch>`` ``<name>`` weights; by default their ``features.*`` keys."""
    load = (
        partial(_features_only, arch, name)
        if convert is None
        else (lambda: convert(fetch_torchvision_state_dict(arch, name)))
    )
    return WeightsSource(
        name=name, origin=f"torchvision {arch} {name} (ImageNet-1k)", norm=torchvision_norm(arch, name), load=load
    )

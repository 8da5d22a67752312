"""What the machine decides for a detector: the memory format (NCHW / NHWC) and whether dense 3x3 convs run
NNPACK's Winograd kernels. The detector states ``'auto'``, ``True`` or ``False``; this module turns ``'auto'`` into a
choice for the CPU or GPU at hand."""

from __future__ import annotations

import torch
from torch import nn

from .winograd import use_winograd, winograd_available

SETTINGS = (True, False, "auto")


def _check(key: str, value: bool | str) -> None:
    if value not in SETTINGS:
        raise ValueError(f"model.{key}={value!r}: valid values are True, False and 'auto'")


def apply_winograd(model: nn.Module, setting: bool | str) -> int:
    """``model.winograd``: make the eligible convs of ``model`` Winograd convs when ``setting`` is ``True``, or
    ``'auto'`` on a CPU where NNPACK's kernels help (x86 with PyTorch at AVX2); returns how many convs changed."""
    _check("winograd", setting)
    if setting is True and not winograd_available():
        raise ValueError(
            f"model.winograd=True, but NNPACK's Winograd kernels need an x86 CPU with PyTorch at "
            f"AVX2 (this one: {torch.backends.cpu.get_cpu_capability()}, NNPACK "
            f"{'present' if torch._nnpack_available() else 'absent'}); use 'auto' or False"
        )
    on = setting is True or (setting == "auto" and winograd_available())
    return use_winograd(model) if on else 0


def check_channels_last(setting: bool | str) -> bool | str:
    """``model.channels_last`` checked (``True``, ``False`` or ``'auto'``)."""
    _check("channels_last", setting)
    return setting


def prefer_channels_last(backbone: nn.Module, training: bool = True, winograd: bool = False) -> bool:
    """``channels_last='auto'``: NHWC on CUDA, on AVX-512 CPUs and for depthwise networks; on other CPUs a dense
    network trains in NCHW (oneDNN's AVX2 NHWC backward is slower for dense convolutions) and predicts in NHWC, or
    in NCHW when it has Winograd convs (NNPACK takes NCHW)."""
    if torch.cuda.is_available() or torch.backends.cpu.get_cpu_capability().startswith("AVX512"):
        return True
    if any(isinstance(m, nn.Conv2d) and m.groups > 1 for m in backbone.modules()):
        return True
    return not training and not winograd

"""Exact rewrites of a network for export, made on a copy at the fixed input size.

OpenCV DNN 4.14 computes a depthwise 3x3 convolution with padding 1 on a 1x1 map wrongly (values of 1e30, read
from memory it never wrote; found here on SSDLite's last extra layer and head, checked in
``tests/test_deploy.py::test_centre_tap_rewrite_is_exact_and_opencv_needs_it``). On a 1x1 map with zero padding of
``k // 2`` only the kernel's centre tap ever meets the input, so such a convolution *is* a 1x1 convolution with the
centre weights: the rewrite changes no output, and every runtime then runs an ordinary 1x1 convolution.
"""

from __future__ import annotations

import torch
from torch import nn


def conv_input_sizes(model: nn.Module, run) -> dict[nn.Conv2d, tuple[int, int]]:
    """The ``(H, W)`` each ``nn.Conv2d`` of ``model`` sees when ``run()`` calls it."""
    sizes: dict[nn.Conv2d, tuple[int, int]] = {}

    def record(mod: nn.Conv2d, args: tuple) -> None:
        sizes.setdefault(mod, (int(args[0].shape[-2]), int(args[0].shape[-1])))

    hooks = [m.register_forward_pre_hook(record) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in hooks:
            h.remove()
    return sizes


def centre_tap(conv: nn.Conv2d) -> nn.Conv2d:
    """``conv`` as the 1x1 convolution it equals on a 1x1 input (its centre weights, same groups and bias)."""
    kh, kw = conv.kernel_size
    one = nn.Conv2d(conv.in_channels, conv.out_channels, 1, groups=conv.groups, bias=conv.bias is not None)
    with torch.no_grad():
        one.weight.copy_(conv.weight[:, :, kh // 2 : kh // 2 + 1, kw // 2 : kw // 2 + 1])
        if conv.bias is not None and one.bias is not None:
            one.bias.copy_(conv.bias)
    return one.to(conv.weight.device, conv.weight.dtype)


def replace_centre_tap_convs(model: nn.Module, run) -> int:
    """Swap, in place, every odd-kernel convolution that ``run()`` applies to a 1x1 map with ``k // 2`` zero padding
    and dilation 1 for its :func:`centre_tap` equivalent. Returns how many were swapped."""
    sizes = conv_input_sizes(model, run)
    swapped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, nn.Conv2d) or sizes.get(child) != (1, 1):
                continue
            kh, kw = child.kernel_size
            if (kh, kw) == (1, 1) or kh % 2 == 0 or kw % 2 == 0 or child.dilation != (1, 1):
                continue
            if child.padding != (kh // 2, kw // 2) or child.padding_mode != "zeros":
                continue
            setattr(parent, name, centre_tap(child))
            swapped += 1
    return swapped

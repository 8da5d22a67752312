"""Winograd 3x3 convolutions for float32 on AVX2-only CPUs, through the NNPACK kernels PyTorch ships.

oneDNN's AVX2 kernels compute a 3x3 convolution directly; NNPACK's Winograd F(6x6, 3x3) kernels need fewer
multiplications, and one image at a time they are faster than oneDNN under AVX2 on maps of 32x32 and larger
(docs/benchmarks.md, "Winograd convolutions", has the per-layer figures). With AVX-512, oneDNN's NHWC kernels are
faster, so ``'auto'`` leaves them there.

A :class:`WinogradConv2d` is an ``nn.Conv2d`` (same parameters, keys and outputs up to float32 rounding, about
1e-6 of the outputs' scale): on a CPU float32 NCHW input of at least :data:`MIN_PIXELS` output pixels, its forward
and input gradient run NNPACK's Winograd kernels and its weight gradient oneDNN's; anywhere else (export,
``torch.compile``, CUDA, bfloat16 autocast, NHWC, small maps) it is the plain ``nn.Conv2d``.
"""

from __future__ import annotations

import platform

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

MIN_PIXELS = 32 * 32  # smaller output maps stay on oneDNN, faster there (docs/benchmarks.md)


def winograd_available() -> bool:
    """NNPACK's kernels are present and initialised, on an x86 CPU whose PyTorch kernels stop at AVX2."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    if torch.backends.cpu.get_cpu_capability() != "AVX2":
        return False
    return bool(torch._nnpack_available())  # also initialises NNPACK, which its convolution does not


def winograd_eligible(conv: nn.Module) -> bool:
    """A plain dense 3x3 stride-1 convolution without dilation, zero padding at most 2 (NNPACK's kernels)."""
    if type(conv) not in (nn.Conv2d, WinogradConv2d):
        return False
    assert isinstance(conv, nn.Conv2d)
    return bool(
        conv.kernel_size == (3, 3)
        and conv.stride == (1, 1)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and isinstance(conv.padding, tuple)
        and all(isinstance(p, int) and 0 <= p <= 2 for p in conv.padding)
    )


def nnpack_conv3x3(x: Tensor, weight: Tensor, bias: Tensor | None, padding: list[int]) -> Tensor:
    """``x [B, Cin, H, W]`` -> ``[B, Cout, H + 2p - 2, W + 2p - 2]``, one image at a time: NNPACK's one-image
    path keeps a workspace of tens of MB where its batched path keeps 200 MB for SSD300's 512-channel layers at
    batch 8, and was faster (emulated AVX2, SSD300-VGG16 training step at batch 8: 6.2-6.5 s against 6.5-7.0 s;
    filling a preallocated output instead of ``torch.cat``: 6.9-7.2 s)."""
    if x.shape[0] == 1:
        return torch._nnpack_spatial_convolution(x, weight, bias, padding)
    return torch.cat([torch._nnpack_spatial_convolution(xi, weight, bias, padding) for xi in x.split(1)])


class _WinogradConv(torch.autograd.Function):
    """``x [B, Cin, H, W]`` NCHW float32 -> ``[B, Cout, H + 2p - 2, W + 2p - 2]``."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, padding: tuple[int, int]) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.padding = padding
        ctx.has_bias = bias is not None
        return nnpack_conv3x3(x, weight, bias, list(padding))

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            # a stride-1 convolution's input gradient is the convolution of the output gradient with the
            # weights flipped and transposed, padded 2 - p
            flipped = weight.flip(2, 3).transpose(0, 1).contiguous()
            grad_x = nnpack_conv3x3(grad, flipped, None, [2 - p for p in ctx.padding])
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            _, grad_w, grad_b = torch.ops.aten.convolution_backward(
                grad,
                x,
                weight,
                [weight.shape[0]] if ctx.has_bias else None,
                [1, 1],
                list(ctx.padding),
                [1, 1],
                False,
                [0, 0],
                1,
                [False, ctx.needs_input_grad[1], ctx.has_bias and ctx.needs_input_grad[2]],
            )
        return grad_x, grad_w, grad_b, None


class WinogradConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose forward and input gradient use NNPACK's Winograd kernels where they apply
    (see the module docstring); made from an existing conv by :func:`use_winograd`, keeping its parameters."""

    def forward(self, x: Tensor) -> Tensor:
        if (
            not torch.compiler.is_compiling()
            and not torch.jit.is_tracing()  # never in export
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and self.weight.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu")
            and x.dim() == 4
            and x.is_contiguous()
            and self.weight.is_contiguous()
            and self._out_pixels(x) >= MIN_PIXELS
        ):
            return _WinogradConv.apply(x, self.weight, self.bias, self.padding)
        return super().forward(x)

    def _out_pixels(self, x: Tensor) -> int:
        ph, pw = (int(p) for p in self.padding)  # ints: use_winograd only takes convs with integer padding
        return (x.shape[2] + 2 * ph - 2) * (x.shape[3] + 2 * pw - 2)


def use_winograd(module: nn.Module, on: bool = True) -> int:
    """Turn every eligible ``nn.Conv2d`` of ``module`` into a :class:`WinogradConv2d` (``on``) or back; the
    modules keep their identity, parameters and state-dict keys. Returns how many convs were switched."""
    n = 0
    for m in module.modules():
        new: type[nn.Conv2d] | None = None
        if on and type(m) is nn.Conv2d and winograd_eligible(m):
            new = WinogradConv2d
        elif not on and type(m) is WinogradConv2d:
            new = nn.Conv2d
        if new is not None:
            m.__class__ = new
            n += 1
    return n

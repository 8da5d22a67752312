"""Mixed precision without loss scaling: autocast to bfloat16, on CPU as well as on CUDA.

mmengine's ``AmpOptimWrapper`` refuses to run without a GPU. On a CPU with native bfloat16
(``avx512_bf16`` or AMX) the step runs bfloat16 kernels (``bench/train.py --quick`` prints the gain over
float32). bf16 keeps float32's exponent range, so no loss scaler is needed. Weights, gradients and the
optimizer state stay float32; the detector computes matching and the loss in float32.
"""

from __future__ import annotations

import logging
import os
import warnings
from contextlib import contextmanager

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper

from ssdkit.registry.root import RUNNER_FACING_PASSTHROUGH

OPTIM_WRAPPERS = RUNNER_FACING_PASSTHROUGH["OPTIM_WRAPPERS"]


# oneDNN ISA caps (ONEDNN_MAX_CPU_ISA) that still allow bfloat16 instructions
_BF16_ISAS = ("BF16", "FP16", "AMX", "AVX10", "ALL")


def native_bf16(device_type: str) -> bool:
    """Whether ``device_type`` ('cpu', 'cuda') computes bfloat16 natively (else autocast would be slower).

    On CPU: the CPU has ``avx512_bf16`` or AMX, and neither PyTorch's kernels nor oneDNN's are held
    below them (``ATEN_CPU_CAPABILITY=avx2`` or ``ONEDNN_MAX_CPU_ISA=AVX2``, as when an AVX2-only CPU
    is emulated, count as no native bf16).
    """
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device_type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    isa_cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "ALL").upper()
    return (
        torch.backends.cpu.get_cpu_capability().startswith("AVX512")
        and any(k in isa_cap for k in _BF16_ISAS)
        and (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    )


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward passes run under ``torch.autocast(device, torch.bfloat16)``.

    Args:
        fallback_fp32: on a device without native bf16, warn once and train in float32 instead
            (``False``: autocast anyway, emulated and slow).
        **kwargs: ``OptimWrapper``'s (``optimizer``, ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self, *args, fallback_fp32: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fallback_fp32 = fallback_fp32
        self._enabled: dict[str, bool] = {}

    def autocast_enabled(self, device_type: str) -> bool:
        if device_type not in self._enabled:
            native = native_bf16(device_type)
            ok = native or not self.fallback_fp32
            if not ok:
                msg = (
                    f"BF16OptimWrapper: this {device_type} has no native bfloat16 "
                    f"(CPU: avx512_bf16/AMX; CUDA: compute capability >= 8.0); training in float32"
                )
                warnings.warn(msg, stacklevel=2)
            else:
                msg = (
                    f"BF16OptimWrapper: training under bfloat16 autocast on {device_type} "
                    f"({'native bf16' if native else 'emulated: fallback_fp32=False'})"
                )
            print_log(msg, logger="current", level=logging.INFO if ok else logging.WARNING)
            self._enabled[device_type] = ok
        return self._enabled[device_type]

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        device_type = next(model.parameters()).device.type
        with (
            super().optim_context(model),
            torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.autocast_enabled(device_type)),
        ):
            yield

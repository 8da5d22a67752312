"""What CPU a figure was measured on: model, instruction sets, what PyTorch uses of them, threads."""

from __future__ import annotations

import os
import platform

ISA_VARS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def _cpuinfo(key: str) -> str | None:
    """The value of the first ``key`` line of ``/proc/cpuinfo`` (``None`` where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """The kernel's CPU flags (``/proc/cpuinfo``; empty elsewhere)."""
    return set((_cpuinfo("flags") or "").split())


def instruction_sets(flags: set[str] | None = None) -> list[str]:
    """The sets that decide PyTorch's CPU speed: AVX2, AVX-512, avx512_bf16, AMX."""
    flags = cpu_flags() if flags is None else flags
    names = [("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "avx512_bf16"), ("amx_tile", "AMX")]
    return [name for flag, name in names if flag in flags]


def describe_cpu() -> str:
    """One line for a log or a benchmark: ``CPU <model>; <sets>; torch uses <cap>[, emulated ...]; N threads``."""
    import torch

    sets = instruction_sets()
    capped = [f"{v}={os.environ[v]}" for v in ISA_VARS if os.environ.get(v)]
    use = torch.backends.cpu.get_cpu_capability()
    threads = torch.get_num_threads()
    emulated = f" (emulated: {' '.join(capped)})" if capped else ""
    return (
        f"CPU {cpu_model()}; {' '.join(sets) or 'no AVX2'}{'' if 'AMX' in sets else ', no AMX'}; "
        f"torch uses {use}{emulated}; {threads} thread{'' if threads == 1 else 's'}"
    )

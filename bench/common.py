"""Helpers shared by the benchmarks: timing and the largest tensor an operation creates."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


def best_of(fn: Callable[[], object], repeats: int = 7, warmup: int = 2) -> float:
    """Median wall time of ``fn`` in seconds after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


class LargestTensor(TorchDispatchMode):
    """Records the element count of the largest tensor any op returns while active."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0
        self.op = ""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.numel() > self.largest:
                self.largest, self.op = t.numel(), str(func)
        return out


def largest_tensor(fn: Callable[[], object]) -> tuple[int, str]:
    with LargestTensor() as mode:
        fn()
    return mode.largest, mode.op


#: The environment of the AVX2 emulation the default runs are sized for (each bench's default: about 2.4 min there).
AVX2_ENV = dict(ONEDNN_MAX_CPU_ISA="AVX2", ATEN_CPU_CAPABILITY="avx2", MKL_ENABLE_INSTRUCTIONS="AVX2")


def peak_rss_mb(field: str = "VmHWM") -> float:
    """This process's peak resident set (``VmHWM``; ``VmRSS``: the current one) in MB, from ``/proc/self/status``.
    Not ``getrusage``'s ``ru_maxrss``, which a worker started by ``subprocess`` inherits from its parent at the
    fork, so a small worker of a large parent reports the parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def emit(line: str) -> None:
    """Print one figure now (flushed), so a long run shows what it has measured so far."""
    print(line, flush=True)

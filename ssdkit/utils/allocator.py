"""Keep freed memory in the process between training steps (glibc ``malloc``), instead of returning it.

A training step allocates and frees buffers of tens of MB. glibc's defaults give the top of the heap
back to the OS whenever more than ``2 x`` the last large block is free, and serve large blocks by
``mmap``; the next step faults every page back in (docs/benchmarks.md, "Allocator", has the figures).
:func:`tune_allocator` sets, at run time through ``mallopt``, what
``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296:
glibc.malloc.top_pad=268435456`` would set at start-up: blocks up to 32 MiB come from the heap, and
free heap is kept up to 2 GiB (``mallopt`` takes an ``int``; the tunable's 4 GiB does not fit). The
memory stays the process's (peak RSS is unchanged; it is simply not handed back between steps).

Every ssdkit entry point calls it (``build_runner``, ``init_detector``, the benchmarks).
``SSDKIT_MALLOC_TUNE=0`` turns it off; a ``GLIBC_TUNABLES`` that sets ``glibc.malloc.*`` itself is
left alone. On a C library other than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc malloc.h
SETTINGS = ((M_MMAP_THRESHOLD, 32 << 20), (M_TRIM_THRESHOLD, 2**31 - 1), (M_TOP_PAD, 256 << 20))

_done: bool | None = None


def tune_allocator() -> bool:
    """Apply :data:`SETTINGS` once per process; ``True`` if glibc took them (idempotent)."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get("SSDKIT_MALLOC_TUNE", "1") == "0" or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return _done
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return _done
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _done = all(mallopt(param, value) == 1 for param, value in SETTINGS)
    return _done

"""Reusable scratch buffers for the large ``[B, G, P]`` steps of target assignment."""

from __future__ import annotations

import math

import torch
from torch import Tensor


class Workspace:
    """Named flat buffers grown on demand and reused across calls.

    On CPU a fresh 20 MB tensor costs more in page faults than the arithmetic done in it, so the
    matchers keep their ``[B, G, P]`` scratch here (CUDA's caching allocator does this by itself).
    A buffer handed out is only valid until the next ``get`` of the same name.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Tensor:
        n = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < n or buf.dtype != dtype or buf.device != device:
            buf = torch.empty(n, dtype=dtype, device=device)
            self._buffers[name] = buf
        return buf[:n].view(shape)

    def clear(self) -> None:
        self._buffers.clear()

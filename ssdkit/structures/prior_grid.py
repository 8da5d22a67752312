"""Priors described as regular grids, so matching can visit only the priors near each ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class PriorGrid:
    """The layout of a ``[P, 4]`` prior tensor made of regular grids of identical boxes.

    Group ``k`` (one prediction level and one box shape of it) holds ``fh[k] x fw[k]`` boxes of size
    ``w[k] x h[k]`` pixels centred at ``(x0[k] + i dx[k], y0[k] + j dy[k])``; its box in column ``i``,
    row ``j`` is prior ``base[k] + (j fw[k] + i) per_cell[k]``. Every field is a ``[K]`` tensor (long
    for counts and indices, float pixels otherwise); ``num_priors`` is P.
    """

    base: Tensor
    per_cell: Tensor
    fw: Tensor
    fh: Tensor
    x0: Tensor
    y0: Tensor
    dx: Tensor
    dy: Tensor
    w: Tensor
    h: Tensor
    num_priors: int

    @property
    def num_groups(self) -> int:
        return int(self.base.shape[0])

    def to(self, device: torch.device | str) -> PriorGrid:
        def t(x: Tensor) -> Tensor:
            return x.to(device)

        return PriorGrid(
            t(self.base),
            t(self.per_cell),
            t(self.fw),
            t(self.fh),
            t(self.x0),
            t(self.y0),
            t(self.dx),
            t(self.dy),
            t(self.w),
            t(self.h),
            self.num_priors,
        )

"""Shared fixtures: random but valid ground truth and SSD300 priors."""

from __future__ import annotations

import pytest
import torch

from ssdkit.core import SSDPriorGenerator

SSD300_FEATURES = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
SSD512_FEATURES = [(64, 64), (32, 32), (16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
TV_SSD300 = dict(
    aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]],
    scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
    steps=[8, 16, 32, 64, 100, 300],
    clip="wh",
)


def random_boxes(n: int, size: float = 300.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """``[n, 4]`` xyxy boxes of 4 .. 0.8 size, inside a ``size`` square."""
    wh = torch.rand(n, 2, generator=generator) * (0.8 * size - 4) + 4
    xy = torch.rand(n, 2, generator=generator) * (size - wh)
    return torch.cat((xy, xy + wh), dim=1)


@pytest.fixture
def tv_priors() -> torch.Tensor:
    return SSDPriorGenerator(**TV_SSD300)(SSD300_FEATURES, (300, 300))

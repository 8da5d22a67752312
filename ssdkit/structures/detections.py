"""The per-image detection container passed from postprocessing to metrics and tools."""

from __future__ import annotations

from typing import TypedDict

from torch import Tensor


class Detections(TypedDict):
    """One image's detections: ``boxes [N, 4]`` xyxy in original-image pixels, ``scores [N]``,
    ``labels [N]`` long, 0-based foreground classes; sorted by decreasing score."""

    boxes: Tensor
    scores: Tensor
    labels: Tensor

"""Box IoU in numpy, for the data pipeline and evaluation (which run on numpy arrays)."""

from __future__ import annotations

import numpy as np


def np_pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[..., N, 4]`` x ``[..., M, 4]`` xyxy -> ``[..., N, M]`` IoU (0 where the union is empty)."""
    lt = np.maximum(a[..., :, None, :2], b[..., None, :, :2])
    rb = np.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a[..., :, None] + area_b[..., None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)

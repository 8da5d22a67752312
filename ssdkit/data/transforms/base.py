"""Shared pieces of the per-sample transforms.

A sample is a dict: ``img`` (HxWx3 uint8, BGR as OpenCV loads it), ``gt_bboxes`` ``[N, 4]`` float32
xyxy pixels, ``gt_labels`` ``[N]`` int64, ``gt_ignore_flags`` ``[N]`` bool, plus ``img_id``,
``img_path``, ``ori_shape`` and ``img_shape`` (H, W). Geometric transforms move boxes, labels and
ignore flags together.
"""

from __future__ import annotations

import numpy as np

BOX_KEYS = ("gt_bboxes", "gt_labels", "gt_ignore_flags")


class RandomTransform:
    """Randomness from a private generator when ``seed`` is given, else numpy's global one (which
    mmengine seeds per dataloader worker, so forked workers do not repeat each other)."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(seed) if seed is not None else None

    @property
    def rng(self):
        return self._rng if self._rng is not None else np.random.mtrand._rand

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        return float(self.rng.uniform(low, high))


def ensure_box_fields(results: dict) -> dict:
    """Fill missing box fields with empty arrays of the right dtypes."""
    n = len(results.get("gt_bboxes", ()))
    results.setdefault("gt_bboxes", np.zeros((0, 4), np.float32))
    results.setdefault("gt_labels", np.zeros((n,), np.int64))
    results.setdefault("gt_ignore_flags", np.zeros((n,), bool))
    return results


def keep_boxes(results: dict, keep: np.ndarray) -> None:
    """Keep the boxes where ``keep`` is True, with their labels and ignore flags."""
    for k in BOX_KEYS:
        results[k] = results[k][keep]

"""Tiles of a large image: the grid that covers it, objects cut to a tile, detections merged back."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torchvision.ops import batched_nms


def tile_grid(height: int, width: int, tile: int, overlap: float = 0.2) -> np.ndarray:
    """``[T, 4]`` int xyxy tiles of ``tile`` x ``tile`` pixels covering a ``height`` x ``width`` image, neighbours
    sharing ``overlap`` of a tile; the last row and column end at the image's edge. An image smaller than a tile
    (in a dimension) gets one tile that spans that whole dimension."""
    if tile <= 0:
        raise ValueError(f"tile size must be positive, got {tile}")
    if not 0 <= overlap < 1:
        raise ValueError(f"tile overlap must be in [0, 1), got {overlap} (a fraction of the tile size)")
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height} x {width}")
    stride = max(1, int(round(tile * (1 - overlap))))

    def starts(size: int) -> list[int]:
        if size <= tile:
            return [0]
        out = list(range(0, size - tile, stride))
        return out + [size - tile]

    ys, xs = starts(height), starts(width)
    return np.array([[x, y, min(x + tile, width), min(y + tile, height)] for y in ys for x in xs], np.int64)


def cut_to_tile(boxes: np.ndarray, tile: np.ndarray, min_visible: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Objects ``boxes [N, 4]`` (image xyxy) seen through ``tile [4]``: ``(boxes in tile coordinates [N, 4],
    visible fraction [N], kept [N] bool)``; an object is kept when at least ``min_visible`` of its area is inside."""
    x1, y1, x2, y2 = (float(v) for v in tile)
    clipped = (
        np.stack(
            [
                np.clip(boxes[:, 0], x1, x2),
                np.clip(boxes[:, 1], y1, y2),
                np.clip(boxes[:, 2], x1, x2),
                np.clip(boxes[:, 3], y1, y2),
            ],
            1,
        )
        if len(boxes)
        else np.zeros((0, 4), np.float32)
    )
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    inside = np.clip(clipped[:, 2] - clipped[:, 0], 0, None) * np.clip(clipped[:, 3] - clipped[:, 1], 0, None)
    visible = np.where(area > 0, inside / np.maximum(area, 1e-12), 0.0)
    local = (clipped - np.array([x1, y1, x1, y1], np.float32)).astype(np.float32)
    return local, visible, visible >= min_visible


def _ios_nms(boxes: Tensor, scores: Tensor, labels: Tensor, threshold: float) -> Tensor:
    """Class-wise greedy suppression by intersection over the smaller box (SAHI's IOS): indices kept, by score."""
    order = scores.argsort(descending=True)
    b, lab = boxes[order].float(), labels[order]
    lt, rb = torch.maximum(b[:, None, :2], b[None, :, :2]), torch.minimum(b[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(-1)
    ios = inter / torch.minimum(area[:, None], area[None, :]).clamp(min=1e-9)
    over = (ios > threshold) & (lab[:, None] == lab[None, :])
    over.triu_(diagonal=1)  # only a higher-scoring box suppresses
    suppressed = torch.zeros(len(b), dtype=torch.bool, device=b.device)
    for i in range(len(b)):  # greedy over the kept boxes; each step is one vector operation
        if not suppressed[i]:
            suppressed |= over[i]
    return order[~suppressed]


def merge_detections(
    boxes: Tensor, scores: Tensor, labels: Tensor, iou: float = 0.5, max_dets: int | None = None, metric: str = "ios"
) -> tuple[Tensor, Tensor, Tensor]:
    """Detections of overlapping tiles, already in image coordinates (``[N, 4]``, ``[N]``, ``[N]``), merged
    class-wise: ``metric='ios'`` (default, SAHI's) suppresses a box mostly inside a better one, which also removes
    the partial box of an object cut by a tile's edge; ``'iou'`` is plain NMS. The ``max_dets`` best, by score."""
    if metric not in ("ios", "iou"):
        raise ValueError(f"merge metric={metric!r}; valid: 'ios', 'iou'")
    keep = (
        _ios_nms(boxes, scores, labels, iou)
        if metric == "ios"
        else batched_nms(boxes.float(), scores.float(), labels, iou)
    )
    if max_dets is not None:
        keep = keep[:max_dets]
    return boxes[keep], scores[keep], labels[keep]


def shift_boxes(boxes: Tensor, tile: np.ndarray | Tensor) -> Tensor:
    """``[N, 4]`` boxes from a tile's coordinates to the image's."""
    x1, y1 = float(tile[0]), float(tile[1])
    return boxes + torch.tensor([x1, y1, x1, y1], dtype=boxes.dtype, device=boxes.device)

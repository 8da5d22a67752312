"""Sliced inference on large images: detect tile by tile, batched, and merge in image coordinates."""

from __future__ import annotations

import sys

import numpy as np
import torch
from mmengine.model import BaseModel
from mmengine.utils import ProgressBar

from ssdkit.structures.tiles import merge_detections, shift_boxes, tile_grid

from .predict import predict_arrays


@torch.no_grad()
def detect_sliced(
    model: BaseModel,
    image: np.ndarray,
    tile: int = 512,
    overlap: float = 0.2,
    batch_size: int = 8,
    merge_iou: float = 0.5,
    whole_image: bool = False,
    progress: bool | None = None,
    max_dets: int | None = None,
) -> dict[str, torch.Tensor]:
    """One BGR image's detections from ``tile`` x ``tile`` tiles (each resized to the model's input as a whole
    image would be), shifted into image coordinates and merged by class-wise NMS at ``merge_iou``; with
    ``whole_image`` the whole image is also detected once, for objects larger than a tile.

    Returns ``boxes [N, 4]`` (xyxy, image pixels), ``scores [N]``, ``labels [N]`` by decreasing score (each tile
    keeps the model's ``max_per_img``; the merged list keeps ``max_dets``, default all). Memory is bounded by
    ``batch_size`` tiles, whatever the image's size. ``progress`` (default: above 16 tiles) draws a bar on stderr.
    """
    h, w = image.shape[:2]
    grid = tile_grid(h, w, tile, overlap)
    crops = [(t, np.ascontiguousarray(image[t[1] : t[3], t[0] : t[2]])) for t in grid]
    if whole_image:
        crops.append((np.array([0, 0, w, h]), image))
    bar = ProgressBar(len(crops), file=sys.stderr) if (progress if progress is not None else len(crops) > 16) else None
    boxes, scores, labels = [], [], []
    for start in range(0, len(crops), batch_size):
        chunk = crops[start : start + batch_size]
        for (t, _), det in zip(chunk, predict_arrays(model, [c for _, c in chunk]), strict=True):
            boxes.append(shift_boxes(det.bboxes, t))
            scores.append(det.scores)
            labels.append(det.labels)
            if bar is not None:
                bar.update()
    if bar is not None:
        sys.stderr.write("\n")
    merged = merge_detections(torch.cat(boxes), torch.cat(scores), torch.cat(labels), merge_iou, max_dets)
    return dict(zip(("boxes", "scores", "labels"), merged, strict=True))


def evaluate_sliced(
    model: BaseModel,
    dataset_cfg: dict,
    evaluator_cfg: dict | list,
    tile: int,
    overlap: float = 0.2,
    num: int | None = None,
    batch_size: int = 8,
) -> dict:
    """Sliced detection on each whole image of ``dataset_cfg``, scored by ``evaluator_cfg`` against the whole-image
    ground truth (original pixels): the metrics, as ``Runner.test`` reports them."""
    from mmengine.evaluator import Evaluator

    from ssdkit.registry import DATASETS, METRICS

    dataset = DATASETS.build(dict(dataset_cfg, pipeline=[dict(type="LoadImage")], test_mode=True))
    parts = evaluator_cfg if isinstance(evaluator_cfg, (list, tuple)) else [evaluator_cfg]
    evaluator = Evaluator([METRICS.build(part) for part in parts])
    evaluator.dataset_meta = dataset.metainfo
    n = len(dataset) if num is None else min(num, len(dataset))
    for i in range(n):
        r = dataset[i]
        det = detect_sliced(model, r["img"], tile, overlap, batch_size)
        hw = r["img"].shape[:2]
        evaluator.process(
            [
                dict(
                    img_id=r["img_id"],
                    img_path=r["img_path"],
                    img_shape=hw,
                    ori_shape=hw,
                    gt_instances=dict(
                        bboxes=torch.as_tensor(r["gt_bboxes"]),
                        labels=torch.as_tensor(r["gt_labels"]),
                        ignore_flags=torch.as_tensor(r["gt_ignore_flags"]),
                    ),
                    pred_instances=dict(bboxes=det["boxes"], scores=det["scores"], labels=det["labels"]),
                )
            ]
        )
    return evaluator.evaluate(n)

"""ONNX ``NonMaxSuppression`` as a PyTorch op: a reference implementation to run eagerly, and its ONNX translation.

``torch.ops.ssdkit.onnx_nms(boxes [B, P, 4], scores [B, C, P], max_per_class, iou, score_thr) -> [N, 3]`` returns
``(batch, class, box)`` triples exactly as ONNX's operator defines them: per image and class, the boxes scoring above
``score_thr`` in greedy NMS order (suppressing IoU > ``iou``), at most ``max_per_class`` of them, ordered by image,
class, then decreasing score. The exporter (``torch.onnx.export(..., dynamo=True)``) writes it as one
``NonMaxSuppression`` node (:data:`TRANSLATION`), which ONNX Runtime and OpenVINO run natively.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torchvision.ops import batched_nms


@torch.library.custom_op("ssdkit::onnx_nms", mutates_args=())
def onnx_nms(boxes: Tensor, scores: Tensor, max_per_class: int, iou: float, score_thr: float) -> Tensor:
    """The ONNX operator's result, computed with torchvision's NMS (same greedy rule, suppression at IoU > ``iou``)."""
    b, c, _ = scores.shape
    img, cls, box = (scores > score_thr).nonzero(as_tuple=True)
    s = scores[img, cls, box]
    group = img * c + cls
    keep = batched_nms(boxes[img, box].float(), s.float(), group, iou)
    keep = keep[torch.sort(s[keep], descending=True, stable=True).indices]
    keep = keep[torch.sort(group[keep], stable=True).indices]  # by image and class, by decreasing score within
    g = group[keep]
    counts = torch.bincount(g, minlength=b * c)
    rank = torch.arange(g.numel(), device=g.device) - (counts.cumsum(0) - counts)[g]
    keep = keep[rank < max_per_class]
    return torch.stack((img[keep], cls[keep], box[keep]), dim=1)


@onnx_nms.register_fake
def _onnx_nms_fake(boxes: Tensor, scores: Tensor, max_per_class: int, iou: float, score_thr: float) -> Tensor:
    n = torch.library.get_ctx().new_dynamic_size()
    return boxes.new_empty((n, 3), dtype=torch.int64)


def _translate(boxes, scores, max_per_class: int, iou: float, score_thr: float):
    from onnxscript import opset18

    op: Any = opset18
    return op.NonMaxSuppression(
        boxes,
        scores,
        op.Constant(value_ints=[max_per_class]),
        op.Constant(value_floats=[iou]),
        op.Constant(value_floats=[score_thr]),
    )


#: ``custom_translation_table`` entry for ``torch.onnx.export``
TRANSLATION: dict[Callable[..., Any], Callable[..., Any]] = {torch.ops.ssdkit.onnx_nms.default: _translate}

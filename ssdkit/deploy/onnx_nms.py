"""ONNX ``NonMaxSuppression`` as a PyTorch op: a reference implementation to run eagerly, and its ONNX translation.

``torch.ops.ssdkit.onnx_nms_dense(boxes [B, P, 4], scores [B, C, P], max_per_class, iou, score_thr) -> [B, C * P]``
holds the scores of the boxes ONNX's operator keeps, -1 elsewhere: per image and class, the boxes scoring above
``score_thr`` in greedy NMS order (suppressing IoU > ``iou``), at most ``max_per_class`` of them. Its shape does not
depend on the data, so a graph can branch on it. The exporter (``torch.onnx.export(..., dynamo=True)``) writes it as
a ``NonMaxSuppression`` node and the scatter of its selection (:data:`TRANSLATION`), which ONNX Runtime and OpenVINO
run natively.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torchvision.ops import batched_nms


def nms_selection(boxes: Tensor, scores: Tensor, max_per_class: int, iou: float, score_thr: float) -> Tensor:
    """ONNX ``NonMaxSuppression``'s output, ``[N, 3]`` ``(batch, class, box)`` triples ordered by image, class, then
    decreasing score, computed with torchvision's NMS (same greedy rule, suppression at IoU > ``iou``)."""
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


@torch.library.custom_op("ssdkit::onnx_nms_dense", mutates_args=())
def onnx_nms_dense(boxes: Tensor, scores: Tensor, max_per_class: int, iou: float, score_thr: float) -> Tensor:
    """:func:`nms_selection` as a fixed shape: ``[B, C * P]`` holding the scores of the kept boxes, -1 elsewhere."""
    b, c, p = scores.shape
    sel = nms_selection(boxes, scores, max_per_class, iou, score_thr)
    flat = sel[:, 0] * (c * p) + sel[:, 1] * p + sel[:, 2]
    dense = torch.full((b * c * p,), -1.0, dtype=scores.dtype, device=scores.device)
    return dense.scatter(0, flat, scores.reshape(-1).gather(0, flat)).view(b, c * p)


@onnx_nms_dense.register_fake
def _onnx_nms_dense_fake(boxes: Tensor, scores: Tensor, max_per_class: int, iou: float, score_thr: float) -> Tensor:
    b, c, p = scores.shape
    return scores.new_empty((b, c * p))


def _translate_dense(boxes, scores, max_per_class: int, iou: float, score_thr: float):
    """NonMaxSuppression, its ``(b, c, p)`` triples as indices into the flat scores, and those scores scattered into
    a ``-1`` filled ``[B, C * P]``."""
    from onnxscript import opset18

    op: Any = opset18
    sel = op.NonMaxSuppression(  # [N, 3] int64
        boxes,
        scores,
        op.Constant(value_ints=[max_per_class]),
        op.Constant(value_floats=[iou]),
        op.Constant(value_floats=[score_thr]),
    )
    shape = op.Shape(scores)  # (B, C, P)
    c, p = op.Slice(shape, [1], [2]), op.Slice(shape, [2], [3])
    strides = op.Concat(op.Mul(c, p), p, op.Constant(value_ints=[1]), axis=0)
    flat = op.ReduceSum(op.Mul(sel, strides), op.Constant(value_ints=[1]), keepdims=0)  # [N]
    values = op.Reshape(scores, op.Constant(value_ints=[-1]))
    filled = op.Expand(op.CastLike(op.Constant(value_float=-1.0), scores), op.Shape(values))
    dense = op.ScatterElements(filled, flat, op.Gather(values, flat, axis=0), axis=0)
    rows = op.Concat(op.Slice(shape, [0], [1]), op.Mul(c, p), axis=0)
    return op.Reshape(dense, rows)


#: ``custom_translation_table`` entry for ``torch.onnx.export``
TRANSLATION: dict[Callable[..., Any], Callable[..., Any]] = {torch.ops.ssdkit.onnx_nms_dense.default: _translate_dense}

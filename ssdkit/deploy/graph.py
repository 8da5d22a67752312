"""What an exported SSD computes: the detector with its input normalisation, priors and (end2end) NMS in one module.

Two forms (``mode``):

- ``'end2end'``: ``images`` uint8 ``[B, H, W, 3]`` BGR (``cv2.imread`` + ``cv2.resize`` to the input size, stacked)
  -> ``dets [B, K, 5]`` (x1, y1, x2, y2, score; network-input pixels), ``labels [B, K]`` (0-based; -1 in padding),
  ``num_dets [B]``; rows beyond ``num_dets`` are zeros. Inside: normalisation, network, decoding, clipping to the
  input, and the postprocessor's rule: per class the ``pre_nms_topk`` best scores, those above ``score_thr``, NMS at
  ``nms_iou`` (ONNX ``NonMaxSuppression``), then the ``max_per_img`` best over all classes. As in
  ``SSDPostprocessor``, NMS first sees each image's best ``max(4 x max_per_img, 1000)`` candidates, and all of them
  (an ONNX ``If``) only when that is not enough to be exact.
- ``'raw'``: ``images`` float32 ``[B, 3, H, W]`` BGR pixels 0..255 (``cv2.dnn.blobFromImages(imgs, 1.0, (W, H))``)
  -> ``boxes [B, P, 4]`` (decoded, clipped, input pixels), ``scores [B, P, C+1]`` (column 0 background), for
  runtimes without NMS (OpenCV DNN, TensorRT); :func:`ssdkit.deploy.raw_nms.postprocess_raw` finishes the job.

Boxes are in the network input's pixels: scale x by ``W_original / W`` and y by ``H_original / H``.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from ssdkit.core.postprocess import nms_prefix_size

from . import onnx_nms  # noqa: F401  (registers torch.ops.ssdkit.onnx_nms_dense)
from .rewrite import replace_centre_tap_convs

MODES = ("end2end", "raw")


class DeployGraph(nn.Module):
    """An :class:`~ssdkit.models.SSD` at a fixed ``input_size`` (H, W) as an export-ready module (see module doc).

    The priors for that size become constants; the model runs in NCHW float32 (a copy, with convolutions that only
    ever see a 1x1 map written as the 1x1 convolutions they equal: :mod:`ssdkit.deploy.rewrite`). ``score_thr``,
    ``max_per_img``, ``pre_nms_topk`` and ``nms_iou`` default to the model's postprocessor; ``nms_prefix=False``
    runs NMS on all candidates at once (see :meth:`select`).
    """

    mean: Tensor
    std: Tensor
    priors: Tensor
    limit: Tensor

    def __init__(
        self,
        model: Any,
        input_size: tuple[int, int],
        mode: str = "end2end",
        score_thr: float | None = None,
        max_per_img: int | None = None,
        nms_prefix: bool = True,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"export mode {mode!r}; valid: {list(MODES)}")
        post = model.postprocessor
        if getattr(post, "class_agnostic", False):
            raise ValueError(
                "export: the postprocessor has class_agnostic=True, but ONNX NonMaxSuppression is per "
                "class; export --mode raw and run postprocess_raw, or set class_agnostic=False"
            )
        self.mode = mode
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.model: Any = copy.deepcopy(model)  # the rewrite below is exact but stays out of the caller's model
        blank = torch.zeros(1, 3, *self.input_size)
        self.rewritten = replace_centre_tap_convs(self.model, lambda: self.model.head(self.model.extract_feats(blank)))
        self.score_thr = float(post.score_thr if score_thr is None else score_thr)
        self.max_per_img = int(post.max_per_img if max_per_img is None else max_per_img)
        self.pre_nms_topk, self.nms_iou = int(post.pre_nms_topk), float(post.nms_iou)
        self.nms_prefix = nms_prefix
        self.use_sigmoid, self.clip = bool(post.use_sigmoid), bool(getattr(post, "clip", True))
        pre = model.data_preprocessor
        self.bgr_to_rgb = bool(getattr(pre, "_channel_conversion", False))
        mean = pre.mean if getattr(pre, "_enable_normalize", False) else torch.zeros(3, 1, 1)
        std = pre.std if getattr(pre, "_enable_normalize", False) else torch.ones(3, 1, 1)
        self.register_buffer("mean", mean.detach().float().view(1, 3, 1, 1).clone())
        self.register_buffer("std", std.detach().float().view(1, 3, 1, 1).clone())
        with torch.no_grad():
            feats = model.extract_feats(torch.zeros(1, 3, *self.input_size))
            priors = model.priors_for(feats, torch.zeros(1, 3, *self.input_size), torch.float32)
        self.register_buffer("priors", priors.detach().clone().unsqueeze(0))  # [1, P, 4]
        h, w = self.input_size
        self.register_buffer("limit", torch.tensor([w, h, w, h], dtype=torch.float32))

    @property
    def num_priors(self) -> int:
        return int(self.priors.shape[1])

    def network(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x [B, 3, H, W]`` float BGR 0..255 -> decoded clipped ``boxes [B, P, 4]``, ``cls_logits [B, P, C+1]``."""
        if self.bgr_to_rgb:  # slices and a concat: OpenCV DNN has no negative-step Slice (what flip exports to)
            x = torch.cat((x[:, 2:3], x[:, 1:2], x[:, 0:1]), dim=1)
        x = (x - self.mean) / self.std
        cls_logits, box_deltas = self.model.head(self.model.extract_feats(x))
        boxes = self.model.box_coder.decode(box_deltas.float(), self.priors)
        if self.clip:
            boxes = torch.minimum(boxes.clamp(min=0), self.limit)
        return boxes, cls_logits.float()

    def forward(self, images: Tensor):
        if self.mode == "raw":
            boxes, cls_logits = self.network(images.float())
            if self.use_sigmoid:
                scores = torch.cat((torch.zeros_like(cls_logits[..., :1]), cls_logits[..., 1:].sigmoid()), dim=-1)
            else:
                scores = cls_logits.softmax(dim=-1)
            return boxes, scores
        boxes, cls_logits = self.network(images.permute(0, 3, 1, 2).float())
        return self.select(boxes, self.model.postprocessor.scores(cls_logits).transpose(1, 2))

    def select(self, boxes: Tensor, scores: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The postprocessor's rule on ``boxes [B, P, 4]`` and ``scores [B, C, P]`` -> ``dets``, ``labels``,
        ``num_dets`` (shapes in the module doc), with ONNX NMS and fixed-size top-k (no shape depends on the data).

        As ``SSDPostprocessor``, NMS first runs on each image's best ``prefix`` candidates; the graph runs it on all
        of them (an ONNX ``If``) only when an image keeps fewer than ``max_per_img`` of its prefix while it has more
        candidates: exact, and what NMS costs falls with the candidates it sees."""
        b, c, p = scores.shape
        k = min(self.pre_nms_topk, p)
        top_scores, top_idx = scores.topk(k, dim=2)  # [B, C, k]
        kept = torch.zeros_like(scores).scatter(2, top_idx, top_scores)  # the per-class top-k, zeros elsewhere
        m = nms_prefix_size(self.max_per_img)
        if m >= c * k or not self.nms_prefix:
            dense = self.nms_dense(boxes, kept)
        else:
            flat = top_scores.reshape(b, c * k)
            best, pos = flat.topk(m, dim=1)  # [B, m]: each image's best candidates over its classes
            cell = torch.div(pos, k, rounding_mode="floor") * p + top_idx.reshape(b, c * k).gather(1, pos)
            prefix = flat.new_zeros(b, c * p).scatter(1, cell, best).view(b, c, p)
            dense = self.nms_dense(boxes, prefix)
            short = ((dense >= 0).sum(dim=1) < self.max_per_img) & ((flat > self.score_thr).sum(dim=1) > m)
            dense = torch.cond(short.any(), self._nms_all, self._nms_prefix_kept, (boxes, kept, dense))
        best, idx = dense.topk(min(self.max_per_img, c * p), dim=1)  # [B, K]
        valid = best >= 0
        box = torch.gather(boxes, 1, (idx % p).unsqueeze(-1).expand(-1, -1, 4))
        dets = torch.cat((box, best.unsqueeze(-1)), dim=-1) * valid.unsqueeze(-1).to(boxes.dtype)
        labels = torch.where(valid, torch.div(idx, p, rounding_mode="floor"), torch.full_like(idx, -1))
        return dets, labels, valid.sum(dim=1)

    def nms_dense(self, boxes: Tensor, scores: Tensor) -> Tensor:
        """ONNX NMS on ``boxes [B, P, 4]``, ``scores [B, C, P]`` -> ``[B, C * P]``: the kept scores, -1 elsewhere."""
        return torch.ops.ssdkit.onnx_nms_dense(boxes, scores, self.max_per_img, self.nms_iou, self.score_thr)

    def _nms_all(self, boxes: Tensor, kept: Tensor, dense: Tensor) -> Tensor:
        return self.nms_dense(boxes, kept)

    def _nms_prefix_kept(self, boxes: Tensor, kept: Tensor, dense: Tensor) -> Tensor:
        return dense.clone()

"""Postprocessing: scores, per-class top-k, NMS and the per-image cap, batched over images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ssdkit.registry import POSTPROCESSORS
from ssdkit.structures import Detections

from .nms import grouped_nms


@dataclass(frozen=True)
class NMSSettings:
    """The postprocessing settings every path shares (``SSDPostprocessor``, NMS of raw exported outputs, an export's
    metadata); the defaults are the paper's test settings (ssd_pascal.py: score 0.01, top 400 per class, NMS 0.45,
    keep 200), as torchvision's SSD."""

    score_thr: float = 0.01
    pre_nms_topk: int = 400
    nms_iou: float = 0.45
    max_per_img: int = 200


NMS_DEFAULTS = NMSSettings()


def nms_prefix_size(max_per_img: int) -> int:
    """How many of each image's best candidates NMS sees first (every path that postprocesses widens from there when
    an image keeps fewer than ``max_per_img`` of them)."""
    return max(4 * max_per_img, 1000)


@POSTPROCESSORS.register_module()
class SSDPostprocessor:
    """Turn raw head outputs into detections in original-image pixels.

    Per image and class: keep scores above ``score_thr``, the ``pre_nms_topk`` best, NMS at
    ``nms_iou`` (per class, or across classes with ``class_agnostic``), then the ``max_per_img`` best
    over all classes. Equals torchvision's ``SSD.postprocess_detections`` with the defaults, but NMS
    first runs on each image's best ``max(4 x max_per_img, 1000)`` candidates only and widens just when an image
    keeps fewer than ``max_per_img`` of them (exact, see ``_nms_prefix``).

    Args:
        use_sigmoid: score each class with a sigmoid of its logit instead of the softmax over C + 1.
    """

    def __init__(
        self,
        score_thr: float = NMS_DEFAULTS.score_thr,
        pre_nms_topk: int = NMS_DEFAULTS.pre_nms_topk,
        nms_iou: float = NMS_DEFAULTS.nms_iou,
        max_per_img: int = NMS_DEFAULTS.max_per_img,
        use_sigmoid: bool = False,
        class_agnostic: bool = False,
        clip: bool = True,
    ) -> None:
        self.score_thr = score_thr
        self.pre_nms_topk = pre_nms_topk
        self.nms_iou = nms_iou
        self.max_per_img = max_per_img
        self.use_sigmoid = use_sigmoid
        self.class_agnostic = class_agnostic
        self.clip = clip

    def scores(self, cls_logits: Tensor) -> Tensor:
        """``[B, P, C+1]`` logits -> ``[B, P, C]`` foreground scores."""
        if self.use_sigmoid:
            return cls_logits[..., 1:].sigmoid()
        return cls_logits.softmax(dim=-1)[..., 1:]

    def __call__(self, cls_logits: Tensor, boxes: Tensor, img_metas: Sequence[dict]) -> list[Detections]:
        """Args:
        cls_logits: ``[B, P, C+1]``.
        boxes: ``[B, P, 4]`` decoded xyxy in network-input pixels.
        img_metas: per image ``img_shape`` (network input ``(H, W)``) and optionally ``ori_shape``
            (original ``(H, W)``); boxes are scaled from the first to the second.
        """
        bsz, p, _ = boxes.shape
        if len(img_metas) != bsz:
            raise ValueError(f"SSDPostprocessor: {bsz} images but {len(img_metas)} img_metas")
        scores = self.scores(cls_logits).transpose(1, 2)  # [B, C, P]
        c = scores.shape[1]
        in_hw = torch.tensor([m["img_shape"][:2] for m in img_metas], dtype=boxes.dtype, device=boxes.device)
        if self.clip:
            lim = in_hw.flip(-1).repeat(1, 2).view(bsz, 1, 4)  # (W, H, W, H)
            boxes = torch.minimum(boxes.clamp(min=0), lim)
        k = min(self.pre_nms_topk, p)
        top_scores, top_idx = scores.topk(k, dim=2)  # [B, C, k], sorted
        flat = top_scores.reshape(bsz, c * k)
        valid = flat > self.score_thr
        n_valid = valid.sum(dim=1)
        order = flat.masked_fill(~valid, float("-inf")).argsort(dim=1, descending=True, stable=True)
        prefix = min(int(n_valid.max()), nms_prefix_size(self.max_per_img))
        while True:
            kept, img_id, cls_id, cand_boxes, cand_scores = self._nms_prefix(
                order, prefix, n_valid, top_scores, top_idx, boxes
            )
            counts = torch.bincount(img_id[kept], minlength=bsz)
            short = (counts < self.max_per_img) & (n_valid > prefix)
            if not bool(short.any()):
                break
            prefix = min(int(n_valid.max()), prefix * 4)
        kept = kept[torch.sort(cand_scores[kept], descending=True, stable=True).indices]
        kept = kept[torch.sort(img_id[kept], stable=True).indices]  # by image, by decreasing score within
        kept_img = img_id[kept]
        counts = torch.bincount(kept_img, minlength=bsz)
        starts = torch.cumsum(counts, 0) - counts
        rank = torch.arange(kept.numel(), device=kept.device) - starts[kept_img]
        kept = kept[rank < self.max_per_img]
        per_image = torch.bincount(img_id[kept], minlength=bsz).tolist()

        out_boxes = cand_boxes[kept]
        if any("ori_shape" in m for m in img_metas):
            ori_hw = torch.tensor(
                [m.get("ori_shape", m["img_shape"])[:2] for m in img_metas], dtype=boxes.dtype, device=boxes.device
            )
            scale = (ori_hw / in_hw).flip(-1).repeat(1, 2)  # [B, 4] (sx, sy, sx, sy)
            out_boxes = out_boxes * scale[img_id[kept]]
            if self.clip:  # scaling can overshoot the border by a rounding error
                out_boxes = torch.minimum(out_boxes, ori_hw.flip(-1).repeat(1, 2)[img_id[kept]])
        out_scores, out_labels = cand_scores[kept], cls_id[kept]
        return [
            Detections(boxes=b, scores=s, labels=lab)
            for b, s, lab in zip(
                out_boxes.split(per_image), out_scores.split(per_image), out_labels.split(per_image), strict=True
            )
        ]

    def _nms_prefix(
        self, order: Tensor, prefix: int, n_valid: Tensor, top_scores: Tensor, top_idx: Tensor, boxes: Tensor
    ) -> tuple[Tensor, ...]:
        """NMS over each image's ``prefix`` best candidates.

        Greedy NMS keeps or drops a box looking only at higher-scored boxes, so the boxes kept among an
        image's best candidates are exactly the full result restricted to them: once an image keeps
        ``max_per_img`` of them, the rest cannot enter its output.
        """
        c, k = top_scores.shape[1:]
        take = order[:, :prefix]
        img_id, pos = (torch.arange(prefix, device=order.device) < n_valid.unsqueeze(1)).nonzero(as_tuple=True)
        flat_idx = take[img_id, pos]
        cls_id, slot = flat_idx // k, flat_idx % k
        group = img_id if self.class_agnostic else img_id * c + cls_id
        by_group = torch.sort(group, stable=True).indices
        img_id, cls_id, slot, group = img_id[by_group], cls_id[by_group], slot[by_group], group[by_group]
        cand_scores = top_scores[img_id, cls_id, slot]
        cand_boxes = boxes[img_id, top_idx[img_id, cls_id, slot]]
        kept = grouped_nms(cand_boxes, cand_scores, group, self.nms_iou)
        return kept, img_id, cls_id, cand_boxes, cand_scores

    def __repr__(self) -> str:
        return (
            f"SSDPostprocessor(score_thr={self.score_thr}, pre_nms_topk={self.pre_nms_topk}, "
            f"nms_iou={self.nms_iou}, max_per_img={self.max_per_img}, use_sigmoid={self.use_sigmoid}, "
            f"class_agnostic={self.class_agnostic})"
        )

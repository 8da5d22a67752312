"""Training targets: pad per-image ground truth, match to priors, encode."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ssdkit.structures import validate_boxes

from .matchers import IGNORE


def pad_ground_truth(boxes: Sequence[Tensor], labels: Sequence[Tensor], num_classes: int,
                     check: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """Stack per-image ground truth into padded tensors.

    Args:
        boxes: per image ``[G_i, 4]`` xyxy in input pixels.
        labels: per image ``[G_i]`` long, foreground classes ``0 .. num_classes - 1``.
        check: raise ``ValueError`` on NaN/infinite or zero-size boxes and labels out of range.

    Returns:
        ``boxes [B, G, 4]``, ``labels [B, G]``, ``valid [B, G]`` with ``G = max G_i``.
    """
    if len(boxes) != len(labels):
        raise ValueError(f"pad_ground_truth: {len(boxes)} box tensors but {len(labels)} label tensors")
    if check:
        for i, (b, lab) in enumerate(zip(boxes, labels)):
            if b.ndim != 2 or b.shape[-1] != 4 or lab.shape != b.shape[:1]:
                raise ValueError(f"gt of image {i}: boxes must be [G, 4] with labels [G], got {tuple(b.shape)} "
                                 f"and {tuple(lab.shape)}")
            validate_boxes(b, f"gt_boxes of image {i}")
            if lab.numel() and (int(lab.min()) < 0 or int(lab.max()) >= num_classes):
                bad = lab[(lab < 0) | (lab >= num_classes)][0]
                raise ValueError(f"gt_labels of image {i}: label {int(bad)} is out of range; valid labels are "
                                 f"0 .. {num_classes - 1} (num_classes={num_classes}, background is implicit)")
    bsz = len(boxes)
    g = max((int(b.shape[0]) for b in boxes), default=0)
    device = boxes[0].device if bsz else torch.device("cpu")
    dtype = boxes[0].dtype if bsz else torch.float32
    out_boxes = torch.zeros((bsz, g, 4), dtype=dtype, device=device)
    out_labels = torch.zeros((bsz, g), dtype=torch.long, device=device)
    valid = torch.zeros((bsz, g), dtype=torch.bool, device=device)
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        n = b.shape[0]
        out_boxes[i, :n] = b
        out_labels[i, :n] = lab
        valid[i, :n] = True
    return out_boxes, out_labels, valid


def assign_targets(matcher, coder, priors: Tensor, gt_boxes: Tensor, gt_labels: Tensor,
                   gt_valid: Tensor) -> tuple[Tensor, Tensor]:
    """Match and encode, batched.

    Args:
        priors: ``[P, 4]`` xyxy; gt_boxes ``[B, G, 4]``; gt_labels ``[B, G]`` (0-based); gt_valid ``[B, G]``.

    Returns:
        ``labels [B, P]`` long (0 background, 1 .. C classes, -1 ignore) and ``deltas [B, P, 4]``
        (zero where ``labels <= 0``).
    """
    matched = matcher(gt_boxes, priors, gt_valid)
    b, p = matched.shape
    labels = torch.zeros((b, p), dtype=torch.long, device=priors.device)
    deltas = torch.zeros((b, p, 4), dtype=priors.dtype, device=priors.device)
    img, prior = (matched >= 0).nonzero(as_tuple=True)  # positives only: a few per object
    gt = matched[img, prior]
    labels[img, prior] = gt_labels[img, gt] + 1
    deltas[img, prior] = coder.encode(gt_boxes[img, gt].to(priors.dtype), priors[prior])
    labels.masked_fill_(matched == IGNORE, -1)
    return labels, deltas

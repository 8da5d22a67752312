"""Training targets: pad per-image ground truth, match to priors, encode."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from ssdkit.structures import PriorGrid, box_problems, validate_boxes

from .protocols import BoxCoder, Matcher, SparseMatcher


def _image_of(counts: list[int], index: int) -> tuple[int, int]:
    """Image and row of row ``index`` of the concatenated per-image tensors."""
    for i, n in enumerate(counts):
        if index < n:
            return i, index
        index -= n
    raise IndexError(index)


def _check_all(boxes: Sequence[Tensor], labels: Sequence[Tensor], num_classes: int) -> None:
    """One vectorised pass over every image; the error names the first bad image and box."""
    counts = [int(b.shape[0]) for b in boxes]
    flat, flat_labels = torch.cat(list(boxes)), torch.cat(list(labels))
    nonfinite, degenerate = box_problems(flat)
    bad = nonfinite | degenerate
    bad_label = (flat_labels < 0) | (flat_labels >= num_classes)
    if not bool((bad | bad_label).any()):
        return
    if bool(bad.any()):
        i, _ = _image_of(counts, int(bad.nonzero()[0]))
        validate_boxes(boxes[i], f"gt_boxes of image {i}")
    i, row = _image_of(counts, int(bad_label.nonzero()[0]))
    raise ValueError(
        f"gt_labels of image {i}: label {int(labels[i][row])} is out of range; valid labels are "
        f"0 .. {num_classes - 1} (num_classes={num_classes}, background is implicit)"
    )


def pad_ground_truth(
    boxes: Sequence[Tensor], labels: Sequence[Tensor], num_classes: int, check: bool = True
) -> tuple[Tensor, Tensor, Tensor]:
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
    for i, (b, lab) in enumerate(zip(boxes, labels, strict=True)):
        if b.ndim != 2 or b.shape[-1] != 4 or lab.shape != b.shape[:1]:
            raise ValueError(
                f"gt of image {i}: boxes must be [G, 4] with labels [G], got {tuple(b.shape)} and {tuple(lab.shape)}"
            )
    if check and boxes:
        _check_all(boxes, labels, num_classes)
    if not boxes:
        return torch.zeros((0, 0, 4)), torch.zeros((0, 0), dtype=torch.long), torch.zeros((0, 0), dtype=torch.bool)
    out_boxes = pad_sequence(list(boxes), batch_first=True)
    out_labels = pad_sequence([lab.long() for lab in labels], batch_first=True)
    counts = torch.tensor([int(b.shape[0]) for b in boxes], device=out_boxes.device)
    valid = torch.arange(out_boxes.shape[1], device=out_boxes.device) < counts.unsqueeze(1)
    return out_boxes, out_labels, valid


def assign_targets(
    matcher: Matcher | SparseMatcher,
    coder: BoxCoder,
    priors: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor,
    gt_valid: Tensor,
    grid: PriorGrid | None = None,
) -> tuple[Tensor, Tensor]:
    """Match and encode, batched.

    Args:
        priors: ``[P, 4]`` xyxy; gt_boxes ``[B, G, 4]``; gt_labels ``[B, G]`` (0-based); gt_valid ``[B, G]``.
        grid: the priors' layout (``prior_generator.grid(...)``); ssdkit's matchers then visit only the
            priors near each gt (same result, much less work). A matcher without ``match_sparse`` (a
            plugin with only the dense contract) is called as ``matcher(gt_boxes, priors, gt_valid)``.

    Returns:
        ``labels [B, P]`` long (0 background, 1 .. C classes, -1 ignore) and ``deltas [B, P, 4]``
        (zero where ``labels <= 0``).
    """
    b, p = gt_boxes.shape[0], priors.shape[0]
    if isinstance(matcher, SparseMatcher):
        img, prior, code = matcher.match_sparse(gt_boxes, priors, gt_valid, grid=grid)
    else:  # a plugin matcher with only the dense contract
        matched = matcher(gt_boxes, priors, gt_valid)
        img, prior = (matched != -1).nonzero(as_tuple=True)
        code = matched[img, prior]
    labels = torch.zeros((b, p), dtype=torch.long, device=priors.device)
    deltas = torch.zeros((b, p, 4), dtype=priors.dtype, device=priors.device)
    pos = code >= 0
    labels[img, prior] = torch.where(pos, gt_labels[img, code.clamp(min=0)] + 1, -1)  # -1: ignored
    img, prior, gt = img[pos], prior[pos], code[pos]
    deltas[img, prior] = coder.encode(gt_boxes[img, gt].to(priors.dtype), priors[prior])
    return labels, deltas

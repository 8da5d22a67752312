"""The released Caffe SSD's ``MatchBBox`` (weiliu89/caffe, branch ``ssd``, ``src/caffe/util/bbox_util.cpp``), line
for line in plain Python: ``label == -1`` (all gts), ``ignore_cross_boundary_bbox`` false, as ``ssd_pascal.py``."""

from __future__ import annotations

import torch


def caffe_match_bbox(  # noqa: C901 (MatchBBox's loops, kept as they read)
    iou: torch.Tensor, overlap_threshold: float = 0.5, per_prediction: bool = True
) -> torch.Tensor:
    """``iou [G, P]`` (gt x prior, float32) -> ``match_indices [P]``: gt index or -1.

    The overlaps are compared as Caffe compares its float ``JaccardOverlap`` with the double literals.
    """
    num_gt, num_pred = iou.shape
    rows = iou.tolist()
    match_indices = [-1] * num_pred
    # Store the positive overlap between predictions and ground truth (a std::map: priors ascending).
    overlaps: dict[int, dict[int, float]] = {}
    for i in range(num_pred):
        for j in range(num_gt):
            overlap = rows[j][i]
            if overlap > 1e-6:
                overlaps.setdefault(i, {})[j] = overlap
    # Bipartite matching.
    gt_pool = list(range(num_gt))
    while len(gt_pool) > 0:
        max_idx, max_gt_idx, max_overlap = -1, -1, -1.0
        for i in sorted(overlaps):
            if match_indices[i] != -1:
                continue
            for j in gt_pool:
                if j not in overlaps[i]:
                    continue
                if overlaps[i][j] > max_overlap:
                    max_idx, max_gt_idx, max_overlap = i, j, overlaps[i][j]
        if max_idx == -1:
            break
        assert match_indices[max_idx] == -1
        match_indices[max_idx] = max_gt_idx
        gt_pool.remove(max_gt_idx)
    if per_prediction:
        for i in sorted(overlaps):
            if match_indices[i] != -1:
                continue
            max_gt_idx, max_overlap = -1, -1.0
            for j in range(num_gt):
                if j not in overlaps[i]:
                    continue
                overlap = overlaps[i][j]
                if overlap >= overlap_threshold and overlap > max_overlap:
                    max_gt_idx, max_overlap = j, overlap
            if max_gt_idx != -1:
                match_indices[i] = max_gt_idx
    return torch.tensor(match_indices, dtype=torch.long)

"""VOC average precision: greedy matching of detections to ground truth, and the AP integrals."""

from __future__ import annotations

import numpy as np

from ssdkit.structures.np_boxes import np_pairwise_iou


def match_detections(det_boxes: list[np.ndarray], gt_boxes: list[np.ndarray], gt_ignore: list[np.ndarray],
                     iou_threshold: float = 0.5) -> list[np.ndarray]:
    """Greedy VOC matching of one class, all images at once.

    Args:
        det_boxes: per image ``[D_i, 4]``, sorted by decreasing score.
        gt_boxes, gt_ignore: per image ``[G_i, 4]`` and ``[G_i]`` (difficult / crowd).

    Returns:
        per image ``[D_i]`` int8: 1 true positive, 0 false positive, -1 ignored (best overlap is an
        ignored gt). Each detection takes its highest-IoU gt; a gt already taken makes it a false
        positive. Rounds run over detection rank, vectorised over images.
    """
    n = len(det_boxes)
    d_max = max((len(d) for d in det_boxes), default=0)
    g_max = max((len(g) for g in gt_boxes), default=0)
    if d_max == 0:
        return [np.zeros(0, np.int8) for _ in range(n)]
    dets = np.zeros((n, d_max, 4))
    gts = np.zeros((n, max(g_max, 1), 4))
    ign = np.zeros((n, max(g_max, 1)), bool)
    d_valid = np.zeros((n, d_max), bool)
    g_valid = np.zeros((n, max(g_max, 1)), bool)
    for i, (d, g, ig) in enumerate(zip(det_boxes, gt_boxes, gt_ignore)):
        dets[i, :len(d)], d_valid[i, :len(d)] = d, True
        gts[i, :len(g)], ign[i, :len(g)], g_valid[i, :len(g)] = g, ig, True
    iou = np.where(g_valid[:, None, :], np_pairwise_iou(dets, gts), -1.0)  # [n, D, G]
    best = iou.argmax(axis=2)
    best_iou = np.take_along_axis(iou, best[..., None], 2)[..., 0]
    taken = np.zeros_like(g_valid)
    result = np.zeros((n, d_max), np.int8)
    rows = np.arange(n)
    for r in range(d_max):
        g = best[:, r]
        hit = d_valid[:, r] & (best_iou[:, r] >= iou_threshold)
        ignored = hit & ign[rows, g]
        tp = hit & ~ignored & ~taken[rows, g]
        taken[rows[tp], g[tp]] = True
        result[:, r] = np.where(ignored, -1, tp.astype(np.int8))
    return [result[i, :len(d)] for i, d in enumerate(det_boxes)]


def average_precision(recall: np.ndarray, precision: np.ndarray, mode: str = "area") -> float:
    """VOC AP: ``'11points'`` (VOC2007) or ``'area'`` under the monotone precision envelope (VOC2010+)."""
    if mode == "11points":
        return float(np.mean([precision[recall >= t].max() if (recall >= t).any() else 0.0
                              for t in np.linspace(0, 1, 11)]))
    if mode != "area":
        raise ValueError(f"VOC AP mode={mode!r}; valid: '11points', 'area'")
    r = np.concatenate(([0.0], recall, [1.0]))
    p = np.concatenate(([0.0], precision, [0.0]))
    p = np.maximum.accumulate(p[::-1])[::-1]
    step = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[step + 1] - r[step]) * p[step + 1]))

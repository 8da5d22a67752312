"""VOC average precision: greedy matching of detections to ground truth, and the AP integrals."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdkit.structures.np_boxes import np_pairwise_iou


def match_detections(
    det_boxes: list[np.ndarray], gt_boxes: list[np.ndarray], gt_ignore: list[np.ndarray], iou_threshold: float = 0.5
) -> list[np.ndarray]:
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
    for i, (d, g, ig) in enumerate(zip(det_boxes, gt_boxes, gt_ignore, strict=True)):
        dets[i, : len(d)], d_valid[i, : len(d)] = d, True
        gts[i, : len(g)], ign[i, : len(g)], g_valid[i, : len(g)] = g, ig, True
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
    return [result[i, : len(d)] for i, d in enumerate(det_boxes)]


def average_precision(recall: np.ndarray, precision: np.ndarray, mode: str = "area") -> float:
    """VOC AP: ``'11points'`` (VOC2007) or ``'area'`` under the monotone precision envelope (VOC2010+)."""
    if mode == "11points":
        return float(
            np.mean([precision[recall >= t].max() if (recall >= t).any() else 0.0 for t in np.linspace(0, 1, 11)])
        )
    if mode != "area":
        raise ValueError(f"VOC AP mode={mode!r}; valid: '11points', 'area'")
    r = np.concatenate(([0.0], recall, [1.0]))
    p = np.concatenate(([0.0], precision, [0.0]))
    p = np.maximum.accumulate(p[::-1])[::-1]
    step = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[step + 1] - r[step]) * p[step + 1]))


class ClassMatches(NamedTuple):
    """VOC matching of one class over all images (see :func:`match_class`)."""

    order: list[np.ndarray]  # per image [D_i] int: indices of its class-c detections, by decreasing score
    flags: list[np.ndarray]  # per image [D_i] int8: 1 tp, 0 fp, -1 ignored, aligned with ``order``
    num_gts: int  # non-ignored gts of the class


class ClassPR(NamedTuple):
    """Cumulative precision / recall of one class, one entry per counted detection (ignored ones dropped)."""

    recall: np.ndarray  # [N] float64, non-decreasing
    precision: np.ndarray  # [N] float64
    scores: np.ndarray  # [N] float64, non-increasing: the score of the detection that adds the point
    num_gts: int


def match_class(results: list[dict], c: int, iou_threshold: float = 0.5) -> ClassMatches:
    """:func:`match_detections` for class ``c`` over ``results`` (each from ``samples.unpack``: ``pred`` and
    ``gt`` in the same pixels); each image's class-``c`` detections in decreasing score order (stable)."""
    order, det_boxes, gt_boxes, gt_ignore = [], [], [], []
    for r in results:
        pb, ps, pl = r["pred"]
        gb, gl, gi = r["gt"]
        idx = np.flatnonzero(pl == c)
        idx = idx[np.argsort(-ps[idx], kind="stable")]
        order.append(idx)
        det_boxes.append(pb[idx])
        gt_boxes.append(gb[gl == c])
        gt_ignore.append(gi[gl == c])
    num_gts = int(sum((~g).sum() for g in gt_ignore))
    return ClassMatches(order, match_detections(det_boxes, gt_boxes, gt_ignore, iou_threshold), num_gts)


def class_pr(results: list[dict], c: int, iou_threshold: float = 0.5, matches: ClassMatches | None = None) -> ClassPR:
    """Class ``c``'s precision-recall points, VOC style: every detection of all images ranked by score (stable:
    image order, then score order within an image, breaks ties), ignored detections (on difficult / crowd gts)
    dropped; ``recall = tp / num_gts`` (``/ 1`` without gts), ``precision = tp / (tp + fp)``. ``matches``:
    ``match_class(results, c, iou_threshold)``, if already computed."""
    m = match_class(results, c, iou_threshold) if matches is None else matches
    flags = np.concatenate(m.flags) if m.flags else np.zeros(0, np.int8)
    scores = (
        np.concatenate([r["pred"][1][o] for r, o in zip(results, m.order, strict=True)]) if m.order else np.zeros(0)
    )
    order = np.argsort(-scores, kind="stable")
    flags, scores = flags[order], scores[order]
    counted = flags >= 0
    flags, scores = flags[counted], scores[counted]
    tp, fp = np.cumsum(flags == 1), np.cumsum(flags == 0)
    recall = tp / max(m.num_gts, 1)
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return ClassPR(recall, precision, scores.astype(np.float64), m.num_gts)

"""Confusion matrix of a detector, with background as a row (false alarms) and a column (missed objects)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ssdkit.structures.np_boxes import np_pairwise_iou

# padded [images, detections, gts] arrays are built for this many IoUs at most (a chunk of images at a time)
CHUNK_ELEMENTS = 1 << 22


def _chunks(sizes: list[tuple[int, int]], budget: int = CHUNK_ELEMENTS) -> Iterator[range]:
    """Consecutive runs of images whose padded ``[n, D_max, G_max]`` stays within ``budget`` (at least one image)."""
    start, d_max, g_max = 0, 0, 0
    for i, (d, g) in enumerate(sizes):
        nd, ng = max(d_max, d, 1), max(g_max, g, 1)
        if i > start and (i - start + 1) * nd * ng > budget:
            yield range(start, i)
            start, nd, ng = i, max(d, 1), max(g, 1)
        d_max, g_max = nd, ng
    if start < len(sizes):
        yield range(start, len(sizes))


def match_across_classes(
    results: list[dict], iou_threshold: float = 0.5, score_thr: float = 0.3
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Match each image's detections to its gts regardless of class (the rules of :func:`confusion_matrix`).

    Args:
        results: per image ``dict(pred=(boxes [D, 4], scores [D], labels [D]), gt=(boxes [G, 4], labels [G],
            ignore [G]))`` as ``samples.unpack`` gives them (same pixels for both).

    Returns:
        per image ``det_gt [D]`` int64 (the gt a detection took; -1 none: a false alarm, or below ``score_thr``;
        -2 dropped on an ignored gt) and ``gt_det [G]`` int64 (the detection that took a gt, -1 none).
    """
    det_gt = [np.full(len(r["pred"][1]), -1, np.int64) for r in results]
    gt_det = [np.full(len(r["gt"][1]), -1, np.int64) for r in results]
    kept = []
    for r in results:
        scores = r["pred"][1]
        idx = np.flatnonzero(scores >= score_thr)
        kept.append(idx[np.argsort(-scores[idx], kind="stable")])
    for chunk in _chunks([(len(k), len(results[i]["gt"][1])) for i, k in enumerate(kept)]):
        _match_chunk(
            [results[i] for i in chunk],
            [kept[i] for i in chunk],
            iou_threshold,
            [det_gt[i] for i in chunk],
            [gt_det[i] for i in chunk],
        )
    return det_gt, gt_det


def _match_chunk(
    results: list[dict],
    kept: list[np.ndarray],
    iou_threshold: float,
    det_gt: list[np.ndarray],
    gt_det: list[np.ndarray],
) -> None:
    """:func:`match_across_classes` on a few images at once, writing into ``det_gt`` and ``gt_det``; rounds run
    over detection rank, vectorised over images."""
    n = len(results)
    d_max = max((len(k) for k in kept), default=0)
    g_max = max(max((len(r["gt"][1]) for r in results), default=0), 1)
    if d_max == 0:
        return
    dets = np.zeros((n, d_max, 4))
    det_label = np.full((n, d_max), -1, np.int64)
    d_valid = np.zeros((n, d_max), bool)
    gts = np.zeros((n, g_max, 4))
    gt_label = np.full((n, g_max), -1, np.int64)
    ign = np.zeros((n, g_max), bool)
    g_valid = np.zeros((n, g_max), bool)
    for i, (r, k) in enumerate(zip(results, kept, strict=True)):
        pb, _, pl = r["pred"]
        gb, gl, gi = r["gt"]
        dets[i, : len(k)], det_label[i, : len(k)], d_valid[i, : len(k)] = pb[k], pl[k], True
        gts[i, : len(gl)], gt_label[i, : len(gl)], ign[i, : len(gl)], g_valid[i, : len(gl)] = gb, gl, gi, True
    iou = np.where(g_valid[:, None, :], np_pairwise_iou(dets, gts), -1.0)  # [n, D, G]
    close = iou >= iou_threshold
    taken = np.zeros((n, g_max), bool)
    took = np.full((n, d_max), -1, np.int64)
    rows = np.arange(n)
    for rank in range(d_max):
        free = close[:, rank] & ~taken  # an ignored gt is never taken: it absorbs any number of detections
        same = free & (gt_label == det_label[:, rank, None])
        tier = np.where(same.any(axis=1, keepdims=True), same, free)
        g = np.where(tier, iou[:, rank], -1.0).argmax(axis=1)
        hit = d_valid[:, rank] & tier.any(axis=1)
        on_ignored = hit & ign[rows, g]
        matched = hit & ~on_ignored
        taken[rows[matched], g[matched]] = True
        took[:, rank] = np.where(matched, g, np.where(on_ignored, -2, -1))
    for i, k in enumerate(kept):
        det_gt[i][k] = took[i, : len(k)]
        m = took[i, : len(k)] >= 0
        gt_det[i][took[i, : len(k)][m]] = k[m]


def confusion_matrix(
    results: list[dict],
    num_classes: int,
    iou_threshold: float = 0.5,
    score_thr: float = 0.3,
    matches: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
) -> np.ndarray:
    """``[C + 1, C + 1]`` int64 counts: rows the gt classes then background, columns the detected classes then
    background.

    Per image, the detections with ``score >= score_thr`` in decreasing score order (stable) each take one gt with
    IoU >= ``iou_threshold`` that is not yet taken or is ignored (difficult / crowd; never used up): a gt of the
    detection's own class if there is one (the highest IoU among those), else the highest-IoU gt of any class.
    A detection that takes an ignored gt is dropped (counted nowhere). A matched pair counts at ``[gt class,
    det class]``, a detection without a gt at ``[C, det class]`` (false alarm; this includes a second detection of
    an already taken object), a non-ignored gt no detection took at ``[gt class, C]`` (missed). Row ``c`` thus sums
    to the non-ignored gts of class ``c``; ``[C, C]`` is always 0. ``matches``: :func:`match_across_classes`'s
    result at the same ``iou_threshold`` and ``score_thr``, if already computed.
    """
    c_bg = num_classes
    out = np.zeros((num_classes + 1, num_classes + 1), np.int64)
    det_gt, gt_det = match_across_classes(results, iou_threshold, score_thr) if matches is None else matches
    for r, dg, gd in zip(results, det_gt, gt_det, strict=True):
        _, scores, pl = r["pred"]
        _, gl, gi = r["gt"]
        for labels in (pl, gl):
            bad = (labels < 0) | (labels >= num_classes)
            if bad.any():
                raise ValueError(
                    f"confusion_matrix: image {r.get('img_id')!r} has label {int(labels[bad][0])}; "
                    f"valid labels are 0..{num_classes - 1} (num_classes={num_classes})"
                )
        counted = scores >= score_thr
        pairs = dg >= 0
        np.add.at(out, (gl[dg[pairs]], pl[pairs]), 1)
        alarms = counted & (dg == -1)
        np.add.at(out, (np.full(int(alarms.sum()), c_bg), pl[alarms]), 1)
        missed = (gd < 0) & ~gi
        np.add.at(out, (gl[missed], np.full(int(missed.sum()), c_bg)), 1)
    return out

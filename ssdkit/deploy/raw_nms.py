"""Detections from the ``raw`` ONNX export's outputs, in numpy or OpenCV, without PyTorch.

The ``raw`` export leaves NMS out of the graph (for OpenCV DNN and TensorRT users): it outputs per image the decoded
boxes ``[B, P, 4]`` (xyxy in network-input pixels, clipped to the input) and the class scores ``[B, P, C+1]``
(softmax over background and the C classes, column 0 background). ``postprocess_raw`` turns them into detections by
the rules of ``ssdkit.core.SSDPostprocessor``: per image and class the scores above ``score_thr``, the
``pre_nms_topk`` best, greedy NMS at ``nms_iou``, then the ``max_per_img`` best over all classes, by decreasing score.
As there, NMS first runs on each image's best ``max(4 x max_per_img, 1000)`` candidates and widens only where an
image keeps fewer than ``max_per_img`` of them (the same result, at a fraction of the cost). It does not scale
boxes to the original image: multiply by ``ori / input`` size, as the postprocessor does.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ssdkit.core.postprocess import NMS_DEFAULTS, nms_prefix_size

METHODS = ("numpy", "opencv")


def postprocess_raw(
    boxes: np.ndarray,
    scores: np.ndarray,
    score_thr: float = NMS_DEFAULTS.score_thr,
    pre_nms_topk: int = NMS_DEFAULTS.pre_nms_topk,
    nms_iou: float = NMS_DEFAULTS.nms_iou,
    max_per_img: int = NMS_DEFAULTS.max_per_img,
    method: str = "numpy",
) -> list[dict]:
    """Per-class NMS of raw outputs, as ``SSDPostprocessor`` (its defaults; softmax scores, per-class NMS).

    Args:
        boxes: ``[B, P, 4]`` or ``[P, 4]`` xyxy (x2 >= x1, y2 >= y1), taken as given (no clipping).
        scores: ``[B, P, C+1]`` or ``[P, C+1]``; column 0 (background) is dropped, column ``1 + c`` scores class
            ``c``. Taken as given (no softmax or sigmoid), so this serves ``use_sigmoid`` models as well.
        score_thr: keep scores strictly above it (compared in float32, as PyTorch does).
        pre_nms_topk: at most this many candidates per image and class enter NMS.
        nms_iou: NMS drops a box whose IoU with a kept, higher-scored box of its class is above this.
        max_per_img: at most this many detections per image.
        method: ``"numpy"`` (greedy NMS batched over all images and classes) or ``"opencv"``
            (``cv2.dnn.NMSBoxesBatched`` per image and class; threshold, top-k and cap in numpy).

    Returns:
        Per image (one for ``[P, ...]`` inputs) ``dict(boxes [N, 4] float32, scores [N] float32,
        labels [N] int64)`` with 0-based labels, by decreasing score.

    Where the result can differ from ``SSDPostprocessor`` on the same boxes and scores (float32):

    - Both methods: equal scores may come in another order, and where they tie at the ``pre_nms_topk`` or
      ``max_per_img`` cut-off another of them may be kept (PyTorch leaves the order of ties unspecified; here
      they go by prior index within a class, by class in the output). Within a class that also decides which of
      two equal-scored, overlapping boxes suppresses the other. Scores from another runtime (ONNX Runtime, OpenCV
      DNN, TensorRT) differ from PyTorch's by a few ulps, which moves near-ties and the ``score_thr`` cut alike.
    - Both methods: with at most 1000 candidates ``SSDPostprocessor`` runs torchvision's ``batched_nms``, which
      adds a per-class offset of up to ``B * C * (max coordinate + 1)`` to the float32 coordinates before the IoU;
      that rounds them (to 1/256 px from offsets of 32768 on), so PyTorch itself may decide a pair whose IoU lies
      within about 1e-4 of ``nms_iou`` otherwise than exact float32 arithmetic (seen in 1 of 30 such pairs).
    - ``numpy`` computes the IoU as torchvision's CPU ``nms`` kernel does (float32, the same operations, compared
      with ``nms_iou`` in float64), so apart from the above it takes the same decisions.
    - ``opencv`` computes the IoU in float64 (areas ``w * h``, not ``(w + 1) * (h + 1)``), rounds it to float32
      as ``1 - float(1 - IoU)`` and keeps a box when that is ``<= float32(nms_iou)``: it may decide a pair whose
      IoU is within a float32 ulp or so of ``nms_iou`` otherwise (about 1 pair in 4 million random ones). OpenCV
      also takes any two boxes whose areas sum to at most 2.2e-16 px^2 as identical (IoU 1), wherever they are;
      in torchvision an empty box (zero width or height, e.g. clipped at the border) has IoU 0 or NaN with every
      box, so is kept and suppresses nothing: empty boxes are therefore kept here without asking OpenCV. Boxes of
      nonzero area below 1.1e-16 px^2 would still suppress each other.
    """
    boxes, scores = _check_inputs(boxes, scores)
    if method not in METHODS:
        raise ValueError(f"postprocess_raw: method must be one of {METHODS}, got {method!r}")
    bsz, _, c1 = scores.shape
    img, cls, prior, cand_scores = _candidates(scores, score_thr, pre_nms_topk)
    cand_boxes = boxes[img, prior]
    group = img * (c1 - 1) + cls
    keep = _nms_by_prefix(img, group, cand_boxes, cand_scores, bsz, max_per_img, nms_iou, method)
    return _per_image(bsz, max_per_img, img[keep], cls[keep], cand_boxes[keep], cand_scores[keep])


def _nms_by_prefix(
    img: np.ndarray,
    group: np.ndarray,
    boxes: np.ndarray,
    scores: np.ndarray,
    bsz: int,
    max_per_img: int,
    nms_iou: float,
    method: str,
) -> np.ndarray:
    """Indices of the kept candidates: NMS on each image's best ``max(4 x max_per_img, 1000)``, 4x wider while an
    image with more candidates keeps fewer than ``max_per_img`` of them (exact; see :func:`_rank_in_image`)."""
    rank = _rank_in_image(img, scores, bsz)
    per_image = np.bincount(img, minlength=bsz)
    prefix = nms_prefix_size(max_per_img)
    while True:
        take = np.flatnonzero(rank < prefix)  # still by image, class, decreasing score
        if method == "numpy":
            kept = _greedy_nms(boxes[take], group[take], nms_iou)
        else:
            kept = _opencv_nms(boxes[take], scores[take], group[take], nms_iou)
        keep = take[kept]
        short = (np.bincount(img[keep], minlength=bsz) < max_per_img) & (per_image > prefix)
        if not short.any():
            return keep
        prefix *= 4


def _rank_in_image(img: np.ndarray, scores: np.ndarray, bsz: int) -> np.ndarray:
    """``[N]``: each candidate's place in its image by decreasing score (0 the best; ties in the given order).
    Greedy NMS keeps or drops a box looking only at higher-scored boxes, so the boxes kept among an image's best
    candidates are the full result restricted to them."""
    order = np.lexsort((-scores, img))
    first = np.searchsorted(img[order], np.arange(bsz))
    rank = np.empty(img.size, dtype=np.int64)
    rank[order] = np.arange(img.size) - first[img[order]]
    return rank


def _per_image(
    bsz: int, max_per_img: int, img: np.ndarray, cls: np.ndarray, boxes: np.ndarray, scores: np.ndarray
) -> list[dict]:
    """The kept candidates (image ``img``, class ``cls``) as each image's best ``max_per_img`` detections."""
    order = np.lexsort((-scores, img))  # by image, then decreasing score; stable
    first = np.searchsorted(img[order], np.arange(bsz + 1))  # each image's first entry, and the end
    out = []
    for i in range(bsz):
        take = order[first[i] : min(first[i + 1], first[i] + max(max_per_img, 0))]
        out.append(dict(boxes=boxes[take], scores=scores[take], labels=cls[take].astype(np.int64)))
    return out


def _check_inputs(boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[B, P, 4]`` float32 boxes and ``[B, P, C+1]`` float32 scores (a batch of one for ``[P, ...]``)."""
    boxes = np.asarray(boxes)
    scores = np.asarray(scores)
    if boxes.ndim not in (2, 3) or boxes.shape[-1] != 4:
        raise ValueError(f"postprocess_raw: boxes must be [B, P, 4] or [P, 4] (xyxy), got shape {boxes.shape}")
    if scores.ndim != boxes.ndim or scores.shape[:-1] != boxes.shape[:-1] or scores.shape[-1] < 2:
        want = "[B, P, C+1]" if boxes.ndim == 3 else "[P, C+1]"
        raise ValueError(
            f"postprocess_raw: scores must be {want} with C >= 1 to match boxes {boxes.shape} "
            f"(column 0 background), got shape {scores.shape}"
        )
    if boxes.ndim == 2:
        boxes, scores = boxes[None], scores[None]
    return boxes.astype(np.float32, copy=False), scores.astype(np.float32, copy=False)


def _candidates(scores: np.ndarray, score_thr: float, k: int) -> tuple[np.ndarray, ...]:
    """The ``k`` best scores above ``score_thr`` per image and class.

    Returns ``(img, cls, prior, score)``, each ``[N]``, sorted by image, class, then decreasing score
    (equal scores by prior index).
    """
    fg = np.ascontiguousarray(scores[..., 1:].transpose(0, 2, 1))  # [B, C, P]
    p = fg.shape[2]
    k = min(max(k, 0), p)
    if k == p:
        prior, score = np.broadcast_to(np.arange(p), fg.shape), fg
    else:  # the k best of each row, unordered (a tie at the k-th place: either)
        prior = np.argpartition(fg, p - k, axis=-1)[..., p - k :] if k else np.zeros((*fg.shape[:2], 0), np.intp)
        score = np.take_along_axis(fg, prior, -1)
    order = np.lexsort((prior, -score), axis=-1)  # by decreasing score, equal scores by prior
    prior, score = np.take_along_axis(prior, order, -1), np.take_along_axis(score, order, -1)
    img, cls, rank = np.nonzero(score > np.float32(score_thr))  # float32, as torch compares with a Python float
    return img, cls, prior[img, cls, rank], score[img, cls, rank]


def _greedy_nms(boxes: np.ndarray, group: np.ndarray, iou_thr: float) -> np.ndarray:
    """Greedy NMS within each group, all groups at once.

    Args:
        boxes: ``[N, 4]`` float32 xyxy; group ``[N]``, sorted, each group's boxes by decreasing score.

    Returns:
        ``[N]`` bool, the kept boxes.

    The groups are laid out as the rows of a ``[G, K]`` table (K the largest group); step ``i`` lets every row's
    ``i``-th box, where still alive, suppress the row's later boxes, so there are K steps whatever the number of
    groups. IoU as torchvision's CPU kernel: float32 ``inter / (area_i + area_j - inter)``, suppressed when above
    ``iou_thr`` (0 / 0, two empty boxes, is NaN: kept).
    """
    n = group.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    starts, ends = _runs(group)
    counts = ends - starts
    by_size = np.argsort(-counts, kind="stable")  # the rows still busy at step i are then a prefix
    counts_sorted = counts[by_size]
    row = np.repeat(np.argsort(by_size), counts)
    col = np.arange(n) - np.repeat(starts, counts)
    g, k = starts.size, int(counts.max())
    table = np.zeros((4, g, k), dtype=np.float32)
    table[:, row, col] = boxes.T
    x1, y1, x2, y2 = table
    area = (x2 - x1) * (y2 - y1)
    alive = np.zeros((g, k), dtype=bool)
    alive[row, col] = True
    thr = np.float64(iou_thr)  # torchvision compares the float32 IoU with a double threshold
    busy = g
    with np.errstate(invalid="ignore", divide="ignore"):
        for i in range(k - 1):
            while counts_sorted[busy - 1] <= i + 1:  # rows without a box after column i
                busy -= 1
            rows = np.flatnonzero(alive[:busy, i])
            if rows.size == 0:
                continue
            end = int(counts_sorted[rows[0]])
            later = slice(i + 1, end)
            w = np.minimum(x2[rows, i, None], x2[rows, later]) - np.maximum(x1[rows, i, None], x1[rows, later])
            h = np.minimum(y2[rows, i, None], y2[rows, later]) - np.maximum(y1[rows, i, None], y1[rows, later])
            inter = np.maximum(w, np.float32(0)) * np.maximum(h, np.float32(0))
            iou = inter / (area[rows, i, None] + area[rows, later] - inter)
            alive[rows, later] &= ~(iou > thr)
    return alive[row, col]


def _opencv_nms(boxes: np.ndarray, scores: np.ndarray, group: np.ndarray, iou_thr: float) -> np.ndarray:
    """Greedy NMS within each group by ``cv2.dnn.NMSBoxesBatched``.

    Args:
        boxes: ``[N, 4]`` float32 xyxy; scores ``[N]``; group ``[N]``, sorted.

    Returns:
        ``[N]`` bool, the kept boxes.

    One call per group (image and class): OpenCV keeps classes apart by shifting each by ``class * (max coordinate
    + 1)``, but still compares each candidate with every kept box of every class in the call, so one call per
    image costs some 4x more on SSD300-sized inputs (and one call per batch 40x).
    """
    n = group.size
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    xywh = boxes.astype(np.float64)
    xywh[:, 2:] -= xywh[:, :2]
    # OpenCV takes any two empty boxes, wherever they are, as identical (IoU 1); in torchvision an empty box meets
    # every box with IoU 0 or NaN, so it is kept and suppresses nothing: keep it aside
    empty = (xywh[:, 2] <= 0) | (xywh[:, 3] <= 0)
    keep[empty] = True
    idx = np.flatnonzero(~empty)
    xywh, scores, group = xywh[idx], scores[idx], group[idx]
    one_class = np.zeros(group.size, dtype=np.int32)
    nms: Any = cv2.dnn.NMSBoxesBatched  # its stubs ask for sequences; it takes numpy arrays as they are
    for start, end in zip(*_runs(group), strict=True):
        kept = nms(xywh[start:end], scores[start:end], one_class[: end - start], float("-inf"), float(iou_thr), 1.0, 0)
        keep[idx[start + np.asarray(kept, dtype=np.int64).reshape(-1)]] = True
    return keep


def _runs(sorted_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each run of equal values in a sorted ``[N]`` array."""
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    return starts, np.r_[starts[1:], sorted_ids.size]

"""The detector's worst errors: its highest-scoring false positives, by kind, and the objects it missed.

A false positive is a detection that VOC matching (:func:`voc_ap.match_class`, per class, at the metric's IoU
threshold ``t``) does not count as a true positive and does not ignore. Its kind, first rule that holds:

- ``'duplicate'``: a gt of its class overlaps it at IoU >= ``t`` (that gt was taken by a higher-scoring detection);
- ``'background'``: no gt of any class overlaps it at IoU >= ``MIN_OVERLAP`` (0.1);
- ``'localisation'``: the gt it overlaps most (IoU in [0.1, t)) is of its class (ties count as its class);
- ``'confusion'``: the gt it overlaps most (IoU >= 0.1) is of another class.

Ignored gts (difficult / crowd) count as gts in these overlaps. A missed object is a non-ignored gt that no
detection with ``score >= score_thr`` took in the class-agnostic matching of the confusion matrix
(:func:`confusion.match_across_classes`): exactly the gts in the matrix's background column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ssdkit.structures.np_boxes import np_pairwise_iou

from .confusion import match_across_classes
from .voc_ap import ClassMatches, match_class

MIN_OVERLAP = 0.1
KINDS = ("duplicate", "localisation", "confusion", "background")


def _name(label: int, class_names: Sequence[str] | None) -> str:
    return str(class_names[label]) if class_names is not None and 0 <= label < len(class_names) else str(label)


def classify_detections(
    results: list[dict], iou_threshold: float = 0.5, matches: Mapping[int, ClassMatches] | None = None
) -> list[dict]:
    """Per image ``dict(flags [D] int8, kind [D] int8, best_iou [D], best_gt [D] int64)``: VOC flags (1 tp, 0 fp,
    -1 ignored), the false positives' kind (index into :data:`KINDS`, -1 for the others), and each detection's
    highest IoU with any gt and that gt's index (-1 where it overlaps none). ``matches``: ``{class:
    match_class(results, class, iou_threshold)}`` for (at least) every detected class, if already computed."""
    flags = [np.full(len(r["pred"][1]), -1, np.int8) for r in results]
    labels = [r["pred"][2] for r in results]
    present = np.unique(np.concatenate(labels)) if labels else np.zeros(0, np.int64)
    for c in present:
        m = (
            matches[int(c)]
            if matches is not None and int(c) in matches
            else match_class(results, int(c), iou_threshold)
        )
        for f, o, mf in zip(flags, m.order, m.flags, strict=True):
            f[o] = mf
    out = []
    for r, f in zip(results, flags, strict=True):
        pb, _, pl = r["pred"]
        gb, gl, _ = r["gt"]
        kind = np.full(len(pl), -1, np.int8)
        if len(gl) == 0:
            kind[f == 0] = KINDS.index("background")
            out.append(dict(flags=f, kind=kind, best_iou=np.zeros(len(pl)), best_gt=np.full(len(pl), -1, np.int64)))
            continue
        iou = np_pairwise_iou(pb, gb)  # [D, G]
        same = pl[:, None] == gl[None, :]
        iou_same = np.where(same, iou, 0.0).max(axis=1)
        iou_other = np.where(same, 0.0, iou).max(axis=1)
        best_gt = iou.argmax(axis=1)
        best_iou = iou[np.arange(len(pl)), best_gt]
        rule = np.select(
            [iou_same >= iou_threshold, np.maximum(iou_same, iou_other) < MIN_OVERLAP, iou_same >= iou_other],
            [KINDS.index("duplicate"), KINDS.index("background"), KINDS.index("localisation")],
            KINDS.index("confusion"),
        )
        kind[f == 0] = rule[f == 0]
        best_gt = np.where(best_iou > 0, best_gt, -1).astype(np.int64)
        out.append(dict(flags=f, kind=kind, best_iou=best_iou, best_gt=best_gt))
    return out


def false_positives(
    results: list[dict],
    iou_threshold: float = 0.5,
    top_k: int | None = 50,
    class_names: Sequence[str] | None = None,
    classified: list[dict] | None = None,
) -> list[dict]:
    """The ``top_k`` highest-scoring false positives over all images and classes (all without ``top_k=None``), by
    decreasing score (stable: image order, then detection order), as rows ``dict(img_id, img_path, class, label,
    score, x1, y1, x2, y2, kind, best_iou, best_gt_class)`` (``best_gt_class`` ``''`` in an image without gts).
    ``classified``: :func:`classify_detections`'s result, if already computed."""
    classified = classify_detections(results, iou_threshold) if classified is None else classified
    where = [(i, np.flatnonzero(c["flags"] == 0)) for i, c in enumerate(classified)]
    img = np.concatenate([np.full(len(d), i, np.int64) for i, d in where]) if where else np.zeros(0, np.int64)
    det = np.concatenate([d for _, d in where]) if where else np.zeros(0, np.int64)
    scores = np.concatenate([results[i]["pred"][1][d] for i, d in where]) if where else np.zeros(0)
    order = np.argsort(-scores, kind="stable")[:top_k]
    rows = []
    for i, d in zip(img[order], det[order], strict=True):
        r, c = results[i], classified[i]
        x1, y1, x2, y2 = (float(v) for v in r["pred"][0][d])
        label, g = int(r["pred"][2][d]), int(c["best_gt"][d])
        rows.append(
            {
                "img_id": r["img_id"],
                "img_path": r.get("img_path"),
                "class": _name(label, class_names),
                "label": label,
                "score": float(r["pred"][1][d]),
                "x1": x1,
                "y1": y1,
                "x2": x2,
                "y2": y2,
                "kind": KINDS[int(c["kind"][d])],
                "best_iou": float(c["best_iou"][d]),
                "best_gt_class": _name(int(r["gt"][1][g]), class_names) if g >= 0 else "",
            }
        )
    return rows


def missed_objects(
    results: list[dict],
    iou_threshold: float = 0.5,
    score_thr: float = 0.3,
    class_names: Sequence[str] | None = None,
    gt_det: list[np.ndarray] | None = None,
) -> list[dict]:
    """Every non-ignored gt that no detection with ``score >= score_thr`` took (module docstring), largest area
    first (stable), as rows ``dict(img_id, img_path, class, label, x1, y1, x2, y2, area, best_score,
    best_score_iou)``: the highest score of a detection of its class (any score) overlapping it at IoU >= 0.1, and
    that IoU (both ``None`` if there is none). ``gt_det``: ``match_across_classes(...)[1]``, if already computed."""
    if gt_det is None:
        gt_det = match_across_classes(results, iou_threshold, score_thr)[1]
    rows = []
    for r, gd in zip(results, gt_det, strict=True):
        gb, gl, gi = r["gt"]
        missed = np.flatnonzero((gd < 0) & ~gi)
        if len(missed) == 0:
            continue
        pb, ps, pl = r["pred"]
        iou = np_pairwise_iou(gb[missed], pb)  # [M, D]
        near = (iou >= MIN_OVERLAP) & (gl[missed, None] == pl[None, :])
        masked = np.where(near, ps[None, :], -np.inf)
        best = masked.argmax(axis=1) if len(pl) else np.zeros(len(missed), np.int64)
        found = near.any(axis=1)
        for j, g in enumerate(missed):
            x1, y1, x2, y2 = (float(v) for v in gb[g])
            rows.append(
                {
                    "img_id": r["img_id"],
                    "img_path": r.get("img_path"),
                    "class": _name(int(gl[g]), class_names),
                    "label": int(gl[g]),
                    "x1": x1,
                    "y1": y1,
                    "x2": x2,
                    "y2": y2,
                    "area": (x2 - x1) * (y2 - y1),
                    "best_score": float(ps[best[j]]) if found[j] else None,
                    "best_score_iou": float(iou[j, best[j]]) if found[j] else None,
                }
            )
    order = np.argsort([-row["area"] for row in rows], kind="stable")
    return [rows[i] for i in order]

"""Read predictions and ground truth out of evaluated samples (DetSample or its ``to_dict()``)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    if key in ("img_id", "img_shape", "ori_shape", "img_path"):
        return obj.metainfo.get(key, default)
    return getattr(obj, key, default)


def _np(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def unpack(sample: Any) -> dict:
    """``dict(img_id, pred=(boxes, scores, labels), gt=(boxes, labels, ignore))`` in original-image pixels.

    Ground truth arrives in network-input pixels (``gt_instances``) and is scaled by
    ``ori_shape / img_shape``, as the detector scales its predictions.
    """
    pred, gt = _get(sample, "pred_instances"), _get(sample, "gt_instances")
    if pred is None:
        raise KeyError("evaluated sample has no pred_instances: run the model with mode='predict'")
    p_boxes, p_scores, p_labels = (_np(_get(pred, k)) for k in ("bboxes", "scores", "labels"))
    pred_arrays = (p_boxes.reshape(-1, 4).astype(np.float64), p_scores.astype(np.float64), p_labels.astype(np.int64))
    out = dict(img_id=_get(sample, "img_id"), img_path=_get(sample, "img_path"), pred=pred_arrays)
    if gt is not None:
        g_boxes = _np(_get(gt, "bboxes")).reshape(-1, 4).astype(np.float64)
        img_hw, ori_hw = _get(sample, "img_shape"), _get(sample, "ori_shape")
        if img_hw is not None and ori_hw is not None:
            sy, sx = ori_hw[0] / img_hw[0], ori_hw[1] / img_hw[1]
            g_boxes = g_boxes * np.array([sx, sy, sx, sy])
        ignore = _get(gt, "ignore_flags")
        ignore = np.zeros(len(g_boxes), bool) if ignore is None else _np(ignore).astype(bool)
        out["gt"] = (g_boxes, _np(_get(gt, "labels")).astype(np.int64), ignore)
    return out

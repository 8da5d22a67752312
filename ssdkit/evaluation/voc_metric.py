"""PASCAL VOC mAP at IoU 0.5."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from ssdkit.registry import METRICS

from .samples import unpack
from .voc_ap import average_precision, class_pr


@METRICS.register_module()
class VOCMetric(BaseMetric):
    """Per-class AP and mAP, VOC style: difficult objects are neither true nor false positives.

    Args:
        iou_threshold: overlap for a true positive (>=, as the VOC devkit).
        mode: ``'11points'`` (VOC2007 test, the paper's numbers) or ``'area'`` (VOC2010+).
        num_classes: needed only without ``dataset_meta['classes']``.
    """

    default_prefix = "pascal_voc"

    def __init__(
        self,
        iou_threshold: float = 0.5,
        mode: str = "11points",
        num_classes: int | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if mode not in ("11points", "area"):
            raise ValueError(f"VOCMetric: mode={mode!r}; valid: '11points', 'area'")
        self.iou_threshold, self.mode, self.num_classes = iou_threshold, mode, num_classes

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            item = unpack(s)
            if "gt" not in item:
                raise KeyError("VOCMetric: evaluated sample has no gt_instances (the test pipeline must keep them)")
            self.results.append(item)

    def class_names(self) -> list[str]:
        names = (self.dataset_meta or {}).get("classes")
        if names:
            return list(names)
        if self.num_classes is None:
            raise ValueError("VOCMetric: no dataset_meta['classes']; pass num_classes")
        return [str(i) for i in range(self.num_classes)]

    def evaluate_class(self, results: list[dict], c: int) -> dict:
        """AP of class ``c`` over ``results`` (each from :func:`unpack`)."""
        recall, precision, _, num_gts = class_pr(results, c, self.iou_threshold)
        ap = average_precision(recall, precision, self.mode) if num_gts > 0 else 0.0
        return dict(ap=ap, num_gts=num_gts, num_dets=int(len(recall)), recall=float(recall[-1]) if len(recall) else 0.0)

    def compute_metrics(self, results: list) -> dict[str, float]:
        names = self.class_names()
        per_class = [self.evaluate_class(results, c) for c in range(len(names))]
        counted = [p["ap"] for p in per_class if p["num_gts"] > 0]
        m_ap = float(np.mean(counted)) if counted else 0.0
        lines = [f"{'class':16s}{'gts':>7s}{'dets':>8s}{'recall':>8s}{'AP':>8s}"]
        lines += [
            f"{n:16s}{p['num_gts']:7d}{p['num_dets']:8d}{p['recall']:8.3f}{p['ap']:8.3f}"
            + ("  no ground truth: not in the mAP" if p["num_gts"] == 0 else "")
            for n, p in zip(names, per_class, strict=True)
        ]
        left_out = len(per_class) - len(counted)
        lines.append(
            f"{'mAP':16s}{'':23s}{m_ap:8.3f}  (IoU {self.iou_threshold}, {self.mode}"
            + (
                f"; over {len(counted)} of {len(per_class)} classes, {left_out} without ground truth)"
                if left_out
                else ")"
            )
        )
        MMLogger.get_current_instance().info("\n" + "\n".join(lines))
        out = {"mAP": m_ap}
        prefix = f"AP{round(self.iou_threshold * 100)}_"  # AP50_ at IoU 0.5, AP75_ at 0.75
        out.update({f"{prefix}{n}": p["ap"] for n, p in zip(names, per_class, strict=True)})
        return out

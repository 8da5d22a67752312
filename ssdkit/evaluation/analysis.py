"""``tools/test.py --analysis-dir D``: PR curves, the confusion matrix and the worst errors, as files in ``D``."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from ssdkit.registry import METRICS
from ssdkit.utils.atomic import atomic_write_text
from ssdkit.visualization._mpl import pyplot
from ssdkit.visualization.confusion import plot_confusion_matrix
from ssdkit.visualization.pr_curves import plot_pr_curves

from .confusion import confusion_matrix, match_across_classes
from .errors import KINDS, classify_detections, false_positives, missed_objects
from .samples import unpack
from .voc_ap import ClassPR, average_precision, class_pr, match_class

FILES = (
    "pr_curves.png",
    "pr_curves.csv",
    "confusion_matrix.png",
    "confusion_matrix.csv",
    "false_positives.csv",
    "missed.csv",
)
FP_COLUMNS = (
    "rank",
    "img_id",
    "img_path",
    "class",
    "label",
    "score",
    "x1",
    "y1",
    "x2",
    "y2",
    "kind",
    "best_iou",
    "best_gt_class",
)
MISSED_COLUMNS = (
    "img_id",
    "img_path",
    "class",
    "label",
    "x1",
    "y1",
    "x2",
    "y2",
    "area",
    "best_score",
    "best_score_iou",
)


def csv_text(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """CSV text: floats as Python writes them (shortest repr: they read back exactly), ``None`` as an empty cell."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return buf.getvalue()


def _cell(column: str, value: object) -> object:
    """The error tables' numbers as people read them: boxes and areas to 2 decimals, scores and IoUs to 4."""
    if not isinstance(value, float):
        return value
    return round(value, 2 if column in ("x1", "y1", "x2", "y2", "area") else 4)


def curve_points(pr: ClassPR) -> np.ndarray:
    """Indices of the points kept in ``pr_curves.csv``: every true positive (where recall rises) and the last
    point. The dropped points only lower precision at a recall already listed, so the VOC envelope, the all-points
    and the 11-point AP are the same on the kept points (and a weak model's 100 detections per image do not make
    a file of millions of rows)."""
    n = len(pr.recall)
    if n == 0:
        return np.zeros(0, np.int64)
    rises = np.flatnonzero(np.diff(pr.recall, prepend=0.0) > 0)
    return np.union1d(rises, [n - 1])


@METRICS.register_module()
class DetectionAnalysis(BaseMetric):
    """Writes into ``out_dir``: ``pr_curves.png`` / ``.csv`` (per class, VOC matching at ``iou_threshold``, AP by
    ``ap_mode`` as :class:`VOCMetric` computes it), ``confusion_matrix.png`` / ``.csv``
    (:func:`~ssdkit.evaluation.confusion.confusion_matrix` at ``iou_threshold`` and ``score_thr``),
    ``false_positives.csv`` (the ``top_k`` highest-scoring, with their kind) and ``missed.csv`` (every missed
    object, largest first); see :mod:`ssdkit.evaluation.errors` for the rules. Logs a short summary and returns
    ``missed``, ``false_alarms`` and ``confused`` (counts at ``score_thr``).
    """

    default_prefix = "analysis"

    def __init__(
        self,
        out_dir: str,
        iou_threshold: float = 0.5,
        score_thr: float = 0.3,
        top_k: int = 50,
        ap_mode: str = "area",
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if ap_mode not in ("11points", "area"):
            raise ValueError(f"DetectionAnalysis: ap_mode={ap_mode!r}; valid: '11points', 'area'")
        if not 0 < iou_threshold <= 1:
            raise ValueError(f"DetectionAnalysis: iou_threshold={iou_threshold}; valid: 0 < iou_threshold <= 1")
        if top_k < 0:
            raise ValueError(f"DetectionAnalysis: top_k={top_k}; valid: 0 or more")
        pyplot()  # matplotlib missing: say so now, not after the whole test set has run
        self.out_dir = Path(out_dir)
        self.iou_threshold, self.score_thr, self.top_k, self.ap_mode = iou_threshold, score_thr, top_k, ap_mode

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            item = unpack(s)
            if "gt" not in item:
                raise KeyError(
                    "DetectionAnalysis: evaluated sample has no gt_instances (the test pipeline must keep them)"
                )
            self.results.append(item)

    def class_names(self, results: list[dict]) -> list[str]:
        names = (self.dataset_meta or {}).get("classes")
        if names:
            return [str(n) for n in names]
        top = max(
            [int(r["gt"][1].max()) for r in results if len(r["gt"][1])]
            + [int(r["pred"][2].max()) for r in results if len(r["pred"][2])]
            + [-1]
        )
        return [str(i) for i in range(top + 1)]

    def compute_metrics(self, results: list) -> dict[str, int]:
        names = self.class_names(results)
        c = len(names)
        out = self.out_dir
        per_class = {k: match_class(results, k, self.iou_threshold) for k in range(c)}
        curves = [class_pr(results, k, self.iou_threshold, per_class[k]) for k in range(c)]
        aps = [average_precision(p.recall, p.precision, self.ap_mode) if p.num_gts > 0 else None for p in curves]
        rows = []
        for name, pr in zip(names, curves, strict=True):
            rows += [(name, pr.num_gts, pr.recall[i], pr.precision[i], pr.scores[i]) for i in curve_points(pr)]
        atomic_write_text(out / "pr_curves.csv", csv_text(("class", "num_gts", "recall", "precision", "score"), rows))

        matches = match_across_classes(results, self.iou_threshold, self.score_thr)
        matrix = confusion_matrix(results, c, self.iou_threshold, self.score_thr, matches)
        labels = [*names, "background"]
        table = [[name, *(int(v) for v in row)] for name, row in zip(labels, matrix, strict=True)]
        atomic_write_text(out / "confusion_matrix.csv", csv_text(["gt \\ detected", *labels], table))

        classified = classify_detections(results, self.iou_threshold, per_class)
        fps = false_positives(results, self.iou_threshold, self.top_k, names, classified)
        atomic_write_text(
            out / "false_positives.csv",
            csv_text(FP_COLUMNS, [[i + 1, *(_cell(k, row[k]) for k in FP_COLUMNS[1:])] for i, row in enumerate(fps)]),
        )
        missed = missed_objects(results, self.iou_threshold, self.score_thr, names, matches[1])
        atomic_write_text(
            out / "missed.csv", csv_text(MISSED_COLUMNS, [[_cell(k, row[k]) for k in MISSED_COLUMNS] for row in missed])
        )

        counted = [a for a in aps if a is not None]
        m_ap = float(np.mean(counted)) if counted else 0.0
        plot_pr_curves(
            names,
            [p.recall for p in curves],
            [p.precision for p in curves],
            aps,
            out / "pr_curves.png",
            num_gts=[p.num_gts for p in curves],
            title=f"PR at IoU {self.iou_threshold}: mAP {m_ap:.3f} ({self.ap_mode})",
        )
        plot_confusion_matrix(
            matrix,
            labels,
            out / "confusion_matrix.png",
            title=f"IoU >= {self.iou_threshold}, score >= {self.score_thr} (colour: row fraction)",
        )

        summary = dict(
            missed=int(matrix[:c, c].sum()),
            false_alarms=int(matrix[c, :c].sum()),
            confused=int(matrix[:c, :c].sum() - np.trace(matrix[:c, :c])),
        )
        self._log(matrix, classified, results, fps, missed, summary)
        return summary

    def _log(
        self,
        matrix: np.ndarray,
        classified: list[dict],
        results: list[dict],
        fps: list[dict],
        missed: list[dict],
        summary: dict[str, int],
    ) -> None:
        c = len(matrix) - 1
        gts = int(matrix[:c].sum())
        kinds = np.zeros(len(KINDS), np.int64)
        for r, cl in zip(results, classified, strict=True):
            k = cl["kind"][(cl["flags"] == 0) & (r["pred"][1] >= self.score_thr)]
            kinds += np.bincount(k.astype(np.int64), minlength=len(KINDS))
        lines = [
            f"detection analysis (IoU {self.iou_threshold}, score >= {self.score_thr}) in {self.out_dir}:",
            f"  of {gts} objects: {int(np.trace(matrix[:c, :c]))} found as their class, {summary['confused']} "
            f"as another class, {summary['missed']} missed; {summary['false_alarms']} false alarms",
            "  false positives by kind (VOC matching): "
            + ", ".join(f"{n} {int(v)}" for n, v in zip(KINDS, kinds, strict=True)),
        ]
        for row in fps[:3]:
            gt = f" with {row['best_gt_class']}" if row["best_gt_class"] else ""
            lines.append(
                f"  fp {row['score']:.3f} {row['class']} ({row['kind']}, best IoU {row['best_iou']:.2f}{gt}) "
                f"in image {row['img_id']}"
            )
        for row in missed[:3]:
            lines.append(f"  missed {row['class']} of {row['area']:.0f} px^2 in image {row['img_id']}")
        lines.append(f"  files: {', '.join(FILES)}")
        MMLogger.get_current_instance().info("\n".join(lines))

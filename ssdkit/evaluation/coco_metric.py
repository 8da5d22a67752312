"""COCO AP through pycocotools' COCOeval."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ssdkit.registry import METRICS
from ssdkit.structures.coco import quiet_coco, xyxy_to_coco_bbox
from ssdkit.utils.atomic import atomic_write_text

from .samples import unpack

STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


@METRICS.register_module()
class CocoMetric(BaseMetric):
    """COCO box AP / AR with pycocotools, over the images that were evaluated.

    Args:
        ann_file: the COCO json of the evaluated split. Without it a ground-truth json is built from
            the samples' ``gt_instances`` (``ignore_flags`` become ``iscrowd``).
        cat_ids: COCO category id of each contiguous label (default: ``dataset_meta['cat_ids']``, else
            the ann file's sorted category ids).
        outfile_prefix: also write ``<prefix>.bbox.json`` with the detections.
    """

    default_prefix = "coco"

    def __init__(
        self,
        ann_file: str | None = None,
        cat_ids: Sequence[int] | None = None,
        outfile_prefix: str | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ann_file, self.cat_ids, self.outfile_prefix = ann_file, cat_ids, outfile_prefix

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            item = unpack(s)
            if item["img_id"] is None:
                raise KeyError("CocoMetric: evaluated sample has no img_id")
            self.results.append(item)

    def _gt(self, results: list[dict]) -> COCO:
        if self.ann_file is not None:
            return quiet_coco(self.ann_file)
        images: list[dict] = []
        anns: list[dict] = []
        for r in results:
            images.append(dict(id=r["img_id"]))
            boxes, labels, ignore = r["gt"]
            for b, lab, ig in zip(boxes, labels, ignore, strict=True):
                bbox = xyxy_to_coco_bbox(b)
                anns.append(
                    dict(
                        id=len(anns) + 1,
                        image_id=r["img_id"],
                        category_id=self._cat(int(lab)),
                        bbox=bbox,
                        area=bbox[2] * bbox[3],
                        iscrowd=int(ig),
                    )
                )
        return quiet_coco(
            dict(
                images=images,
                annotations=anns,
                categories=[dict(id=self._cat(i)) for i in range(self._num_labels(results))],
            )
        )

    def _num_labels(self, results: list[dict]) -> int:
        if self.cat_ids is not None:
            return len(self.cat_ids)
        return 1 + max(
            [int(r["gt"][1].max()) for r in results if len(r["gt"][1])]
            + [int(r["pred"][2].max()) for r in results if len(r["pred"][2])]
            + [0]
        )

    def _cat(self, label: int) -> int:
        return int(self.cat_ids[label]) if self.cat_ids is not None else label + 1

    def compute_metrics(self, results: list) -> dict[str, float]:
        if self.cat_ids is None and self.dataset_meta and self.dataset_meta.get("cat_ids"):
            self.cat_ids = list(self.dataset_meta["cat_ids"])
        gt = self._gt(results)
        if self.cat_ids is None:
            self.cat_ids = sorted(gt.getCatIds())
        dets = [
            dict(image_id=r["img_id"], category_id=self._cat(int(lab)), score=float(s), bbox=xyxy_to_coco_bbox(b))
            for r in results
            for b, s, lab in zip(*r["pred"], strict=True)
        ]
        if self.outfile_prefix:
            atomic_write_text(f"{self.outfile_prefix}.bbox.json", json.dumps(dets))
        img_ids = sorted({r["img_id"] for r in results})
        if not dets:
            return {name: 0.0 for name in STAT_NAMES}
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            dt = gt.loadRes(dets)
            ev = COCOeval(gt, dt, "bbox")
            ev.params.imgIds = img_ids
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        MMLogger.get_current_instance().info("\n" + buf.getvalue())
        return {name: float(v) for name, v in zip(STAT_NAMES, np.asarray(ev.stats), strict=True)}

"""Write every evaluated image's detections to a json file (``tools/test.py --out``)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from mmengine.evaluator import BaseMetric

from ssdkit.registry import METRICS
from ssdkit.structures.records import detection_record
from ssdkit.utils.atomic import atomic_write_text

from .samples import unpack


@METRICS.register_module()
class DumpDetections(BaseMetric):
    """Collects every image's detections and writes ``out_file`` atomically, in ssdkit's detection json
    (:func:`ssdkit.structures.records.detection_record`: the image path, boxes xyxy in original pixels, scores,
    0-based labels and class names; ``tools/infer.py`` writes the same)."""

    default_prefix = "dump"

    def __init__(self, out_file: str, collect_device: str = "cpu", prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.out_file = out_file

    def process(self, data_batch, data_samples: Sequence) -> None:
        names = tuple((self.dataset_meta or {}).get("classes") or ())
        for s in data_samples:
            r = unpack(s)
            boxes, scores, labels = r["pred"]
            self.results.append(detection_record(str(r["img_path"] or r["img_id"]), boxes, scores, labels, names))

    def compute_metrics(self, results: list) -> dict:
        atomic_write_text(self.out_file, json.dumps(results))
        return {}

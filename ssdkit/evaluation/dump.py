"""Write every evaluated image's detections to a json file (``tools/test.py --out``)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from mmengine.evaluator import BaseMetric

from ssdkit.registry import METRICS
from ssdkit.utils.atomic import atomic_write_text

from .samples import unpack


@METRICS.register_module()
class DumpDetections(BaseMetric):
    """Collects detections (xyxy original pixels, score, 0-based label) and writes ``out_file`` atomically."""

    default_prefix = "dump"

    def __init__(self, out_file: str, collect_device: str = "cpu", prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.out_file = out_file

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            r = unpack(s)
            boxes, scores, labels = r["pred"]
            self.results.append(dict(img_id=r["img_id"], boxes=boxes.round(2).tolist(),
                                     scores=scores.round(5).tolist(), labels=labels.tolist()))

    def compute_metrics(self, results: list) -> dict:
        atomic_write_text(self.out_file, json.dumps(results))
        return {}

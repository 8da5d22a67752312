"""The config's own metric (VOC mAP, COCO AP) on an OpenVINO compiled model, for NNCF's accuracy control: the
held-out split through the test pipeline, detections made as :class:`~ssdkit.deploy.detector.DeployedDetector`
makes them."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ssdkit.registry import METRICS

from .calibration import checked_sample, split_dataset
from .detector import DeployedDetector
from .runtimes import Runtime


class CompiledRuntime(Runtime):
    """An OpenVINO ``CompiledModel`` (NNCF's model under validation) as a :class:`~ssdkit.deploy.runtimes.Runtime`."""

    name = "openvino"

    def __init__(self, compiled: Any, runtime: Runtime) -> None:
        super().__init__(runtime.path, runtime.info)
        self.compiled = compiled

    def __call__(self, images: np.ndarray) -> list[np.ndarray]:
        result = self.compiled(images)
        return [np.asarray(result[self.compiled.output(name)]) for name in self.info.outputs]


def _evaluator(cfg: Any, split: str) -> dict:
    """The first metric of ``<split>_evaluator`` (``val_evaluator``, ``test_evaluator``)."""
    key = f"{split}_evaluator"
    found = cfg.get(key)
    if isinstance(found, (list, tuple)):
        found = found[0] if found else None
    if not isinstance(found, dict):
        raise ValueError(f"--max-drop scores the held-out split with {key}, which the config does not have")
    return copy.deepcopy(dict(found))


def _headline(metrics: dict) -> float:
    """The metric's headline value: its first key ending in ``mAP`` (VOC ``pascal_voc/mAP``, COCO
    ``coco/bbox_mAP``), else its first number."""
    for key, value in metrics.items():
        if key.endswith("mAP"):
            return float(value)
    return float(next(v for v in metrics.values() if isinstance(v, (int, float))))


def _score(det: DeployedDetector, metric: Any, data: Any) -> float:
    """``metric``'s headline on the detections of ``det`` for ``(graph input, DetSample)`` items; the metric's
    per-class table stays out of the log (NNCF calls this once per image while it ranks layers)."""
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        n = 0
        for x, sample in data:
            images = torch.from_numpy(x)
            images = images.permute(0, 3, 1, 2) if det.info.mode == "end2end" else images
            metric.process(None, det.forward(images, [copy.deepcopy(sample)]))
            n += 1
        return _headline(metric.evaluate(n))
    finally:
        logger.setLevel(level)


def validation(
    cfg: Any, split: str, float_file: str | os.PathLike
) -> tuple[list[tuple[np.ndarray, Any]], Callable[[Any, Any], tuple[float, None]], list[float]]:
    """``(items, validate, scores)`` for ``nncf.quantize_with_accuracy_control``: every image of ``split`` as
    ``(graph input, DetSample)``; ``validate(compiled_model, items) -> (metric, None)``; ``scores`` collects the
    metric of every validation on the whole split (the float model's first, the returned model's last)."""
    det = DeployedDetector(str(float_file), "openvino")
    float_runtime = det.runtime
    info, dataset, metric_cfg = det.info, split_dataset(cfg, split), _evaluator(cfg, split)
    items = [checked_sample(dataset, i, info.input_size, info.mode) for i in range(len(dataset))]
    scores: list[float] = []

    def validate(compiled: Any, data: Any) -> tuple[float, None]:
        det.runtime = CompiledRuntime(compiled, float_runtime)
        metric = METRICS.build(copy.deepcopy(metric_cfg))
        metric.dataset_meta = dataset.metainfo
        data = list(data)
        value = _score(det, metric, data)
        if len(data) == len(items):
            scores.append(value)
        return value, None

    return items, validate, scores

"""The model's predictions for in-memory BGR images, through the config's test pipeline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.model import BaseModel

from ssdkit.data.datasets.base import build_pipeline


def _test_pipeline(cfg: Config):
    pipeline = cfg.get("test_dataloader", {}).get("dataset", {}).get("pipeline")
    if not pipeline:
        size = int(cfg.get("input_size", 300))
        pipeline = [dict(type="LoadImage"), dict(type="Resize", size=(size, size)), dict(type="PackInputs")]
    return build_pipeline([dict(type="LoadImageArray") if t["type"] == "LoadImage" else t for t in pipeline])


@torch.no_grad()
def predict_arrays(model: BaseModel, arrays: Sequence[np.ndarray]) -> list:
    """The model's ``pred_instances`` (original pixels) for BGR uint8 arrays, through its test pipeline (built
    once per model: sliced inference calls this for every batch of tiles)."""
    pipeline = getattr(model, "test_pipeline", None)
    if pipeline is None:
        pipeline = model.test_pipeline = _test_pipeline(model.cfg)
    batch = [pipeline(dict(img=arr, img_id=k, img_path="")) for k, arr in enumerate(arrays)]
    data = model.data_preprocessor(
        dict(inputs=[b["inputs"] for b in batch], data_samples=[b["data_samples"] for b in batch]), False
    )
    return [s.pred_instances for s in model(**data, mode="predict")]

"""Pack a transformed sample into the model's ``inputs`` tensor and ``DetSample``."""

from __future__ import annotations

import numpy as np
import torch
from mmengine.structures import InstanceData

from ssdkit.registry import TRANSFORMS
from ssdkit.structures import DetSample

META_KEYS = ("img_id", "img_path", "ori_shape", "img_shape", "flip")


@TRANSFORMS.register_module()
class PackInputs:
    """``img`` -> ``inputs`` uint8 ``[3, H, W]`` (BGR; the model's preprocessor converts), boxes ->
    ``data_samples.gt_instances`` (bboxes, labels, ignore_flags) and the meta keys."""

    def __call__(self, results: dict) -> dict:
        img = results["img"]
        if img.dtype != np.uint8:
            img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = DetSample(metainfo={k: results[k] for k in META_KEYS if k in results})
        sample.gt_instances = InstanceData(
            bboxes=torch.as_tensor(results["gt_bboxes"], dtype=torch.float32).reshape(-1, 4),
            labels=torch.as_tensor(results["gt_labels"], dtype=torch.long),
            ignore_flags=torch.as_tensor(results["gt_ignore_flags"], dtype=torch.bool),
        )
        return dict(inputs=inputs, data_samples=sample)

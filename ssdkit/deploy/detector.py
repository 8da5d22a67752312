"""An exported file as a detector: what mmengine's Runner and ssdkit's inference API call, like an ``SSD``."""

from __future__ import annotations

import numpy as np
import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData

from ssdkit.registry import DETECTORS
from ssdkit.structures import DetSample

from .export import ExportInfo, read_info
from .runtimes import Runtime, make_runtime


def _stack(inputs) -> torch.Tensor:
    return torch.stack(list(inputs)) if isinstance(inputs, (list, tuple)) else inputs


@DETECTORS.register_module()
class DeployedDetector(BaseModel):
    """Runs ``file`` (made by ``tools/export.py``, or int8 by ``tools/quantize.py``) on ``backend``
    (``'onnxruntime'``, ``'openvino'``, ``'opencv'``).

    ``forward(inputs, data_samples, mode='predict')`` takes what the config's test pipeline makes (uint8 ``[3, H, W]``
    BGR at the exported input size), and gives each sample ``pred_instances`` in original-image pixels, as
    ``SSD.predict`` does. A fixed-batch file runs larger batches in chunks (the last one padded). ``num_classes``,
    when given (the config's), must equal the file's. ``precision``: OpenVINO's inference precision (``'f32'``, or
    ``None`` for OpenVINO's own default, bfloat16 on CPUs with avx512_bf16 or AMX); the other backends run float32.
    """

    def __init__(
        self,
        file: str,
        backend: str = "onnxruntime",
        num_classes: int | None = None,
        threads: int | None = None,
        precision: str | None = "f32",
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(data_preprocessor=dict(type="BaseDataPreprocessor"), init_cfg=init_cfg)
        self.info: ExportInfo = read_info(file)
        if num_classes is not None and int(num_classes) != self.info.num_classes:
            raise ValueError(
                f"'{file}' was exported with {self.info.num_classes} classes but the config has "
                f"model.num_classes={num_classes}: use the config the file was exported from "
                f"({self.info.config or 'not recorded'})"
            )
        self.file, self.backend = str(file), backend
        self.num_classes = self.info.num_classes
        self.runtime: Runtime = make_runtime(backend, file, self.info, threads, precision)

    def run(self, images: np.ndarray) -> list[np.ndarray]:
        """The runtime on a batch of graph inputs of any size (chunks of the file's fixed batch, if it has one)."""
        n, fixed = images.shape[0], self.info.batch
        if not fixed or fixed == n:
            return self.runtime(images)
        parts: list[list[np.ndarray]] = []
        for start in range(0, n, fixed):
            chunk = images[start : start + fixed]
            short = fixed - chunk.shape[0]
            if short:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], short, axis=0)])
            parts.append([o[: fixed - short] for o in self.runtime(chunk)])
        return [np.concatenate(outs) for outs in zip(*parts, strict=True)]

    def detections(self, images: torch.Tensor) -> list[dict[str, np.ndarray]]:
        """uint8 ``[B, 3, H, W]`` BGR at the input size -> per image ``boxes [N, 4]`` (input pixels), ``scores``,
        ``labels``, best first."""
        h, w = images.shape[-2:]
        if (int(h), int(w)) != tuple(self.info.input_size):
            raise ValueError(
                f"images are {int(h)}x{int(w)} but '{self.file}' was exported for "
                f"{self.info.input_size[0]}x{self.info.input_size[1]}: the config's test pipeline must "
                f"Resize to the exported size (or export again with --input-size)"
            )
        if self.info.mode == "raw":
            from .raw_nms import postprocess_raw

            boxes, scores = self.run(images.float().cpu().numpy())
            # numpy NMS: torchvision's float32 IoU, as PyTorch decides (OpenCV's float64 IoU may decide a pair
            # within an ulp of nms_iou the other way; postprocess_raw(method='opencv') is there for OpenCV users)
            info = self.info
            return postprocess_raw(
                boxes,
                scores,
                score_thr=info.score_thr,
                pre_nms_topk=info.pre_nms_topk,
                nms_iou=info.nms_iou,
                max_per_img=info.max_per_img,
            )
        dets, labels, num = self.run(np.ascontiguousarray(images.permute(0, 2, 3, 1).cpu().numpy()))
        return [
            dict(boxes=d[:k, :4], scores=d[:k, 4], labels=lab[:k].astype(np.int64))
            for d, lab, k in zip(dets, labels, num.astype(np.int64), strict=True)
        ]

    def forward(self, inputs, data_samples: list[DetSample] | None = None, mode: str = "predict"):
        if mode != "predict":
            raise ValueError(f"DeployedDetector ({self.backend}) only predicts; mode={mode!r}")
        images = _stack(inputs)
        if data_samples is None:
            raise ValueError("DeployedDetector.forward(mode='predict') needs data_samples")
        h, w = images.shape[-2:]
        for sample, det in zip(data_samples, self.detections(images), strict=True):
            ih, iw = sample.metainfo.get("img_shape", (h, w))[:2]
            oh, ow = sample.metainfo.get("ori_shape", (ih, iw))[:2]
            scale = np.array([ow / iw, oh / ih, ow / iw, oh / ih], np.float32)
            boxes = np.minimum(det["boxes"].reshape(-1, 4) * scale, np.array([ow, oh, ow, oh], np.float32))
            sample.pred_instances = InstanceData(
                bboxes=torch.from_numpy(np.ascontiguousarray(boxes)),
                scores=torch.from_numpy(np.ascontiguousarray(det["scores"])),
                labels=torch.from_numpy(np.ascontiguousarray(det["labels"])),
            )
        return data_samples

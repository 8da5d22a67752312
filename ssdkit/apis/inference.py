"""Python inference API: ``init_detector`` and ``detect``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import load_checkpoint

from ssdkit.engine import (
    ConfigError,
    adopt_trained_priors,
    check_checkpoint,
    install_safe_checkpoints,
    register_all,
    wire_num_classes,
)
from ssdkit.engine.checkpoint import read_checkpoint
from ssdkit.engine.config_bases import resolve_bases
from ssdkit.registry import DETECTORS
from ssdkit.utils.allocator import tune_allocator

from .predict import predict_arrays
from .sliced import detect_sliced


def init_detector(
    config: str | Config, checkpoint: str | None = None, device: str = "cpu", backend: str = "pytorch"
) -> BaseModel:
    """Build the config's model, load ``checkpoint`` (``weights_only=True``), put it on ``device`` in eval mode.
    A checkpoint that is damaged, not a torch file, or holds another model's weights raises
    :class:`~ssdkit.engine.CheckpointError` (a :class:`ConfigError`) naming the file.

    ``model.cfg`` keeps the config, ``model.dataset_meta`` the class names (from the checkpoint's meta); a checkpoint
    trained with other priors than the config's (fitted before training) brings its own
    (:func:`~ssdkit.engine.adopt_trained_priors`).
    ``backend`` other than ``'pytorch'`` (``'onnxruntime'``, ``'openvino'``, ``'opencv'``): ``checkpoint`` is a file
    made by ``tools/export.py``, run by that runtime (:class:`~ssdkit.deploy.detector.DeployedDetector`, CPU); the
    config still gives the test pipeline.
    """
    tune_allocator()
    register_all()
    install_safe_checkpoints()
    cfg = Config.fromfile(resolve_bases(config)) if not isinstance(config, Config) else config
    if backend != "pytorch":
        return init_deployed(cfg, checkpoint, backend)
    if cfg.model.get("num_classes") is None:
        set_num_classes(cfg, checkpoint)
    if checkpoint is not None:
        adopt_trained_priors(cfg, checkpoint)
    model = DETECTORS.build(cfg.model)
    meta: dict = {}
    if checkpoint is not None:
        check_checkpoint(checkpoint, model)  # a damaged file or another model's weights: CheckpointError
        ckpt = load_checkpoint(model, checkpoint, map_location="cpu", strict=True)
        meta = ckpt.get("meta", {}) if isinstance(ckpt, dict) else {}
    classes = (meta.get("dataset_meta") or {}).get("classes") or meta.get("classes")
    names = tuple(classes) if classes else tuple(str(i) for i in range(cfg.model.num_classes))
    model.dataset_meta = dict(classes=names)
    model.cfg = cfg
    return model.to(device).eval()


def init_deployed(cfg: Config, file: str | None, backend: str) -> BaseModel:
    """An exported ``file`` on ``backend``, checked against ``cfg`` (classes, input size)."""
    from ssdkit.deploy.detector import DeployedDetector
    from ssdkit.deploy.export import input_size_of

    if file is None:
        raise ConfigError(f"backend='{backend}' runs an exported file: give its path (tools/export.py makes it)")
    model = DeployedDetector(file, backend, num_classes=cfg.model.get("num_classes"))  # None: the file's classes
    size = input_size_of(cfg)
    if tuple(model.info.input_size) != size:
        raise ConfigError(
            f"'{file}' was exported for {model.info.input_size[0]}x{model.info.input_size[1]} input but "
            f"the config's test pipeline resizes to {size[0]}x{size[1]}"
        )
    model.dataset_meta = dict(classes=tuple(model.info.classes))
    model.cfg = cfg
    return model.eval()


def set_num_classes(cfg: Config, checkpoint: str | None) -> None:
    """``model.num_classes`` for a config that leaves it to the data: from its datasets' classes, else from the
    class names the checkpoint was trained with."""
    wire_num_classes(cfg)
    if cfg.model.get("num_classes") is None and checkpoint is not None:
        meta = read_checkpoint(checkpoint).get("meta") or {}
        classes = (meta.get("dataset_meta") or {}).get("classes") or meta.get("classes")
        if classes:
            cfg.model.num_classes = len(classes)
    if cfg.model.get("num_classes") is None:
        raise ConfigError(
            f"{cfg.filename}: model.num_classes is not set, and neither the config's datasets nor the "
            f"checkpoint name the classes; set model.num_classes"
        )


@torch.no_grad()
def detect(
    model: BaseModel,
    images: Sequence[str | Path | np.ndarray],
    score_thr: float = 0.3,
    batch_size: int = 8,
    tile: int | None = None,
    tile_overlap: float = 0.2,
    tile_whole: bool = False,
) -> list[dict]:
    """Detections scoring at least ``score_thr`` (``tools/infer.py``'s default) for image paths or BGR uint8
    arrays: per image ``boxes [N, 4]`` (xyxy, original pixels), ``scores [N]``, ``labels [N]`` (0-based) as numpy
    arrays, and ``names``, the class name of each detection.

    ``tile``: sliced inference for large images (:func:`ssdkit.apis.sliced.detect_sliced`): ``tile`` x ``tile``
    tiles overlapping by ``tile_overlap``, ``batch_size`` at a time, merged in image coordinates; ``tile_whole``
    adds one whole-image pass for objects larger than a tile.
    """
    classes = model.dataset_meta["classes"]
    out = []
    for start in range(0, len(images), batch_size):
        arrays = []
        for img in images[start : start + batch_size]:
            arr = img if isinstance(img, np.ndarray) else cv2.imread(str(img), cv2.IMREAD_COLOR)
            if arr is None:
                raise FileNotFoundError(f"cannot read image '{img}'")
            arrays.append(arr)
        if tile is None:
            dets = [dict(boxes=p.bboxes, scores=p.scores, labels=p.labels) for p in predict_arrays(model, arrays)]
        else:
            dets = [detect_sliced(model, arr, tile, tile_overlap, batch_size, whole_image=tile_whole) for arr in arrays]
        for d in dets:
            keep = d["scores"] >= score_thr
            labels = d["labels"][keep].cpu().numpy()
            out.append(
                dict(
                    boxes=d["boxes"][keep].cpu().numpy(),
                    scores=d["scores"][keep].cpu().numpy(),
                    labels=labels,
                    names=[classes[int(k)] if int(k) < len(classes) else str(int(k)) for k in labels],
                )
            )
    return out

"""Export an SSD to ONNX: the graph of :mod:`ssdkit.deploy.graph`, the file's metadata, written atomically."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import torch

from ssdkit.core.postprocess import NMS_DEFAULTS
from ssdkit.data.transforms.geometric import resize_in
from ssdkit.utils.atomic import atomic_write

from .graph import MODES, DeployGraph
from .onnx_nms import TRANSLATION

DEFAULT_OPSET = 18  # torch.onnx's dynamo exporter writes opset 18 and newer
META_KEY = "ssdkit"


def require(package: str, what: str):
    """Import an optional runtime package, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise ImportError(
            f"{what} needs the Python package '{package}', which is not installed: pip install 'ssdkit[deploy]'"
        ) from err


@dataclass
class ExportInfo:
    """What a runtime needs to know about an exported file (kept in its ONNX metadata under ``ssdkit``)."""

    mode: str
    input_size: tuple[int, int]
    batch: int | None  # None: dynamic
    classes: list[str]
    score_thr: float
    max_per_img: int
    input_layout: str  # 'NHWC uint8 BGR' (end2end) or 'NCHW float32 BGR 0..255' (raw)
    outputs: list[str]
    config: str = ""
    pre_nms_topk: int = NMS_DEFAULTS.pre_nms_topk
    nms_iou: float = NMS_DEFAULTS.nms_iou
    precision: str = "float32"  # 'int8': the network quantized by tools/quantize.py, decoding and NMS float32
    calibration: dict = field(default_factory=dict)  # int8: the images it was calibrated on

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def input_size_of(cfg) -> tuple[int, int]:
    """The network input (H, W): the test pipeline's last ``Resize``, else the config's ``input_size`` (an int or
    (H, W)); a config with neither is an error naming both keys."""
    found = resize_in(cfg.get("test_dataloader", {}).get("dataset", {}).get("pipeline"))
    if found is not None:
        return found
    size = cfg.get("input_size")
    if size is None:
        raise ValueError(
            f"{cfg.get('filename') or 'the config'}: no Resize in test_dataloader.dataset.pipeline and no "
            f"input_size; one of them gives the network's input size"
        )
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _read_meta(path: Path) -> str | None:
    """The ssdkit metadata of an ONNX file, or of an OpenVINO .xml (its ``rt_info``); ``None`` when absent."""
    if path.suffix.lower() == ".xml":
        ov = require("openvino", "reading an OpenVINO model")
        model = ov.Core().read_model(str(path))
        return str(model.get_rt_info([META_KEY]).astype(str)) if model.has_rt_info([META_KEY]) else None
    onnx = require("onnx", "reading an exported model")
    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}.get(META_KEY)


def read_info(path: str | os.PathLike) -> ExportInfo:
    """The :class:`ExportInfo` of an exported file (.onnx, or an OpenVINO .xml from tools/quantize.py); an error
    names the file when it was not made by ssdkit."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"exported model '{path}' does not exist (make it with tools/export.py)")
    meta = _read_meta(Path(path))
    if meta is None:
        raise ValueError(f"'{path}' has no ssdkit metadata: export it with tools/export.py")
    info = json.loads(meta)
    info["input_size"] = tuple(info["input_size"])
    return ExportInfo(**info)


def _onnx_proto(onnx: Any, graph: DeployGraph, mode: str, batch: int | None, opset: int, outputs: list[str]) -> Any:
    """``graph`` through ``torch.onnx.export`` (dynamo) as an ONNX ``ModelProto``; input ``images`` with a fixed
    ``batch`` or a dynamic one (``None``)."""
    h, w = graph.input_size
    n = batch or 2
    example = (
        torch.zeros(n, h, w, 3, dtype=torch.uint8)
        if mode == "end2end"
        else torch.zeros(n, 3, h, w, dtype=torch.float32)
    )
    dynamic = None if batch else {"images": {0: torch.export.Dim("batch", min=1, max=1024)}}
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        program = torch.onnx.export(
            graph,
            (example,),
            dynamo=True,
            input_names=["images"],
            output_names=outputs,
            dynamic_shapes=dynamic,
            opset_version=opset,
            custom_translation_table=TRANSLATION,
        )
        if program is None:
            raise RuntimeError("torch.onnx.export returned no program")
        program.save(os.path.join(tmp, "model.onnx"), external_data=False)
        return onnx.load(os.path.join(tmp, "model.onnx"))


def _check_settings(mode: str, batch: int | None, opset: int) -> None:
    if mode not in MODES:
        raise ValueError(f"export mode {mode!r}; valid: {list(MODES)}")
    if opset < DEFAULT_OPSET:
        raise ValueError(f"--opset {opset}: torch.onnx's exporter writes opset {DEFAULT_OPSET} or newer")
    if batch is not None and batch < 1:
        raise ValueError(f"--batch {batch}: a positive batch size, or 'dynamic'")


def export_onnx(
    model: Any,
    out: str | os.PathLike,
    input_size: tuple[int, int],
    mode: str = "end2end",
    batch: int | None = 1,
    opset: int = DEFAULT_OPSET,
    score_thr: float | None = None,
    max_per_img: int | None = None,
    classes: list[str] | None = None,
    config: str = "",
    nms_prefix: bool = True,
) -> ExportInfo:
    """Write ``model`` (an :class:`~ssdkit.models.SSD` in eval mode) at ``input_size`` (H, W) to ``out``.

    ``batch`` a fixed batch size, or ``None`` for a dynamic one; ``nms_prefix=False`` runs NMS on all candidates
    at once (no ``If`` node, for tools that cannot handle one; the same detections). The file is checked with
    ``onnx.checker`` and replaces ``out`` only when complete (a failed export leaves an existing file as it was).
    """
    onnx = require("onnx", "ONNX export")
    require("onnxscript", "ONNX export")
    _check_settings(mode, batch, opset)
    was_nhwc = getattr(model, "channels_last", False)
    if hasattr(model, "set_channels_last"):
        model.set_channels_last(False)  # NCHW graph; the runtimes choose their own layouts
    model = model.float().eval()
    try:
        graph = DeployGraph(model, input_size, mode, score_thr, max_per_img, nms_prefix).eval()
        outputs = ["dets", "labels", "num_dets"] if mode == "end2end" else ["boxes", "scores"]
        proto = _onnx_proto(onnx, graph, mode, batch, opset, outputs)
    finally:
        if hasattr(model, "set_channels_last"):
            model.set_channels_last(bool(was_nhwc))
    h, w = graph.input_size
    names = list(classes) if classes else [str(i) for i in range(int(model.num_classes))]
    info = ExportInfo(
        mode=mode,
        input_size=(h, w),
        batch=batch,
        classes=names,
        score_thr=graph.score_thr,
        max_per_img=graph.max_per_img,
        outputs=outputs,
        config=config,
        pre_nms_topk=graph.pre_nms_topk,
        nms_iou=graph.nms_iou,
        input_layout="NHWC uint8 BGR" if mode == "end2end" else "NCHW float32 BGR 0..255",
    )
    proto.metadata_props.add(key=META_KEY, value=json.dumps(asdict(info)))
    onnx.checker.check_model(proto)

    def write(f: IO[Any]) -> None:
        f.write(proto.SerializeToString())

    atomic_write(out, write)
    return info

"""Int8 post-training quantization of an exported SSD: ONNX Runtime's ``quantize_static`` (QDQ, per-channel weights)
or NNCF on OpenVINO, with the decoding, priors and NMS left float32 (:mod:`ssdkit.deploy.float_region`).

Both take the float32 ONNX file that :func:`ssdkit.deploy.export.export_onnx` wrote and calibration batches of
exactly that file's input (end2end: uint8 ``[1, H, W, 3]`` BGR; raw: float32 ``[1, 3, H, W]`` BGR 0..255), and write
the int8 file atomically with the float file's ssdkit metadata plus ``precision='int8'`` and ``calibration``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import IO, Any

import numpy as np

from ssdkit.utils.atomic import atomic_write

from .export import META_KEY, ExportInfo, read_info, require
from .float_region import onnx_float_nodes, ov_float_nodes

#: backend -> the suffix of the file it writes
SUFFIXES = {"onnxruntime": ".onnx", "openvino": ".xml"}


def backend_for(out: str | os.PathLike, backend: str | None = None) -> str:
    """The quantization backend: ``backend`` when given, else from ``out``'s suffix (``.xml`` OpenVINO, ``.onnx``
    ONNX Runtime); a suffix that does not fit the backend is an error naming both."""
    suffix = Path(out).suffix.lower()
    if backend is None:
        found = [b for b, s in SUFFIXES.items() if s == suffix]
        if not found:
            raise ValueError(f"--out {out}: a .onnx (ONNX Runtime) or .xml (OpenVINO) file")
        return found[0]
    if backend not in SUFFIXES:
        raise ValueError(f"--backend {backend!r}; valid: {list(SUFFIXES)}")
    if suffix != SUFFIXES[backend]:
        raise ValueError(f"--out {out}: backend {backend} writes a {SUFFIXES[backend]} file")
    return backend


class _Reader:
    """ONNX Runtime's ``CalibrationDataReader`` over a list of input batches (``get_next`` -> ``{'images': x}``)."""

    def __init__(self, batches: Sequence[np.ndarray]) -> None:
        self.batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        x = next(self.batches, None)
        return None if x is None else {"images": x}


def quantize_onnxruntime(src: str | os.PathLike, batches: Sequence[np.ndarray]) -> tuple[Any, list[str]]:
    """``src`` (float32 ONNX) -> ``(quantized ModelProto, names of the nodes left float32)``: static QDQ, uint8
    activations, int8 per-channel weights, MinMax calibration on ``batches``. The nodes after the network are
    excluded, and a convolution's output is quantized only where a quantized node consumes it, so the head's
    outputs reach decoding in float32."""
    onnx = require("onnx", "int8 quantization")
    q = require("onnxruntime.quantization", "backend 'onnxruntime'")
    keep_float = onnx_float_nodes(onnx.load(str(src)))
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process: the export is already shape-inferred and folded
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "int8.onnx")
        try:
            _quantize_static(q, str(src), out, batches, keep_float)
        finally:
            root.setLevel(level)
        return onnx.load(out), keep_float


def _quantize_static(q: Any, src: str, out: str, batches: Sequence[np.ndarray], keep_float: list[str]) -> None:
    """ONNX Runtime's ``quantize_static`` with ssdkit's settings (see :func:`quantize_onnxruntime`)."""
    q.quantize_static(
        src,
        out,
        _Reader(batches),
        quant_format=q.QuantFormat.QDQ,
        per_channel=True,
        activation_type=q.QuantType.QUInt8,
        weight_type=q.QuantType.QInt8,
        nodes_to_exclude=keep_float,
        calibrate_method=q.CalibrationMethod.MinMax,
        extra_options={"OpTypesToExcludeOutputQuantization": ["Conv", "ConvTranspose", "MatMul", "Gemm"]},
    )


def quantize_openvino(
    src: str | os.PathLike,
    batches: Sequence[np.ndarray],
    accuracy: tuple[Sequence[Any], Callable[[Any, Any], tuple[float, None]], float] | None = None,
) -> tuple[Any, list[str]]:
    """``src`` (float32 ONNX) -> ``(quantized openvino.Model, names of the operations left float32)`` with
    ``nncf.quantize`` on ``batches``.

    ``accuracy = (items, validation_fn, max_drop)`` runs ``nncf.quantize_with_accuracy_control`` instead: ``items``
    are ``(graph input, anything)`` pairs of a held-out split, ``validation_fn(compiled_model, items) -> (metric,
    None)``; NNCF returns layers to float32 until the metric is within ``max_drop`` (absolute) of the float
    model's."""
    ov = require("openvino", "backend 'openvino'")
    nncf = require("nncf", "backend 'openvino'")
    nncf.set_log_level(logging.WARNING)  # not a line per operation it leaves alone
    model = ov.convert_model(str(src))
    keep_float = ov_float_nodes(model)
    scope = nncf.IgnoredScope(names=keep_float, validate=False)
    data = nncf.Dataset(list(batches))
    if accuracy is None:
        return nncf.quantize(model, data, subset_size=len(batches), ignored_scope=scope), keep_float
    items, validate, max_drop = accuracy
    quantized = nncf.quantize_with_accuracy_control(
        model,
        data,
        nncf.Dataset(list(items), lambda item: item[0]),
        validate,
        max_drop=max_drop,
        drop_type=nncf.DropType.ABSOLUTE,
        subset_size=len(batches),
        ignored_scope=scope,
    )
    return quantized, keep_float


def int8_info(src: str | os.PathLike, calibration: dict) -> ExportInfo:
    """The float file's :class:`ExportInfo` with ``precision='int8'`` and ``calibration``."""
    return replace(read_info(src), precision="int8", calibration=dict(calibration))


def write_onnx(proto: Any, out: str | os.PathLike, info: ExportInfo) -> None:
    """``proto`` with ``info`` as its ssdkit metadata, written atomically to ``out``."""
    for prop in [p for p in proto.metadata_props if p.key == META_KEY]:
        proto.metadata_props.remove(prop)
    proto.metadata_props.add(key=META_KEY, value=json.dumps(asdict(info)))

    def write(f: IO[Any]) -> None:
        f.write(proto.SerializeToString())

    atomic_write(out, write)


def write_openvino(model: Any, out: str | os.PathLike, info: ExportInfo) -> None:
    """``model`` with ``info`` in its ``rt_info`` under ``ssdkit``, as ``out`` (.xml) and its .bin beside it; each
    file replaced atomically, the weights first."""
    ov = require("openvino", "backend 'openvino'")
    model.set_rt_info(json.dumps(asdict(info)), [META_KEY])
    with tempfile.TemporaryDirectory() as tmp:
        xml = os.path.join(tmp, "model.xml")
        ov.save_model(model, xml, compress_to_fp16=False)
        for suffix in (".bin", ".xml"):
            _copy_atomic(Path(xml).with_suffix(suffix), Path(out).with_suffix(suffix))


def _copy_atomic(src: Path, dst: Path) -> None:
    """``src``'s bytes written atomically to ``dst``."""
    data = src.read_bytes()

    def write(f: IO[Any]) -> None:
        f.write(data)

    atomic_write(dst, write)

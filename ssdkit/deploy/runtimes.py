"""The CPU runtimes that run an exported file: ONNX Runtime, OpenVINO and OpenCV DNN, behind one call."""

from __future__ import annotations

import os

import numpy as np

from .export import ExportInfo, require

BACKENDS = ("onnxruntime", "openvino", "opencv")


class Runtime:
    """``runtime(images) -> list of output arrays`` (in ``info.outputs`` order) for one batch of graph inputs."""

    name = ""

    def __init__(self, path: str | os.PathLike, info: ExportInfo) -> None:
        self.path, self.info = str(path), info

    def __call__(self, images: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError


class OnnxRuntime(Runtime):
    """ONNX Runtime's CPU execution provider, all graph optimisations on."""

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike, info: ExportInfo, threads: int | None = None) -> None:
        super().__init__(path, info)
        ort = require("onnxruntime", "backend='onnxruntime'")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(self.path, opts, providers=["CPUExecutionProvider"])

    def __call__(self, images: np.ndarray) -> list[np.ndarray]:
        return list(self.session.run(self.info.outputs, {"images": images}))


class OpenVINORuntime(Runtime):
    """OpenVINO's CPU plugin, reading the ONNX file directly (latency hint). ``precision='f32'`` (default) keeps
    float32 throughout; OpenVINO's own default on CPUs with avx512_bf16 or AMX is bfloat16 (``precision=None``)."""

    name = "openvino"

    def __init__(
        self, path: str | os.PathLike, info: ExportInfo, threads: int | None = None, precision: str | None = "f32"
    ) -> None:
        super().__init__(path, info)
        ov = require("openvino", "backend='openvino'")
        config: dict = {"PERFORMANCE_HINT": "LATENCY"}
        if precision:
            config["INFERENCE_PRECISION_HINT"] = precision
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = ov.Core().compile_model(self.path, "CPU", config)
        self.request = self.compiled.create_infer_request()

    def __call__(self, images: np.ndarray) -> list[np.ndarray]:
        result = self.request.infer({"images": images})
        return [np.asarray(result[self.compiled.output(name)]) for name in self.info.outputs]


class OpenCVRuntime(Runtime):
    """OpenCV's DNN module (``cv2.dnn.readNetFromONNX``). It has no ``NonMaxSuppression``: only ``raw`` files run."""

    name = "opencv"

    def __init__(self, path: str | os.PathLike, info: ExportInfo, threads: int | None = None) -> None:
        super().__init__(path, info)
        if info.mode != "raw":
            raise ValueError(
                f"backend='opencv' runs raw exports only (OpenCV DNN has no NonMaxSuppression), and "
                f"'{path}' is {info.mode}: export it with --mode raw"
            )
        import cv2

        if threads:
            cv2.setNumThreads(threads)
        self.net = cv2.dnn.readNetFromONNX(self.path)

    def __call__(self, images: np.ndarray) -> list[np.ndarray]:
        self.net.setInput(np.ascontiguousarray(images, dtype=np.float32), "images")
        return [np.asarray(o) for o in self.net.forward(self.info.outputs)]


def make_runtime(
    backend: str, path: str | os.PathLike, info: ExportInfo, threads: int | None = None, precision: str | None = "f32"
) -> Runtime:
    """The runtime called ``backend`` (one of :data:`BACKENDS`) on the file at ``path``; ``precision`` is
    OpenVINO's inference precision (``'f32'``, or ``None`` for its own default); the others run float32."""
    kinds = {"onnxruntime": OnnxRuntime, "openvino": OpenVINORuntime, "opencv": OpenCVRuntime}
    if backend not in kinds:
        raise ValueError(
            f"backend {backend!r}; valid: 'pytorch' (a checkpoint) or an exported file's runtime: {list(BACKENDS)}"
        )
    if backend != "openvino" and str(path).lower().endswith(".xml"):
        raise ValueError(f"'{path}' is an OpenVINO model: run it with backend 'openvino'")
    if backend == "openvino":
        return OpenVINORuntime(path, info, threads, precision=precision)
    if precision != "f32":
        raise ValueError(f"precision={precision!r}: only backend 'openvino' takes another precision than 'f32'")
    return kinds[backend](path, info, threads)

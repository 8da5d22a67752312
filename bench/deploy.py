"""Latency of ssdkit's deployed runtimes against its PyTorch eager ``predict``, beside torchvision's SSDs, same run.

    python bench/deploy.py [--full] [--models mobilenet vgg16] [--batches 1 8] [--repeats 7] [--rounds 3] [--out r.json]

SSD300-MobileNet (``configs/ssd300_mobilenet.py``) and SSD300-VGG16 (``configs/ssd300_vgg16_voc0712.py``) are built
with random weights (seed 0) and exported once, with a fixed batch of each ``--batches`` size (no dynamic batch),
``end2end`` and ``raw``, to a temporary directory. Every path is timed on the same uint8 BGR images, already at the
network's input size (the resize is left out for every path), up to final detections per image (boxes, scores,
labels): input normalisation, network, decoding and NMS included. The paths:

- ``pytorch``: ssdkit eager float32, ``model.data_preprocessor`` + ``model(..., mode='predict')`` under
  ``torch.inference_mode`` (the memory format ``channels_last='auto'`` picks);
- ``onnxruntime``, ``openvino``: the ``end2end`` file (NMS in the graph) through ``DeployedDetector.detections``;
  OpenVINO at ssdkit's default precision, f32;
- ``openvino-default``: the same at OpenVINO's own default precision (bf16 on CPUs with avx512_bf16 or AMX: not
  float32, so not counted for the targets);
- ``onnxruntime-raw``, ``opencv``: the ``raw`` file + ssdkit's numpy NMS (``postprocess_raw``; OpenCV has no NMS);
- ``openvino-int8``, ``onnxruntime-int8``: the ``end2end`` file quantized to int8 (``ssdkit.deploy.quantize``: NNCF
  on OpenVINO, run with the f32 hint for what stays float; ONNX Runtime's static QDQ), calibrated on the
  benchmark's 8 images; decoding and NMS float32. Their ``net ms`` is the int8 ``raw`` file. The summary prints
  int8 / float32 latency per model and runtime;
- ``tv:ssdlite320_mobilenet_v3_large``, ``tv:ssd300_vgg16``: torchvision's peers (``weights=None,
  weights_backbone=None``, eval), ``model(list of float images / 255)``; ssdlite takes 320x320 images (its input
  size) from the same generator, and keeps up to 300 detections per image (the others 200).

``net ms`` is the network alone: for the exported paths the ``raw`` file's runtime call on float32 input
(normalisation, network, decoding), for PyTorch ``model(x, mode='tensor')`` on the normalised batch, for torchvision
backbone + head; the rest of a path's time is NMS and glue. ONNX Runtime, OpenVINO and OpenCV get PyTorch's thread
count. With random weights MobileNet's activations vanish (logits ~1e-14, so every score ties at 1/21 and each
runtime breaks the ties its own way); the BatchNorm statistics are therefore first set on the benchmark images
(``--no-calibrate`` skips it). Every path then keeps the 200-detection cap (printed as dets/img).

Each (model, path) runs in its own subprocess (peak RSS is its own, taken after the largest batch's timing), in
``--rounds`` interleaved rounds whose order rotates; each figure is the median over rounds of medians over
``--repeats`` (a batch-1 spread above 1.3x across rounds is flagged; the load average before and after is printed).
The ISA line shows which instruction sets each library uses: ``ONEDNN_MAX_CPU_ISA`` caps PyTorch's and OpenVINO's
oneDNN kernels, ``ATEN_CPU_CAPABILITY`` PyTorch's own; ONNX Runtime has no such switch; OpenCV's is
``OPENCV_CPU_DISABLE`` (e.g. ``AVX512-SKX``).
Each path's row is printed as soon as its last round is measured, the summary after. The default (SSD300-MobileNet,
batch 1, PyTorch eager, ONNX Runtime and OpenVINO beside torchvision's SSDLite320, one round of 3 repeats) is sized
for about 2 min under AVX2 emulation on a 2-core machine; ``--full`` runs both models, batches 1 and 8, every path, in 3
rounds of 7 repeats.
Targets, batch 1, same run: the fastest float32 ssdkit deploy path >= 2x PyTorch eager for SSD300-MobileNet and
>= 1.3x for SSD300-VGG16; OpenVINO int8 >= 1.5x its float32 for SSD300-MobileNet and SSDLite300-MobileNet
(``--models ssdlite``), >= 2x for SSD300-VGG16.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from common import best_of, emit, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]

# key: (config, label, target speed-up at batch 1 (None: none stated), torchvision peer)
MODELS = {
    "mobilenet": ("ssd300_mobilenet", "SSD300-MobileNet", 2.0, "tv:ssdlite320_mobilenet_v3_large"),
    "vgg16": ("ssd300_vgg16_voc0712", "SSD300-VGG16", 1.3, "tv:ssd300_vgg16"),
    "ssdlite": ("ssdlite300_mobilenet", "SSDLite300-MobileNet", None, "tv:ssdlite320_mobilenet_v3_large"),
}
# int8 path: (its float32 path, file suffix); target int8 / float32 speed-up at batch 1, OpenVINO, by model
INT8 = {"openvino-int8": ("openvino", ".xml"), "onnxruntime-int8": ("onnxruntime", ".onnx")}
INT8_TARGETS = {"mobilenet": 1.5, "ssdlite": 1.5, "vgg16": 2.0}
# path: (backend, export mode, OpenVINO precision, label)
RUNTIMES = {
    "onnxruntime": ("onnxruntime", "end2end", None, "onnxruntime (end2end, NMS in graph)"),
    "onnxruntime-raw": ("onnxruntime", "raw", None, "onnxruntime (raw + numpy NMS)"),
    "openvino": ("openvino", "end2end", "f32", "openvino (end2end, f32)"),
    "openvino-default": ("openvino", "end2end", None, "openvino (end2end, OV default precision)"),
    "opencv": ("opencv", "raw", None, "opencv dnn (raw + numpy NMS)"),
    "openvino-int8": ("openvino", "end2end", "f32", "openvino int8 (end2end, NNCF; rest f32)"),
    "onnxruntime-int8": ("onnxruntime", "end2end", None, "onnxruntime int8 (end2end, QDQ)"),
}
PATHS = ["pytorch", *RUNTIMES]
LABELS = {"pytorch": "pytorch eager (f32)", **{p: r[3] for p, r in RUNTIMES.items()}}
FLOAT32_DEPLOY = ["onnxruntime", "onnxruntime-raw", "openvino", "opencv"]  # what the targets compare


def images_for(size: int, n: int) -> torch.Tensor:
    """``n`` uint8 ``[3, size, size]`` images, the same for every path of one size (seed 0)."""
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=gen)


def calibrate_bn(model: torch.nn.Module, run: Callable[[], object]) -> int:
    """Set every BatchNorm's running statistics to those of ``run()``'s batch (train mode, cumulative average)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    with torch.no_grad():
        run()
    model.eval()
    return len(bns)


def build_ssdkit(key: str, state: str | None = None):
    from ssdkit.apis.inference import init_detector

    model = init_detector(str(ROOT / "configs" / f"{MODELS[key][0]}.py"))
    if state:
        model.load_state_dict(torch.load(state, map_location="cpu", weights_only=True))
    return model


def quantize_exports(key: str, b: int, tmp: str, size: int, paths: list[str]) -> None:
    """The int8 files of the exports of ``key`` at batch ``b`` for the int8 ``paths``, calibrated on the benchmark
    images (8, in batches of ``b``): ``<key>_<mode>_b<b>_int8<suffix>``; OpenVINO's end2end from the export without
    the NMS prefix (``_all``), as ``tools/quantize.py`` makes them."""
    from ssdkit.deploy import quantize as q

    images = images_for(size, max(8, b))
    for path in [p for p in paths if p in INT8]:
        backend, suffix = RUNTIMES[path][0], INT8[path][1]
        for mode in ("end2end", "raw"):
            nncf = mode == "end2end" and backend == "openvino"  # NNCF 3.4 fails on the NMS prefix's If
            src = os.path.join(tmp, f"{key}_{mode}_b{b}{'_all' if nncf else ''}.onnx")
            x = images.permute(0, 2, 3, 1).numpy() if mode == "end2end" else images.float().numpy()
            batches = [x[i : i + b] for i in range(0, len(x) - b + 1, b)]
            out, info = os.path.join(tmp, f"{key}_{mode}_b{b}_int8{suffix}"), q.int8_info(src, dict(images=len(x)))
            if backend == "onnxruntime":
                q.write_onnx(q.quantize_onnxruntime(src, batches)[0], out, info)
            else:
                q.write_openvino(q.quantize_openvino(src, batches)[0], out, info)


def prepare(keys: list[str], batches: list[int], tmp: str, calibrate: bool, paths: list[str]) -> None:
    """Random weights (seed 0, BatchNorm set on the images) saved to ``tmp``, the exports of each batch size and
    their int8 files for the int8 ``paths``."""
    from ssdkit.deploy.export import export_onnx, input_size_of

    for key in keys:
        torch.manual_seed(0)
        model = build_ssdkit(key)
        size = input_size_of(model.cfg)
        if calibrate:
            x = model.data_preprocessor(dict(inputs=list(images_for(size[0], 8)), data_samples=None), False)["inputs"]
            calibrate_bn(model, lambda model=model, x=x: model.head(model.extract_feats(x)))
        torch.save(model.state_dict(), os.path.join(tmp, f"{key}.pt"))
        for b in batches:
            for mode in ("end2end", "raw"):
                export_onnx(model, os.path.join(tmp, f"{key}_{mode}_b{b}.onnx"), size, mode=mode, batch=b)
            if "openvino-int8" in paths:  # what tools/quantize.py gives NNCF: NMS on all candidates, no If
                all_nms = os.path.join(tmp, f"{key}_end2end_b{b}_all.onnx")
                export_onnx(model, all_nms, size, mode="end2end", batch=b, nms_prefix=False)
            quantize_exports(key, b, tmp, size[0], paths)


def torchvision_runner(arch: str, calibrate: bool):
    """torchvision's ``arch`` (random weights, seed 0) as ``(size, setup, note)`` (see :func:`runner`)."""
    import torchvision

    size = 320 if "320" in arch else 300
    torch.manual_seed(0)
    model = getattr(torchvision.models.detection, arch)(weights=None, weights_backbone=None).eval()

    def rgb(images) -> list[torch.Tensor]:  # BGR uint8 -> RGB float 0..1, as torchvision's transform expects
        return [im.flip(0).float().div_(255) for im in images]

    def net_of(x: torch.Tensor):
        return lambda: model.head(list(model.backbone(x).values()))

    if calibrate:
        calibrate_bn(model, net_of(model.transform(rgb(images_for(size, 8)))[0].tensors))

    def setup(images):
        def detect():
            return [d["scores"] for d in model(rgb(images))]

        return detect, lambda: net_of(model.transform(rgb(images))[0].tensors)

    return size, setup, ""


def eager_runner(name: str, tmp: str):
    """ssdkit's PyTorch eager ``predict`` of model ``name`` (weights saved in ``tmp``) as ``(size, setup, note)``."""
    from ssdkit.deploy.export import input_size_of
    from ssdkit.structures import DetSample

    model = build_ssdkit(name, os.path.join(tmp, f"{name}.pt"))
    hw = input_size_of(model.cfg)

    def setup(images):
        def detect():
            samples = [DetSample(metainfo=dict(img_shape=hw, ori_shape=hw)) for _ in images]
            data = model.data_preprocessor(dict(inputs=list(images), data_samples=samples), False)
            return [s.pred_instances.scores for s in model(**data, mode="predict")]

        def make_net():
            x = model.data_preprocessor(dict(inputs=list(images), data_samples=None), False)["inputs"]
            return lambda: model(x, mode="tensor")

        return detect, make_net

    return hw[0], setup, "NHWC" if model.channels_last else "NCHW"


def deployed_runner(name: str, path: str, tmp: str, threads: int, cache: dict):
    """The exported files of model ``name`` on the runtime of ``path`` (:data:`RUNTIMES`) as ``(size, setup, note)``;
    OpenVINO's inference precision is recorded in ``cache['note']``."""
    from ssdkit.deploy.detector import DeployedDetector
    from ssdkit.deploy.export import read_info
    from ssdkit.deploy.runtimes import make_runtime

    backend, mode, precision, _ = RUNTIMES[path]
    precision = precision if backend == "openvino" else "f32"  # the others run float32 only
    tail = f"_int8{INT8[path][1]}" if path in INT8 else ".onnx"

    def setup(images):
        b = images.shape[0]
        file = os.path.join(tmp, f"{name}_{mode}_b{b}{tail}")
        det = DeployedDetector(file, backend, threads=threads, precision=precision)
        if backend == "openvino":
            cache["note"] = det.runtime.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()

        def detect():
            return [d["scores"] for d in det.detections(images)]

        def make_net():
            raw_file = os.path.join(tmp, f"{name}_raw_b{b}{tail}")
            raw = (
                det.runtime
                if mode == "raw"
                else make_runtime(backend, raw_file, read_info(raw_file), threads, precision)
            )
            x = images.float().numpy()
            return lambda: raw(x)

        return detect, make_net

    return read_info(next(Path(tmp).glob(f"{name}_{mode}_b*.onnx"))).input_size[0], setup, ""


def runner(name: str, path: str, tmp: str, threads: int, calibrate: bool, cache: dict):
    """``(size, setup(images) -> (detect, make_net), note)``: ``detect()`` -> per-image score tensors or arrays,
    ``make_net()`` -> a call of the network alone on that batch."""
    if name.startswith("tv:"):
        return torchvision_runner(name[3:], calibrate)
    if path == "pytorch":
        return eager_runner(name, tmp)
    return deployed_runner(name, path, tmp, threads, cache)


def worker(name: str, path: str, tmp: str, batches: list[int], repeats: int, threads: int, calibrate: bool) -> dict:
    torch.set_num_threads(threads)
    cache: dict = {}
    for module in ("ssdkit.apis.inference", "ssdkit.deploy.detector"):  # what every path imports: the baseline
        importlib.import_module(module)
    base = peak_rss_mb("VmRSS")
    size, setup, note = runner(name, path, tmp, threads, calibrate, cache)
    images = images_for(size, max(batches))
    out: dict = dict(name=name, path=path, size=size)
    for i, b in enumerate(sorted(batches, reverse=True)):  # the largest batch first: the peak RSS is its
        n = repeats if b == 1 else max(3, repeats // 2)
        with torch.inference_mode():
            detect, make_net = setup(images[:b])
            dets = detect()
            out[f"b{b}"] = best_of(detect, n, 1)
            if i == 0:
                out["peak_mb"], out["own_mb"], out["peak_batch"] = peak_rss_mb("VmHWM"), peak_rss_mb("VmHWM") - base, b
            net = make_net()
            out[f"b{b}_net"] = best_of(net, n, 1)
        out[f"dets_b{b}"] = [int(len(d)) for d in dets]
        out["top"] = float(max(float(d.max()) for d in dets[:1]))
    out["note"] = cache.get("note", note)
    return out


def combine(runs: list[dict], first: str) -> dict:
    """Per-round results of one path -> medians of the latencies, the largest peak RSS, the spread of ``first``."""
    out = dict(runs[0])
    for key in [k for k in out if k.startswith("b") and k[1].isdigit()]:
        out[key] = statistics.median(r[key] for r in runs)
    out["peak_mb"] = max(r["peak_mb"] for r in runs)
    out["own_mb"] = max(r["own_mb"] for r in runs)
    out["spread"] = max(r[first] for r in runs) / min(r[first] for r in runs)
    return out


def isa_line(tmp: str, key: str, batch: int, threads: int) -> str:
    """Which kernels each library picks here: OpenVINO's convolution kernels (f32 and default), OpenCV's dispatch."""
    import cv2
    import numpy as np
    import onnxruntime
    import openvino as ov

    parts = []
    file = os.path.join(tmp, f"{key}_raw_b{batch}.onnx")
    for precision in ("f32", None):
        config: dict = {"PERF_COUNT": True, "INFERENCE_NUM_THREADS": threads}
        if precision:
            config["INFERENCE_PRECISION_HINT"] = precision
        try:
            compiled = ov.Core().compile_model(file, "CPU", config)
            request = compiled.create_infer_request()
            request.infer({"images": np.zeros((batch, 3, 300, 300), np.float32)})
            kinds = {p.exec_type for p in request.get_profiling_info() if p.node_type == "Convolution"}
            parts.append(f"openvino {ov.__version__.split('-')[0]} {precision or 'default'}: {'/'.join(sorted(kinds))}")
        except RuntimeError as err:
            parts.append(f"openvino {precision or 'default'}: compile FAILED ({str(err).strip().splitlines()[-1]})")
    int8 = os.path.join(tmp, f"{key}_raw_b{batch}_int8.xml")
    if os.path.exists(int8):
        config = {"PERF_COUNT": True, "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"}
        request = ov.Core().compile_model(int8, "CPU", config).create_infer_request()
        request.infer({"images": np.zeros((batch, 3, 300, 300), np.float32)})
        kinds = {p.exec_type for p in request.get_profiling_info() if p.node_type == "Convolution"}
        parts.append(f"openvino int8: {'/'.join(sorted(kinds))}")
    parts.append(f"opencv {cv2.__version__} dispatch: {cv2.getCPUFeaturesLine()} (* used, ? disabled)")
    parts.append(f"onnxruntime {onnxruntime.__version__}: MLAS picks kernels by CPUID (no ISA cap)")
    return "; ".join(parts)


QUICK = dict(models=["mobilenet"], batches=[1], repeats=3, rounds=1, paths=["pytorch", "onnxruntime", "openvino"])
FULL = dict(models=list(MODELS), batches=[1, 8], repeats=7, rounds=3, paths=PATHS)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help=f"{FULL} (default {QUICK})")
    ap.add_argument("--models", nargs="+", choices=list(MODELS))
    ap.add_argument("--batches", nargs="+", type=int)
    ap.add_argument("--repeats", type=int, help="timed calls at batch 1 (batch > 1: max(3, half))")
    ap.add_argument("--rounds", type=int, help="interleaved rounds; figures are medians over rounds")
    ap.add_argument("--paths", nargs="+", choices=PATHS, help="ssdkit paths to time")
    ap.add_argument("--no-peers", action="store_true", help="leave out torchvision's models")
    ap.add_argument("--no-calibrate", action="store_true", help="keep BatchNorm's initial statistics")
    ap.add_argument("--out", help="also write the results as JSON here")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    for key, value in (FULL if args.full else QUICK).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def worker_cmd(job: tuple[str, str], tmp: str, args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, __file__, "--worker", job[0], job[1], tmp, "--batches", *map(str, args.batches)]
    cmd += ["--repeats", str(args.repeats), "--threads", str(args.threads)]
    return cmd + (["--no-calibrate"] if args.no_calibrate else [])


def measure(args: argparse.Namespace, tmp: str, jobs: list[tuple[str, str]], capped: bool) -> tuple[dict, dict]:
    """Every job in its own subprocess, ``args.rounds`` rotated rounds; each row printed when its last round ends.
    Returns the combined results and the failures, by job."""
    runs: dict[tuple[str, str], list[dict]] = {}
    failed: dict[tuple[str, str], str] = {}
    results: dict[tuple[str, str], dict] = {}
    emit(header(sorted(args.batches)))
    for r in range(args.rounds):
        for job in jobs[r % len(jobs) :] + jobs[: r % len(jobs)]:  # rotate: no job always runs first
            proc = subprocess.run(worker_cmd(job, tmp, args), capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
                failed[job] = lines[-1] if lines else f"exit {proc.returncode}"
                emit(failure_row(job, failed[job], capped))
                continue
            runs.setdefault(job, []).append(json.loads(proc.stdout.strip().splitlines()[-1]))
            if len(runs[job]) == args.rounds:
                results[job] = combine(runs[job], f"b{min(args.batches)}")
                eager = results.get((model_of(job), "pytorch"))
                emit(result_row(job, results[job], eager, sorted(args.batches)))
    return results, failed


def model_of(job: tuple[str, str]) -> str:
    """The bench model key of a job (a torchvision peer's: the model it is the peer of)."""
    return next(k for k, m in MODELS.items() if job[0] in (k, m[3]))


def header(bs: list[int]) -> str:
    head = "".join(f"{f'b{b} ms':>9s}{'net':>8s}" for b in bs)
    return (
        f"{'model':22s}{'path':44s}{head}{f'img/s b{bs[-1]}':>10s}{'dets/img':>9s}{'top score':>10s}"
        f"{'peak MB':>8s}{'own MB':>7s}" + "".join(f"{f'x b{b}':>7s}" for b in bs)
    )


def failure_row(job: tuple[str, str], why: str, capped: bool) -> str:
    label = job[0] if job[1] == "torchvision" else LABELS[job[1]]
    hint = (
        " (OpenVINO picks bf16 from CPUID, but its oneDNN, capped by ONEDNN_MAX_CPU_ISA, has no bf16 kernels)"
        if job[1] == "openvino-default" and capped
        else ""
    )
    return f"{MODELS[model_of(job)][1]:22s}{label:44s}FAILED: {why[:160]}{hint}"


def result_row(job: tuple[str, str], res: dict, eager: dict | None, bs: list[int]) -> str:
    """One path's row; ``x bN`` against PyTorch eager when it was measured before."""
    label = job[0] if job[1] == "torchvision" else LABELS[job[1]]
    if job[1] == "openvino-default":
        label = f"openvino (end2end, OV default: {res['note']})"
    elif job[1] == "pytorch":
        label = f"pytorch eager (f32, {res['note']})"
    cells = "".join(f"{res[f'b{b}'] * 1e3:9.1f}{res[f'b{b}_net'] * 1e3:8.1f}" for b in bs)
    dets = sorted({d for b in bs for d in res[f"dets_b{b}"]})
    dets_s = str(dets[0]) if len(dets) == 1 else f"{dets[0]}-{dets[-1]}"
    speed = "".join(f"{eager[f'b{b}'] / res[f'b{b}']:7.2f}" if eager else f"{'':7s}" for b in bs)
    return (
        f"{MODELS[model_of(job)][1]:22s}{label:44s}{cells}{bs[-1] / res[f'b{bs[-1]}']:10.1f}{dets_s:>9s}"
        f"{res['top']:10.4f}{res['peak_mb']:8.0f}{res['own_mb']:7.0f}{speed}"
        + (f"  noisy: b{bs[0]} spread {res['spread']:.2f}x over rounds" if res["spread"] > 1.3 else "")
    )


def uncapped_paths(capped: list[str]) -> set[str]:
    """Paths the ISA variables leave at the CPU's full ISA: ONNX Runtime always, OpenCV unless OPENCV_CPU_DISABLE."""
    import cv2

    if not capped:
        return set()
    ort = {"onnxruntime", "onnxruntime-raw", "onnxruntime-int8"}
    return ort | ({"opencv"} if "*AVX512" in cv2.getCPUFeaturesLine() else set())


def target_lines(key: str, b: int, results: dict, uncapped: set[str]) -> list[str]:
    """The fastest float32 deploy path against PyTorch eager at batch ``b`` (and among the ISA-capped paths), and
    torchvision's peer and OpenVINO's default precision beside it."""
    _, name, target, peer = MODELS[key]
    eager = results.get((key, "pytorch"))
    if not eager:
        return []
    cands = {p: results[(key, p)] for p in FLOAT32_DEPLOY if (key, p) in results}
    lines = []
    for which, pool in (("", cands), (" the ISA variables cap", {p: cands[p] for p in cands if p not in uncapped})):
        if not pool or (which and len(pool) == len(cands)):
            continue
        best = min(pool, key=lambda p, pool=pool: pool[p][f"b{b}"])
        ratio = eager[f"b{b}"] / pool[best][f"b{b}"]
        verdict = (
            f"(target >= {target}x): {'PASS' if ratio >= target else 'MISS'}"
            if b == 1 and target
            else "(no target here)"
        )
        caveat = " [not capped by the ISA variables: not an AVX2 figure]" if best in uncapped else ""
        lines.append(
            f"{'    ' if which else ''}{name} b{b}: fastest float32 deploy path{which} {LABELS[best]} "
            f"{pool[best][f'b{b}'] * 1e3:.1f} ms = {ratio:.2f}x PyTorch eager {eager[f'b{b}'] * 1e3:.1f} ms "
            f"{verdict}{caveat}"
        )
    tv = results.get((peer, "torchvision"))
    if tv:
        lines.append(
            f"    {name} b{b}: torchvision {peer[3:]} / PyTorch eager latency {tv[f'b{b}'] / eager[f'b{b}']:.2f}x"
        )
    bf = results.get((key, "openvino-default"))
    if bf:
        r = eager[f"b{b}"] / bf[f"b{b}"]
        lines.append(
            f"    OpenVINO at its default precision ({bf['note']}, not float32): {bf[f'b{b}'] * 1e3:.1f} ms = {r:.2f}x"
            + (f" ({'meets' if r >= target else 'misses'} {target}x, not counted)" if b == 1 and target else "")
        )
    return lines


def int8_lines(key: str, b: int, results: dict, uncapped: set[str]) -> list[str]:
    """Per runtime, the int8 file's latency against the float32 file's (same images, threads, batch ``b``)."""
    lines = []
    for path, (float_path, _) in INT8.items():
        q, f = results.get((key, path)), results.get((key, float_path))
        if not (q and f):
            continue
        ratio = f[f"b{b}"] / q[f"b{b}"]
        target = INT8_TARGETS.get(key) if (b == 1 and float_path == "openvino") else None
        verdict = f" (target >= {target}x: {'PASS' if ratio >= target else 'MISS'})" if target else ""
        caveat = " [not capped by the ISA variables]" if path in uncapped else ""
        lines.append(
            f"{MODELS[key][1]} b{b} {float_path}: int8 {q[f'b{b}'] * 1e3:.1f} ms (net {q[f'b{b}_net'] * 1e3:.1f}) vs "
            f"float32 {f[f'b{b}'] * 1e3:.1f} ms (net {f[f'b{b}_net'] * 1e3:.1f}) = {ratio:.2f}x "
            f"(net {f[f'b{b}_net'] / q[f'b{b}_net']:.2f}x){verdict}{caveat}"
        )
    return lines


def main() -> None:
    args = parse_args()
    if args.worker:
        name, path, tmp = args.worker
        print(json.dumps(worker(name, path, tmp, args.batches, args.repeats, args.threads, not args.no_calibrate)))
        return
    from ssdkit.utils.cpu import ISA_VARS, describe_cpu

    load_before = os.getloadavg()
    capped = [v for v in ISA_VARS if os.environ.get(v)]
    uncapped = uncapped_paths(capped)
    jobs = [(key, path) for key in args.models for path in args.paths]
    peers = [] if args.no_peers else [(MODELS[key][3], "torchvision") for key in args.models]
    jobs += list(dict.fromkeys(peers))  # SSD300-MobileNet and SSDLite300 share theirs
    emit(describe_cpu())
    with tempfile.TemporaryDirectory(prefix="ssdkit_deploy_bench_") as tmp:
        prepare(args.models, args.batches, tmp, not args.no_calibrate, args.paths)
        isa = isa_line(tmp, args.models[0], min(args.batches), args.threads)
        emit(f"ISA: {isa}")
        if uncapped:
            emit(
                f"NOTE: {' '.join(capped)} cap PyTorch and OpenVINO only; these paths still use the full ISA "
                f"(AVX-512 here): {', '.join(sorted(uncapped))}"
            )
        results, failed = measure(args, tmp, jobs, bool(capped))
    emit(
        f"torch {torch.__version__}; {args.threads} threads for every runtime; fixed-batch ONNX exports (opset 18) "
        f"per batch size; images at the input size (resize excluded); BatchNorm statistics "
        f"{'set on the images' if not args.no_calibrate else 'as initialised'}; {args.rounds} rounds x "
        f"{args.repeats} repeats; load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    emit(
        "x bN: PyTorch eager latency / the path's (higher is faster; blank when eager was measured later); net: the "
        "network alone (see the docstring); own MB: the worker's peak RSS (at the largest batch) over its RSS after "
        "importing torch and ssdkit, i.e. model, runtime library and buffers"
    )
    for key in args.models:
        for b in sorted(args.batches):
            for line in target_lines(key, b, results, uncapped) + int8_lines(key, b, results, uncapped):
                emit(line)
    if args.out:
        write_json(args.out, describe_cpu(), isa, args.threads, failed, results)


def write_json(out: str, cpu: str, isa: str, threads: int, failed: dict, results: dict) -> None:
    record = dict(
        cpu=cpu,
        isa=isa,
        threads=threads,
        failed={"|".join(k): v for k, v in failed.items()},
        results=[dict(v, job=list(k)) for k, v in results.items()],
    )
    with open(out, "w") as f:
        json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()

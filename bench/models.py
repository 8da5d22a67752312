"""Whole-``predict`` latency and peak memory per config, beside torchvision's SSD peers, same run.

    python bench/models.py [--full] [--configs ssd300_vgg16_voc0712 ssd300_mobilenet ...] [--repeats 5]

Each model runs in its own subprocess (so peak RSS is its own): uint8 images in, detections out
(preprocessing, network and NMS included), batch 1 (and batch 8 with ``--full``), median of ``--repeats``.
The models run in ``--rounds`` interleaved rounds and each figure is the median over rounds, so a background job that
overlaps one subprocess cannot double one model's figure (a round-to-round spread above 1.3x is flagged,
and the load average before and after is printed).
torchvision's ``ssd300_vgg16`` and ``ssdlite320_mobilenet_v3_large`` (random weights, the same
images) are measured in the same run. Achieved GFLOP/s (the model's FLOPs / latency) is printed
beside the machine's dense 3x3-conv GFLOP/s measured in the same run.
Each model's row is printed as soon as its last round is measured. The default (SSD300-VGG16 COCO and
SSD300-MobileNet beside torchvision's two, batch 1, one round of 3 repeats) is sized for about 2 min under AVX2
emulation on a 2-core machine; ``--full`` times every config at batches 1 and 8 in 3 rounds of 5 repeats.
Targets: SSD300-VGG16 <= 0.9x torchvision ssd300_vgg16's latency; SSD300-MobileNet >= 5x faster
than SSD300-VGG16; Feature-Fused sum achieves >= 0.9x concat's GFLOP/s (costs what its FLOPs say).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import torch

from common import best_of, emit, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]

PEERS = ["tv:ssd300_vgg16", "tv:ssdlite320_mobilenet_v3_large"]
DEFAULT_CONFIGS = [
    "ssd300_vgg16_coco",
    "ssd300_vgg16_voc0712",
    "ssd300_mobilenet",
    "ssdlite300_mobilenet",
    "ffssd300_concat_vgg16_voc0712",
    "ffssd300_sum_vgg16_voc0712",
    "ssd512_vgg16_voc0712",
]


def dense_conv_gflops() -> float:
    conv = torch.nn.Conv2d(256, 256, 3, padding=1).eval()
    x = torch.randn(8, 256, 38, 38)
    flops = 2 * 8 * 256 * 256 * 9 * 38 * 38
    with torch.inference_mode():
        return flops / best_of(lambda: conv(x), 5, 1) / 1e9


def build(name: str):
    """``(predict(images) -> detections, flops of one image, input size)``."""
    if name.startswith("tv:"):
        import torchvision

        arch = name[3:]
        model = getattr(torchvision.models.detection, arch)(weights=None, weights_backbone=None).eval()
        size = 320 if "320" in arch else 300

        def predict(images):
            return model([im.float().div_(255) for im in images])

        class Net(torch.nn.Module):  # backbone + head, what FLOPs are counted on
            def __init__(self):
                super().__init__()
                self.backbone, self.head = model.backbone, model.head

            def forward(self, x):
                return self.head(list(self.backbone(x).values()))

        from ssdkit.apis.model_info import count_flops

        return predict, count_flops(Net(), torch.randn(1, 3, size, size)), size

    from mmengine import Config

    import ssdkit.models  # noqa: F401
    from ssdkit.apis.model_info import count_flops
    from ssdkit.deploy.export import input_size_of
    from ssdkit.registry import DETECTORS
    from ssdkit.structures import DetSample

    cfg = Config.fromfile(str(ROOT / "configs" / f"{name}.py"))
    model = DETECTORS.build(cfg.model).eval()
    size = input_size_of(cfg)[0]
    flops = count_flops(model, torch.randn(1, 3, size, size))

    def predict(images):
        samples = [DetSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size))) for _ in images]
        data = model.data_preprocessor(dict(inputs=list(images), data_samples=samples), False)
        return model(**data, mode="predict")

    return predict, flops, size


def combine(runs: list[dict]) -> dict:
    """Per-round results of one model -> medians of the latencies, the largest peak RSS, the b1 spread."""
    out = dict(runs[0])
    for key in [k for k in out if k in ("b1", "b8")]:
        out[key] = statistics.median(r[key] for r in runs)
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    out["spread"] = max(r["b1"] for r in runs) / min(r["b1"] for r in runs)
    return out


def worker(name: str, repeats: int, full: bool) -> dict:
    predict, flops, size = build(name)
    gen = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=gen) for _ in range(8)]
    out = dict(name=name, size=size, flops=flops)
    with torch.inference_mode():
        out["b1"] = best_of(lambda: predict(images[:1]), repeats, 1)
        if full:
            out["b8"] = best_of(lambda: predict(images), max(2, repeats // 2), 1)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


QUICK_CONFIGS = ["ssd300_vgg16_coco", "ssd300_mobilenet"]


def row(r: dict) -> str:
    gf = r["flops"] / 1e9 if r["flops"] else float("nan")
    return (
        f"{r['name']:34s}{r['size']:6d}{r['b1'] * 1e3:9.1f}{r.get('b8', math.nan) * 1e3:9.1f}"
        f"{8 / r.get('b8', math.nan):9.1f}"
        f"{gf:8.1f}{gf / r['b1']:9.1f}{r['peak_rss_mb']:9.0f}"
        + (f"  noisy: b1 spread {r['spread']:.2f}x over rounds" if r["spread"] > 1.3 else "")
    )


def measure(names: list[str], rounds: int, repeats: int, full: bool) -> dict[str, dict]:
    """Every model in its own subprocess, ``rounds`` interleaved rounds; each row printed when its last round ends."""
    emit(
        f"{'model':34s}{'input':>6s}{'b1 ms':>9s}{'b8 ms':>9s}{'img/s b8':>9s}{'GFLOPs':>8s}{'GFLOP/s':>9s}"
        f"{'peak MB':>9s}"
    )
    runs: dict[str, list[dict]] = {}
    results = {}
    for r in range(rounds):
        for name in names:
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", name, "--repeats", str(repeats)] + (["--full"] if full else []),
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                emit(f"{name}: failed\n{proc.stderr[-2000:]}")
                continue
            runs.setdefault(name, []).append(json.loads(proc.stdout.strip().splitlines()[-1]))
            if r == rounds - 1:
                results[name] = combine(runs[name])
                emit(row(results[name]))
    return results


def ratios(results: dict[str, dict]) -> None:
    """The targets' ratios, from the models measured."""
    tv = results.get("tv:ssd300_vgg16")
    vgg = results.get("ssd300_vgg16_coco")  # the same network as torchvision's (80 + 1 vs 91 classes)
    if tv and vgg:
        for b in [k for k in ("b1", "b8") if k in tv]:
            emit(f"SSD300-VGG16 COCO / torchvision ssd300_vgg16 latency, {b}: {vgg[b] / tv[b]:.2f}x (target <= 0.9x)")
    mob, lite = results.get("ssd300_mobilenet"), results.get("tv:ssdlite320_mobilenet_v3_large")
    if mob and lite:
        emit(f"SSD300-MobileNet / torchvision ssdlite320_mobilenet_v3_large latency, b1: {mob['b1'] / lite['b1']:.2f}x")
    fsum, fcat = results.get("ffssd300_sum_vgg16_voc0712"), results.get("ffssd300_concat_vgg16_voc0712")
    if fsum and fcat:  # the paper: sum 43 FPS, concat 40 (Cao et al. 2017, Table 4)
        rate = [(fsum["flops"] / fsum[b]) / (fcat["flops"] / fcat[b]) for b in ("b1", "b8") if b in fsum]
        emit(
            f"Feature-Fused SSD sum / concat latency, b1: {fsum['b1'] / fcat['b1']:.2f}x "
            f"(FLOPs {fsum['flops'] / fcat['flops']:.2f}x); achieved GFLOP/s sum / concat, b1 and b8: "
            f"{', '.join(f'{x:.2f}x' for x in rate)} (target >= 0.9x: each costs what its FLOPs say)"
        )
    vgg = results.get("ssd300_vgg16_voc0712") or results.get("ssd300_vgg16_coco")
    if vgg and mob:
        for b in [k for k in ("b1", "b8") if k in mob]:
            emit(f"SSD300-MobileNet speed-up over {vgg['name']}, {b}: {vgg[b] / mob[b]:.1f}x (target >= 5x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="every config, 3 rounds of 5 repeats")
    ap.add_argument("--configs", nargs="+", help=f"default: {QUICK_CONFIGS} ({DEFAULT_CONFIGS} with --full)")
    ap.add_argument("--repeats", type=int, help="timed calls at batch 1 (default 3; 5 with --full)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds; figures are medians over rounds (1; 3 --full)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    repeats = args.repeats or (5 if args.full else 3)
    if args.worker:
        print(json.dumps(worker(args.worker, repeats, args.full)))
        return
    from ssdkit.utils.cpu import describe_cpu

    rounds = args.rounds or (3 if args.full else 1)
    load_before = os.getloadavg()
    emit(describe_cpu())
    emit(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"dense 3x3 conv: {dense_conv_gflops():.1f} GFLOP/s"
    )
    names = PEERS + (args.configs or (DEFAULT_CONFIGS if args.full else QUICK_CONFIGS))
    results = measure(names, rounds, repeats, args.full)
    ratios(results)
    emit(
        f"{rounds} rounds of {repeats} repeats; "
        f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    )


if __name__ == "__main__":
    main()

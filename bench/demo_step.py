"""The demo's training step: its time and where it goes, beside torchvision's SSDLite on the same batch.

    python bench/demo_step.py [--config configs/demo/ssdlite224_mobilenet_demo.py] [--steps 10] [--no-peer]

Builds the config's detector and optimiser wrapper as ``tools/train.py`` does (``build_runner``: the
backbone's weights, bfloat16 where the CPU has it), and times ``train_step`` on a fixed batch of the
config's batch size and input size (uint8 images, three boxes each). Prints the CPU line, each step as it
is measured, the median, the profile's shares by kind of op (torch profiler, self CPU time of one step),
and torchvision's ``ssdlite320_mobilenet_v3_large`` (no weights) trained on the same batch in the same
process, with the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from common import emit, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "demo" / "ssdlite224_mobilenet_demo.py"
#: op name fragments -> the share they are reported under (first match wins)
KINDS = [
    ("convolution backward", ("convolution_backward",)),
    ("convolution forward", ("mkldnn_convolution", "_convolution", "conv2d", "convolution")),
    ("batch norm", ("batch_norm",)),
    ("activations", ("hardtanh", "relu", "clamp", "hardswish", "threshold")),
    ("copies", ("copy_", "to_copy", "contiguous", "clone", "cat")),
    ("optimizer", ("_foreach", "sgd", "add_", "mul_", "lerp")),
]


def timed(step: Callable[[], object], steps: int, label: str) -> float:
    """Run ``step`` once to warm up, then ``steps`` times, printing each; the median in seconds."""
    step()
    times = []
    for i in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
        emit(f"  {label} step {i + 1}/{steps}: {times[-1]:.3f} s")
    return statistics.median(times)


def shares(step: Callable[[], object]) -> list[tuple[str, float]]:
    """Self-CPU-time shares of one ``step`` by kind of op (``KINDS``; the rest as 'other')."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    totals: dict[str, float] = {}
    for event in prof.key_averages():
        name = event.key.lower()
        kind = next((k for k, frags in KINDS if any(f in name for f in frags)), "other")
        totals[kind] = totals.get(kind, 0.0) + event.self_cpu_time_total
    whole = sum(totals.values()) or 1.0
    return sorted(((k, v / whole) for k, v in totals.items()), key=lambda kv: -kv[1])


def fixed_batch(n: int, size: int, num_classes: int) -> tuple[list, list, list]:
    """``n`` uint8 ``[3, size, size]`` images with three xyxy boxes and labels each (seeded)."""
    gen = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=gen) for _ in range(n)]
    boxes, labels = [], []
    for _ in range(n):
        xy = torch.rand(3, 2, generator=gen) * size * 0.6
        boxes.append(torch.cat([xy, xy + size * (0.1 + 0.3 * torch.rand(3, 2, generator=gen))], 1))
        labels.append(torch.randint(0, num_classes, (3,), generator=gen))
    return images, boxes, labels


def ssdkit_step(config: str) -> tuple[Callable[[], object], int, int, object]:
    """The config's ``train_step`` on a fixed batch: ``(step, batch size, input size, runner)``."""
    from mmengine.structures import InstanceData

    from ssdkit.engine import build_runner
    from ssdkit.engine.config import load_config
    from ssdkit.structures import DetSample

    cfg = load_config(config, None, "none", str(ROOT / "work_dirs" / "bench_demo_step"))
    runner = build_runner(cfg)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    model, wrapper = runner.model, runner.optim_wrapper
    model.init_weights()
    n = cfg.train_dataloader.batch_size
    size = next(t["size"][0] for t in cfg.train_dataloader.dataset.pipeline if t["type"] == "Resize")
    images, boxes, labels = fixed_batch(n, size, cfg.model.num_classes)
    samples = []
    for b, lab in zip(boxes, labels, strict=True):
        s = DetSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size)))
        s.gt_instances = InstanceData(bboxes=b, labels=lab)
        samples.append(s)
    model.train()
    return (lambda: model.train_step(dict(inputs=images, data_samples=samples), wrapper)), n, size, runner


def torchvision_step(n: int, size: int, num_classes: int, bf16: bool) -> Callable[[], object]:
    """torchvision's ``ssdlite320_mobilenet_v3_large`` (no weights) at ``size``, SGD, on the same kind of batch."""
    import torchvision

    model = torchvision.models.detection.ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=num_classes + 1
    ).train()
    model.transform.min_size, model.transform.max_size = (size,), size
    images, boxes, labels = fixed_batch(n, size, num_classes)
    targets = [dict(boxes=b, labels=lab + 1) for b, lab in zip(boxes, labels, strict=True)]
    optim = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            losses = model([im.float() / 255 for im in images], targets)
        optim.zero_grad()
        sum(losses.values()).backward()
        optim.step()

    return step


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(DEFAULT_CONFIG))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--no-peer", action="store_true", help="skip torchvision's SSDLite")
    args = ap.parse_args(argv)
    from ssdkit.engine.runner import memory_and_kernels
    from ssdkit.utils.allocator import tune_allocator
    from ssdkit.utils.cpu import describe_cpu

    tune_allocator()
    emit(describe_cpu())
    step, n, size, runner = ssdkit_step(args.config)
    wrapper = runner.optim_wrapper
    bf16 = hasattr(wrapper, "autocast_enabled") and wrapper.autocast_enabled("cpu")
    emit(f"{Path(args.config).name}: batch {n}, input {size}, {'bfloat16' if bf16 else 'float32'}; "
         f"{memory_and_kernels(runner.model).lstrip('; ')}")  # fmt: skip
    ours = timed(step, args.steps, "ssdkit")
    emit(f"ssdkit demo step: median {ours:.3f} s ({n / ours:.1f} img/s); peak memory so far {peak_rss_mb():.0f} MB")
    emit("where one step goes (self CPU time):")
    for kind, share in shares(step):
        emit(f"  {kind:22s} {100 * share:5.1f} %")
    if args.no_peer:
        return
    theirs = timed(torchvision_step(n, size, runner.model.num_classes, bf16), args.steps, "torchvision")
    emit(f"torchvision ssdlite320_mobilenet_v3_large at {size}: median {theirs:.3f} s ({n / theirs:.1f} img/s)")
    emit(f"ratio (torchvision step / ssdkit step): {theirs / ours:.2f}x")


if __name__ == "__main__":
    main()

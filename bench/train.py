"""Training-step throughput (images/s) and peak memory at batch 8, beside torchvision's ssd300_vgg16.

    python bench/train.py [--quick | --full] [--steps 2] [--batch 8] [--no-bf16]

A full step: data preprocessing, forward, matching, loss, backward, SGD step, on the same uint8 batch
with the same boxes. Each model runs in its own subprocess (peak RSS is its own). Target: SSD300-VGG16
>= 1.1x torchvision's throughput for the same network (COCO head), at no more memory.

Two comparisons, both printed: the same work (``+unfrozen``: every layer trained on both sides), and each
library's recipe (ssdkit's config freezes conv1_x and conv2_x as the released SSD does; ``tv:...+recipe`` freezes
conv1_x as torchvision's ``ssd300_vgg16`` does with its ImageNet backbone, ``trainable_backbone_layers=4``).

Rows: ``+bf16`` runs the step under bfloat16 autocast (torchvision: ``torch.autocast``; ssdkit:
``BF16OptimWrapper``, what ``--amp`` picks on CPU), on CPUs with native bf16. Other rows run the
configs' ``channels_last='auto'``; ``+nhwc`` / ``+nchw`` force ``channels_last=True`` / ``False``.
Every worker, torchvision's included, runs with ssdkit's allocator settings
(``ssdkit.utils.allocator``); ``@glibc`` rows run with glibc's defaults (``SSDKIT_MALLOC_TUNE=0``),
so the ratio is printed for the same allocator on both sides and for each library as it comes.
Where ``SSD(winograd='auto')`` applies (x86 CPUs with PyTorch at AVX2), ``+nowino`` rows run ssdkit with
``winograd=False`` (every convolution on oneDNN, as torchvision's), so the gain of NNPACK's Winograd kernels is
printed beside the ratio.

Each row is printed as soon as it is measured. The default times the same-work pair (``tv:ssd300_vgg16`` and
``ssd300_vgg16_coco+unfrozen``, 2 steps after one warm-up) is sized for about 1.5 min under AVX2 emulation on a
2-core machine.
``--quick`` adds each library's recipe, SSDLite300-MobileNet, the demo model, ``+nowino`` and the bf16 rows;
``--full`` also the ``@glibc``, ``+nhwc``, ``+nchw`` and VOC rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from common import best_of, emit, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]

MODELS = [
    "tv:ssd300_vgg16",
    "ssd300_vgg16_coco+unfrozen",
    "tv:ssd300_vgg16+recipe",
    "ssd300_vgg16_coco",
    "ssdlite300_mobilenet",
    "demo/ssdlite224_mobilenet_demo",
]
MORE = [
    "tv:ssd300_vgg16@glibc",
    "ssd300_vgg16_coco+unfrozen@glibc",
    "ssd300_vgg16_coco+unfrozen+nhwc",
    "ssd300_vgg16_coco+unfrozen+nchw",
    "ssd300_vgg16_voc0712",
    "demo/ssdlite224_mobilenet_demo@glibc",
]
BF16 = ["tv:ssd300_vgg16+bf16", "ssd300_vgg16_coco+unfrozen+bf16", "ssdlite300_mobilenet+bf16"]
TV_CONV1 = 4  # torchvision's ssd300_vgg16 with trainable_backbone_layers=4 freezes backbone.features[:4]


def batch(n: int, size: int = 300):
    gen = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=gen) for _ in range(n)]
    boxes = []
    for _ in range(n):
        xy = torch.rand(3, 2, generator=gen) * 200
        boxes.append(torch.cat([xy, xy + 20 + torch.rand(3, 2, generator=gen) * 80], 1))
    labels = [torch.randint(0, 20, (3,), generator=gen) for _ in range(n)]
    return images, boxes, labels


def worker(name: str, n: int, steps: int) -> dict:
    from ssdkit.utils.allocator import tune_allocator

    tune_allocator()  # off in @glibc rows (SSDKIT_MALLOC_TUNE=0 in the worker's environment)
    images, boxes, labels = batch(n)
    net, *modes = name.partition("@")[0].split("+")
    mode = "bf16" if "bf16" in modes else ""
    if net.startswith("tv:"):
        import torchvision

        model = torchvision.models.detection.ssd300_vgg16(weights=None, weights_backbone=None).train()
        if "recipe" in modes:  # what _vgg_extractor does with an ImageNet backbone (weights None forces all 5 stages)
            model.backbone.features[:TV_CONV1].requires_grad_(False)
        optim = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
        targets = [dict(boxes=b, labels=lab + 1) for b, lab in zip(boxes, labels, strict=True)]

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
                losses = model([im.float() / 255 for im in images], targets)
            optim.zero_grad()
            sum(losses.values()).backward()
            optim.step()
    else:
        from mmengine import Config
        from mmengine.optim import OptimWrapper
        from mmengine.structures import InstanceData

        import ssdkit.models  # noqa: F401
        from ssdkit.engine.bf16 import BF16OptimWrapper
        from ssdkit.registry import DETECTORS
        from ssdkit.structures import DetSample

        cfg = Config.fromfile(str(ROOT / "configs" / f"{net}.py"))
        cfg.model.num_classes = max(cfg.model.num_classes, 20)  # the demo's 10 classes: same labels as the rest
        if "nchw" in modes or "nhwc" in modes:
            cfg.model.channels_last = "nhwc" in modes
        if "unfrozen" in modes:
            cfg.model.backbone.frozen_stages = -1
        if "nowino" in modes:
            cfg.model.winograd = False
        model = DETECTORS.build(cfg.model).train()
        optim = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
        wrapper = BF16OptimWrapper(optimizer=optim, fallback_fp32=False) if mode == "bf16" else OptimWrapper(optim)
        samples = []
        for b, lab in zip(boxes, labels, strict=True):
            s = DetSample(metainfo=dict(img_shape=(300, 300), ori_shape=(300, 300)))
            s.gt_instances = InstanceData(bboxes=b, labels=lab)
            samples.append(s)

        def step():
            model.train_step(dict(inputs=images, data_samples=samples), wrapper)

    t = best_of(step, repeats=steps, warmup=1)
    return dict(name=name, ips=n / t, step_s=t, peak_rss_mb=peak_rss_mb())


SAME_WORK = ["tv:ssd300_vgg16", "ssd300_vgg16_coco+unfrozen"]


def names_for(args: argparse.Namespace) -> list[str]:
    """The rows to measure: the same-work pair; with ``--quick`` / ``--full`` the rest (see the docstring)."""
    from ssdkit.engine.bf16 import native_bf16
    from ssdkit.models.winograd import winograd_available

    if not (args.quick or args.full):
        return list(SAME_WORK)
    names = MODELS + (MORE if args.full else []) + ([] if args.no_bf16 or not native_bf16("cpu") else BF16)
    if winograd_available():
        names[2:2] = ["ssd300_vgg16_coco+unfrozen+nowino"]
    return names


def measure(names: list[str], batch_size: int, steps: int) -> dict[str, dict]:
    """Each row in its own subprocess, printed as soon as it is measured."""
    emit(f"{'model':34s}{'step s':>8s}{'img/s':>8s}{'peak MB':>9s}")
    res = {}
    for name in names:
        env = dict(os.environ, SSDKIT_MALLOC_TUNE="0" if name.endswith("@glibc") else "1")
        p = subprocess.run(
            [sys.executable, __file__, "--worker", name, "--batch", str(batch_size), "--steps", str(steps)],
            capture_output=True,
            text=True,
            env=env,
        )
        if p.returncode:
            emit(f"{name}: failed\n{p.stderr[-1500:]}")
            continue
        r = res[name] = json.loads(p.stdout.strip().splitlines()[-1])
        emit(f"{r['name']:34s}{r['step_s']:8.2f}{r['ips']:8.2f}{r['peak_rss_mb']:9.0f}")
    return res


def torchvision_ratios(res: dict[str, dict]) -> None:
    for ours_key, tv_key, what in (
        ("+unfrozen", "", "same work, same allocator (ssdkit's settings)"),
        ("+unfrozen@glibc", "@glibc", "same work, same allocator (glibc defaults)"),
        ("+unfrozen", "@glibc", "same work, each allocator as it comes"),
        ("+unfrozen+bf16", "+bf16", "same work, bf16 autocast"),
        ("", "+recipe", "each library's recipe (frozen conv1-2 / conv1)"),
    ):
        tv, ours = res.get("tv:ssd300_vgg16" + tv_key), res.get("ssd300_vgg16_coco" + ours_key)
        if tv and ours:
            emit(
                f"SSD300-VGG16 (COCO head) / torchvision throughput, {what}: {ours['ips'] / tv['ips']:.2f}x "
                f"(target >= 1.1x); peak memory {ours['peak_rss_mb']:.0f} vs {tv['peak_rss_mb']:.0f} MB"
            )


def other_ratios(res: dict[str, dict]) -> None:
    for net in ("tv:ssd300_vgg16", "ssd300_vgg16_coco+unfrozen", "demo/ssdlite224_mobilenet_demo"):
        if net in res and net + "@glibc" in res:
            ratio = res[net]["ips"] / res[net + "@glibc"]["ips"]
            emit(f"{net}: allocator settings / glibc defaults throughput {ratio:.2f}x")
    wino, nowino = res.get("ssd300_vgg16_coco+unfrozen"), res.get("ssd300_vgg16_coco+unfrozen+nowino")
    tv = res.get("tv:ssd300_vgg16")
    if wino and nowino:
        emit(
            f"ssd300_vgg16_coco+unfrozen: Winograd (NNPACK) / oneDNN throughput {wino['ips'] / nowino['ips']:.2f}x"
            + (f"; without Winograd, / torchvision: {nowino['ips'] / tv['ips']:.2f}x" if tv else "")
        )
    nhwc, nchw = res.get("ssd300_vgg16_coco+unfrozen+nhwc"), res.get("ssd300_vgg16_coco+unfrozen+nchw")
    if nhwc and nchw:
        emit(f"ssd300_vgg16_coco: channels_last / NCHW throughput {nhwc['ips'] / nchw['ips']:.2f}x")
    for net in ("ssd300_vgg16_coco+unfrozen", "ssdlite300_mobilenet"):
        if net in res and net + "+bf16" in res:
            emit(f"{net}: bf16 / float32 throughput {res[net + '+bf16']['ips'] / res[net]['ips']:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--no-bf16", action="store_true", help="skip the bfloat16 rows")
    ap.add_argument("--quick", action="store_true", help="also the recipe, MobileNet, demo, +nowino and bf16 rows")
    ap.add_argument("--full", action="store_true", help="also the @glibc, +nhwc, +nchw and VOC rows")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.batch, args.steps)))
        return
    from ssdkit.utils.cpu import describe_cpu

    emit(describe_cpu())
    emit(f"batch {args.batch}, {args.steps} steps after one warm-up, torch {torch.__version__}")
    res = measure(names_for(args), args.batch, args.steps)
    torchvision_ratios(res)
    other_ratios(res)


if __name__ == "__main__":
    main()

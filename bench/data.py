"""Images/s of the full SSD training pipeline for one worker, on 500x375 JPEGs (VOC's typical size),
beside torchvision.transforms.v2 doing the same work in the same run.

    python bench/data.py [--images 200] [--size 300]

ssdkit: load (OpenCV JPEG decode), photometric distortion, zoom out, min-IoU crop, resize, flip, pack:
the pipeline of configs/ssd300_vgg16_voc0712.py. Peer: torchvision's detection reference
"ssd" augmentation (references/detection/presets.py) on tv_tensors: JPEG decode
(``torchvision.io.decode_jpeg``), ``RandomPhotometricDistort``, ``RandomZoomOut`` (mean fill),
``RandomIoUCrop``, ``SanitizeBoundingBoxes``, ``RandomHorizontalFlip``, resize to the input size; uint8
out, as ssdkit's. Both in one process with one thread (as a dataloader worker). Targets: >= 1.5x the
peer, and >= 150 images/s at 300x300 so data never starves training.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from mmengine import Config

import ssdkit.data  # noqa: F401
from ssdkit.data.datasets.base import build_pipeline
from ssdkit.engine import wire_expand_fill
from ssdkit.utils.cpu import describe_cpu

from common import emit

ROOT = Path(__file__).resolve().parents[1]


def photo_like(rng: np.random.Generator, h: int = 375, w: int = 500) -> np.ndarray:
    """A smooth random image (compresses and decodes like a photograph, unlike white noise)."""
    small = rng.integers(0, 256, (h // 25, w // 25, 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return cv2.add(img, rng.integers(0, 20, (h, w, 3), dtype=np.uint8))


def torchvision_pipeline(size: int, mean_rgb: list[float]):
    """torchvision's detection reference "ssd" augmentation, then resize to ``size``: sample -> (image, boxes)."""
    from torchvision import tv_tensors
    from torchvision.io import decode_jpeg, read_file
    from torchvision.transforms import v2 as T

    fill = tuple(int(round(m)) for m in mean_rgb)
    augment = T.Compose(
        [
            T.RandomPhotometricDistort(),
            T.RandomZoomOut(fill={tv_tensors.Image: fill, "others": 0}),
            T.RandomIoUCrop(),
            T.SanitizeBoundingBoxes(),
            T.RandomHorizontalFlip(0.5),
            T.Resize((size, size)),
        ]
    )

    def run(s: dict):
        img = tv_tensors.Image(decode_jpeg(read_file(s["img_path"])))
        boxes = tv_tensors.BoundingBoxes(
            torch.from_numpy(s["gt_bboxes"]), format="XYXY", canvas_size=tuple(img.shape[-2:])
        )
        out = augment(dict(image=img, boxes=boxes, labels=torch.from_numpy(s["gt_labels"])))
        return out["image"], out["boxes"]

    return run


def rate(fn, samples: list[dict], images: int) -> float:
    for s in samples[:5]:
        fn(dict(s))
    start = time.perf_counter()
    for k in range(images):
        fn(dict(samples[k % len(samples)]))
    return images / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--size", type=int, choices=[300, 512], default=300)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    cfg = wire_expand_fill(Config.fromfile(str(ROOT / "configs/ssd300_vgg16_voc0712.py")))
    pipeline = build_pipeline(cfg[f"train_pipeline_{args.size}"])
    fill = next(t["mean"] for t in cfg[f"train_pipeline_{args.size}"] if t["type"] == "Expand")  # the model's, RGB
    peer = torchvision_pipeline(args.size, fill)
    rng = np.random.default_rng(0)
    np.random.seed(0)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        samples = []
        for i in range(20):
            path = f"{tmp}/{i}.jpg"
            cv2.imwrite(path, photo_like(rng), [cv2.IMWRITE_JPEG_QUALITY, 90])
            n = int(rng.integers(1, 6))
            xy = rng.uniform(0, [400, 300], (n, 2))
            boxes = np.concatenate([xy, xy + rng.uniform(20, 100, (n, 2))], 1).astype(np.float32)
            samples.append(
                dict(
                    img_id=i,
                    img_path=path,
                    gt_bboxes=boxes,
                    gt_labels=rng.integers(0, 20, n),
                    gt_ignore_flags=np.zeros(n, bool),
                )
            )
        emit(describe_cpu())
        ours = rate(pipeline, samples, args.images)
        emit(f"training pipeline at {args.size}x{args.size}, one worker, 500x375 JPEGs: ssdkit {ours:.0f} images/s")
        theirs = rate(peer, samples, args.images)
    emit(
        f"torchvision.transforms.v2 {theirs:.0f} images/s: ssdkit {ours / theirs:.2f}x "
        f"(targets >= 1.5x, >= 150 images/s)"
    )


if __name__ == "__main__":
    main()

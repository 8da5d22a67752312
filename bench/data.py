"""Images/s of the full SSD training pipeline for one worker, on 500x375 JPEGs (VOC's typical size).

    python bench/data.py [--images 200] [--size 300]

Load (OpenCV JPEG decode), photometric distortion, zoom out, min-IoU crop, resize, flip, pack: the
pipeline from configs/_base_/datasets/ssd_pipelines.py, in one process with one OpenCV thread (as a
dataloader worker). Target: >= 150 images/s at 300x300, so data never starves training here.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mmengine import Config  # noqa: E402

import ssdkit.data  # noqa: E402,F401
from ssdkit.data.datasets.base import build_pipeline  # noqa: E402


def photo_like(rng: np.random.Generator, h: int = 375, w: int = 500) -> np.ndarray:
    """A smooth random image (compresses and decodes like a photograph, unlike white noise)."""
    small = rng.integers(0, 256, (h // 25, w // 25, 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return cv2.add(img, rng.integers(0, 20, (h, w, 3), dtype=np.uint8))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--size", type=int, choices=[300, 512], default=300)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    cfg = Config.fromfile(str(ROOT / "configs/_base_/datasets/ssd_pipelines.py"))
    pipeline = build_pipeline(cfg[f"train_pipeline_{args.size}"])
    rng = np.random.default_rng(0)
    np.random.seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        samples = []
        for i in range(20):
            path = f"{tmp}/{i}.jpg"
            cv2.imwrite(path, photo_like(rng), [cv2.IMWRITE_JPEG_QUALITY, 90])
            n = int(rng.integers(1, 6))
            xy = rng.uniform(0, [400, 300], (n, 2))
            boxes = np.concatenate([xy, xy + rng.uniform(20, 100, (n, 2))], 1).astype(np.float32)
            samples.append(dict(img_id=i, img_path=path, gt_bboxes=boxes, gt_labels=rng.integers(0, 20, n),
                                gt_ignore_flags=np.zeros(n, bool)))
        for s in samples[:5]:
            pipeline(dict(s))
        start = time.perf_counter()
        for k in range(args.images):
            pipeline(dict(samples[k % len(samples)]))
        rate = args.images / (time.perf_counter() - start)
    print(f"training pipeline at {args.size}x{args.size}, one worker, 500x375 JPEGs: {rate:.0f} images/s "
          f"(target >= 150)")


if __name__ == "__main__":
    main()

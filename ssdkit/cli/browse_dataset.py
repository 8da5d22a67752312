"""Write training-pipeline outputs with their boxes drawn, to check data and augmentation by eye.

python tools/browse_dataset.py CONFIG --out-dir D [--num 20] [--split train|val] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from mmengine import Config
from mmengine.registry import init_default_scope

import ssdkit.data  # noqa: F401
from ssdkit.engine import wire_expand_fill
from ssdkit.engine.config_bases import resolve_bases
from ssdkit.registry import DATASETS
from ssdkit.visualization import draw_boxes


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--num", type=int, default=20)
    ap.add_argument("--split", choices=["train", "val"], default="train")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    cfg = wire_expand_fill(Config.fromfile(resolve_bases(args.config)))
    init_default_scope(cfg.get("default_scope", "ssdkit"))
    np.random.seed(args.seed)
    dataset = DATASETS.build(cfg[f"{args.split}_dataloader"]["dataset"])
    names = dataset.metainfo.get("classes")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(min(args.num, len(dataset))):
        item = dataset[i]
        img = item["inputs"].permute(1, 2, 0).numpy()
        gt = item["data_samples"].gt_instances
        path = out / f"{i:04d}_{item['data_samples'].metainfo.get('img_id', i)}.jpg"
        cv2.imwrite(str(path), draw_boxes(img, gt.bboxes.numpy(), gt.labels.tolist(), names))
    print(f"wrote {min(args.num, len(dataset))} images to {out}")

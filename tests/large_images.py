"""Generated large images with small objects, in VOC layout: 2000 x 2000 dark textured images with 60 bright
squares of 32-47 px each (slicing's case: resized whole to 300 px, a square is 5-7 px)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def make_large_voc(
    root: Path, num_train: int = 4, num_val: int = 2, size: int = 2000, objects: int = 60, seed: int = 0
) -> None:
    rng = np.random.default_rng(seed)
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for split, n in (("train", num_train), ("val", num_val)):
        ids = []
        for k in range(n):
            img = cv2.resize(
                rng.integers(0, 90, (size // 20, size // 20, 3), dtype=np.uint8),
                (size, size),
                interpolation=cv2.INTER_CUBIC,
            )
            boxes: list[tuple[int, int, int, int]] = []
            while len(boxes) < objects:
                s = int(rng.integers(32, 48))
                x, y = (int(v) for v in rng.integers(0, size - s, 2))
                if all(x + s < b[0] or b[2] < x or y + s < b[1] or b[3] < y for b in boxes):
                    boxes.append((x, y, x + s, y + s))
                    img[y : y + s, x : x + s] = rng.integers(170, 255, 3)
            name = f"{split}{k}"
            cv2.imwrite(str(root / "JPEGImages" / f"{name}.jpg"), img)
            objs = "".join(
                f"<object><name>object</name><bndbox><xmin>{b[0] + 1}</xmin><ymin>{b[1] + 1}</ymin>"
                f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
                for b in boxes
            )
            (root / "Annotations" / f"{name}.xml").write_text(
                f"<annotation><size><width>{size}</width><height>{size}</height></size>{objs}</annotation>"
            )
            ids.append(name)
        (root / "ImageSets/Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")

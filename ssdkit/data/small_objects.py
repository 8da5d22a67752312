"""A set of small, crowded objects in Pascal VOC layout, built from data that installed packages ship.

The demo's handwritten digits (:mod:`ssdkit.data.demo`), ``min_px`` .. ``max_px`` on their longer side, ``1`` ..
``max_objects`` to an image, pasted onto unsoftened crops of scikit-image's photographs (cluttered backdrops), in
``image_size`` images. Written as ``Annotations/<id>.xml``, ``JPEGImages/<id>.jpg`` and
``ImageSets/Main/{train,val}.txt``, the layout ``configs/examples/custom_voc.py`` reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from .demo import CLASSES, digit_pools, fresh_tmp, load_photos, publish, render_image


def voc_xml(name: str, size: tuple[int, int], objects: list[tuple[list[float], str]]) -> str:
    """A VOC annotation: ``objects`` are (xyxy box in 0-based pixel edges, class name); VOC's corners are 1-based."""
    h, w = size
    rows = "".join(
        f"<object><name>{c}</name><difficult>0</difficult><bndbox><xmin>{b[0] + 1:.0f}</xmin>"
        f"<ymin>{b[1] + 1:.0f}</ymin><xmax>{b[2]:.0f}</xmax><ymax>{b[3]:.0f}</ymax></bndbox></object>"
        for b, c in objects
    )
    return (
        f"<annotation><filename>{name}</filename><size><width>{w}</width><height>{h}</height></size>{rows}</annotation>"
    )


def _write_split(
    root: Path,
    split: str,
    count: int,
    rng: np.random.Generator,
    parts: tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray],
    classes: tuple[str, ...],
    image_size: tuple[int, int],
    render: dict,
) -> dict:
    """``count`` images of ``split`` into ``root`` (VOC layout); ``parts``: :func:`render_image`'s photos, digit
    images, targets and pool. Returns the images, objects and median longer side."""
    ids, sides = [], []
    for i in range(count):
        photos, digit_images, targets, pool = parts
        img, objects = render_image(rng, photos, digit_images, targets, pool, image_size, **render)
        img_id = f"{split}_{i:05d}"
        cv2.imwrite(str(root / "JPEGImages" / f"{img_id}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        named = [(box, classes[label]) for box, label in objects]
        (root / "Annotations" / f"{img_id}.xml").write_text(voc_xml(f"{img_id}.jpg", image_size, named))
        ids.append(img_id)
        sides += [max(b[2] - b[0], b[3] - b[1]) for b, _ in objects]
    (root / "ImageSets/Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return dict(images=count, objects=len(sides), median_px=float(np.median(sides)) if sides else 0.0)


def make_small_objects_dataset(
    out_dir: str,
    seed: int = 0,
    num_train: int = 400,
    num_val: int = 100,
    image_size: tuple[int, int] = (400, 400),
    min_px: float = 8.0,
    max_px: float = 30.0,
    max_objects: int = 40,
    num_classes: int = 4,
    names: tuple[str, ...] | None = None,
    overwrite: bool = False,
) -> dict:
    """Write the set to ``out_dir`` (whole, or not at all: built in ``out_dir.tmp`` and renamed); a set made with
    the same options (``options.json``) is kept. Class names are ``names``, else the first ``num_classes`` of the
    demo's digits.
    Returns the class names and, per split, the images, objects and median longer side."""
    from sklearn.datasets import load_digits

    out = Path(out_dir)
    classes = tuple(names) if names else CLASSES[:num_classes]
    if len(classes) != num_classes:
        raise ValueError(f"names {list(classes)} must give num_classes={num_classes} names")
    options = dict(
        seed=seed,
        num_train=num_train,
        num_val=num_val,
        image_size=list(image_size),
        min_px=min_px,
        max_px=max_px,
        max_objects=max_objects,
        num_classes=num_classes,
        names=list(classes),
    )
    done = out / "options.json"
    if not overwrite and done.is_file() and json.loads(done.read_text()) == options:
        return dict(out_dir=str(out), classes=classes, skipped=True)
    tmp = fresh_tmp(out)
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (tmp / sub).mkdir(parents=True)
    digits, photos = load_digits(), load_photos()
    render: dict = dict(
        min_px=min_px,
        max_frac=max_px / min(image_size),
        max_objects=max_objects,
        aspect_range=(0.7, 1.0),
        stroke_contrast=2.0,
    )
    summary: dict = dict(out_dir=str(out), classes=classes)
    for split, count, split_seed in (("train", num_train, seed), ("val", num_val, seed + 1)):
        pool = digit_pools(seed)[split]
        parts = (photos, digits.images, digits.target, pool[digits.target[pool] < num_classes])
        rng = np.random.default_rng([split_seed, 23])
        summary[split] = _write_split(tmp, split, count, rng, parts, classes, image_size, render)
    publish(tmp, out, options)
    return summary

"""A small COCO-format detection set built from data that installed packages ship.

Handwritten digits (scikit-learn's 8x8 ``load_digits``) are pasted, at sizes log-uniform between
``min_px`` and ``max_frac`` of the image side and width/height ratios in ``aspect_range``, onto crops
of scikit-image's bundled photographs (optionally blurred and flattened into quieter backdrops).
Everything comes from one seed, so the same seed gives the same files.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from ssdkit.structures.coco import xyxy_to_coco_bbox
from ssdkit.structures.np_boxes import np_pairwise_iou

PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "camera",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "coins",
    "retina",
    "colorwheel",
    "brick",
    "grass",
    "gravel",
    "moon",
    "horse",
    "clock",
    "stereo_motorcycle",
    "cell",
)
CLASSES = tuple(f"digit_{i}" for i in range(10))


def load_photos() -> list[np.ndarray]:
    """scikit-image's bundled photographs that load offline, as BGR uint8."""
    import skimage.data

    photos = []
    for name in PHOTOS:
        try:
            img = getattr(skimage.data, name)()
        except Exception:  # a photo that would need a download
            continue
        img = img[0] if isinstance(img, tuple) else img
        img = np.asarray(img, dtype=np.float64 if np.asarray(img).dtype == bool else None)
        if img.dtype != np.uint8:
            img = (255 * (img - img.min()) / max(float(img.max() - img.min()), 1e-9)).astype(np.uint8)
        if img.ndim == 3 and img.shape[2] == 4:
            img = img[..., :3]
        if img.ndim == 2:
            img = np.stack([img] * 3, -1)
        photos.append(np.ascontiguousarray(img[..., 2::-1]))
    if not photos:
        raise RuntimeError("no scikit-image photograph could be loaded (pip install scikit-image)")
    return photos


def soften(photo: np.ndarray, blur_sigma: float, contrast: float) -> np.ndarray:
    """A quieter backdrop: Gaussian blur, then the contrast scaled by ``contrast`` about the photo's mean
    and the mean moved to mid-grey. ``blur_sigma=0, contrast=1`` returns the photo unchanged."""
    if blur_sigma <= 0 and contrast == 1:
        return photo
    out = cv2.GaussianBlur(photo, (0, 0), blur_sigma).astype(np.float32) if blur_sigma > 0 else photo.astype(np.float32)
    out = 128 + contrast * (out - out.mean())
    return np.clip(out, 0, 255).astype(np.uint8)


def digit_pools(seed: int = 0) -> dict[str, np.ndarray]:
    """Disjoint indices into ``load_digits()`` for the train and val splits (80 / 20)."""
    from sklearn.datasets import load_digits

    n = len(load_digits().target)
    perm = np.random.default_rng(seed).permutation(n)
    cut = int(n * 0.8)
    return dict(train=np.sort(perm[:cut]), val=np.sort(perm[cut:]))


def backdrop(rng: np.random.Generator, photos: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """``[H, W, 3]`` uint8: a random square crop (0.3 .. 1 of the shorter side) of a random photo, resized."""
    photo = photos[int(rng.integers(len(photos)))]
    ph, pw = photo.shape[:2]
    side = int(min(ph, pw) * rng.uniform(0.3, 1.0))
    y0, x0 = int(rng.integers(0, ph - side + 1)), int(rng.integers(0, pw - side + 1))
    return cv2.resize(photo[y0 : y0 + side, x0 : x0 + side], (size[1], size[0]), interpolation=cv2.INTER_AREA)


def render_image(
    rng: np.random.Generator,
    photos: list[np.ndarray],
    digits: np.ndarray,
    targets: np.ndarray,
    pool: np.ndarray,
    size: tuple[int, int],
    *,
    min_px: float,
    max_frac: float,
    max_objects: int,
    aspect_range: tuple[float, float],
    stroke_contrast: float,
) -> tuple[np.ndarray, list[tuple[list[float], int]]]:
    """One image and its ``(xyxy box, class)`` objects (1 .. ``max_objects`` digits); the options are
    :func:`make_demo_dataset`'s.

    ``stroke_contrast`` steepens the upscaled digit's opacity about one half (1: as interpolated), which
    keeps the holes of 0, 6, 8 and 9 open instead of blurred shut.
    """
    h, w = size
    img = backdrop(rng, photos, size).astype(np.float32)
    objects: list[tuple[list[float], int]] = []
    placed: list[np.ndarray] = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        k = int(pool[rng.integers(len(pool))])
        longer = float(np.exp(rng.uniform(np.log(min_px), np.log(max_frac * min(h, w)))))
        aspect = float(np.exp(rng.uniform(np.log(aspect_range[0]), np.log(aspect_range[1]))))  # w / h
        bw, bh = (longer, longer / aspect) if aspect >= 1 else (longer * aspect, longer)
        bw, bh = max(int(round(bw)), 6), max(int(round(bh)), 6)
        for _try in range(10):
            x, y = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
            if not placed or np_pairwise_iou(np.array([[x, y, x + bw, y + bh]], float), np.array(placed)).max() <= 0.3:
                break
        else:
            continue
        raw = np.clip(cv2.resize(digits[k] / 16.0, (bw, bh), interpolation=cv2.INTER_CUBIC), 0, 1)
        alpha = np.clip(0.5 + stroke_contrast * (raw - 0.5), 0, 1)
        ys, xs = np.nonzero(raw > 0.25)
        if len(xs) == 0 or xs.max() - xs.min() < 3 or ys.max() - ys.min() < 3:
            continue
        region = img[y : y + bh, x : x + bw]
        local = region.mean(axis=(0, 1))
        colour = np.where(local > 127, rng.uniform(0, 60, 3), rng.uniform(195, 255, 3))  # contrasting
        region[:] = region * (1 - alpha[..., None]) + colour * alpha[..., None]
        box = [float(x + xs.min()), float(y + ys.min()), float(x + xs.max() + 1), float(y + ys.max() + 1)]
        placed.append(np.array([x, y, x + bw, y + bh], float))
        objects.append((box, int(targets[k])))
    return np.clip(img, 0, 255).round().astype(np.uint8), objects


def write_split(
    root: Path,
    split: str,
    count: int,
    rng: np.random.Generator,
    parts: tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray],
    image_size: tuple[int, int],
    render: dict,
) -> dict:
    """Write ``count`` images to ``root/split/`` and ``root/annotations/instances_{split}.json``; ``parts`` are
    :func:`render_image`'s photos, digit images, targets and pool, ``render`` its options. Returns the split's
    counts and box-size statistics."""
    photos, digit_images, targets, pool = parts
    (root / split).mkdir()
    images: list[dict] = []
    anns: list[dict] = []
    for i in range(count):
        img, objects = render_image(rng, photos, digit_images, targets, pool, image_size, **render)
        name = f"{i:05d}.jpg"
        cv2.imwrite(str(root / split / name), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        images.append(dict(id=i + 1, file_name=name, width=image_size[1], height=image_size[0]))
        for box, label in objects:
            bbox = xyxy_to_coco_bbox(box)
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=i + 1,
                    category_id=label + 1,
                    bbox=bbox,
                    area=bbox[2] * bbox[3],
                    iscrowd=0,
                )
            )
    cats = [dict(id=i + 1, name=n) for i, n in enumerate(CLASSES)]
    (root / "annotations" / f"instances_{split}.json").write_text(
        json.dumps(dict(images=images, annotations=anns, categories=cats))
    )
    sides = np.array([max(a["bbox"][2], a["bbox"][3]) for a in anns]) if anns else np.zeros(1)
    return dict(
        images=count,
        boxes=len(anns),
        min_px=float(sides.min()),
        median_px=float(np.median(sides)),
        max_px=float(sides.max()),
    )


def fresh_tmp(out: Path) -> Path:
    """An empty ``out.tmp`` folder to build a set in (:func:`publish` moves it to ``out``)."""
    tmp = Path(str(out) + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def publish(tmp: Path, out: Path, options: dict) -> None:
    """Write ``options.json`` last into the built ``tmp``, then put ``tmp`` in ``out``'s place, so a half-written set
    is never taken for a whole one."""
    (tmp / "options.json").write_text(json.dumps(options))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)


def made_with(out: Path) -> dict | None:
    """The options a whole set at ``out`` was made with (``options.json``), ``None`` where there is none."""
    done = all((out / "annotations" / f"instances_{s}.json").exists() for s in ("train", "val"))
    options = out / "options.json"
    return json.loads(options.read_text()) if done and options.exists() else None


def make_demo_dataset(
    out_dir: str,
    seed: int = 0,
    num_train: int = 4000,
    num_val: int = 100,
    image_size: tuple[int, int] = (320, 320),
    overwrite: bool = False,
    min_px: float = 40.0,
    max_frac: float = 0.6,
    max_objects: int = 4,
    backdrop_blur: float = 8.0,
    backdrop_contrast: float = 0.35,
    aspect_range: tuple[float, float] = (0.7, 1.0),
    stroke_contrast: float = 2.0,
) -> dict:
    """Write ``out_dir/{train,val}/*.jpg`` and ``out_dir/annotations/instances_{train,val}.json``.

    Digits pasted ``min_px`` .. ``max_frac`` of the side, width / height in ``aspect_range``, with crisp strokes,
    on softened photographs, 1 to ``max_objects`` per image (the demo config states the options of its set).
    ``min_px=10, max_frac=0.7, aspect_range=(0.5, 2), stroke_contrast=1, backdrop_blur=0, backdrop_contrast=1``
    make a much harder set. A set made with the same options (``options.json``) is kept; one made with other
    options is rebuilt, in ``out_dir.tmp`` and renamed at the end, so a half-written set is never taken for a
    whole one. Returns counts and box-size statistics per split.
    """
    from sklearn.datasets import load_digits

    out = Path(out_dir)
    options = dict(
        seed=seed,
        num_train=num_train,
        num_val=num_val,
        image_size=list(image_size),
        min_px=min_px,
        max_frac=max_frac,
        max_objects=max_objects,
        backdrop_blur=backdrop_blur,
        backdrop_contrast=backdrop_contrast,
        aspect_range=list(aspect_range),
        stroke_contrast=stroke_contrast,
    )
    if not overwrite and made_with(out) == options:
        return dict(out_dir=str(out), skipped=True)
    tmp = fresh_tmp(out)
    (tmp / "annotations").mkdir(parents=True)
    digits = load_digits()
    photos, pools = [soften(p, backdrop_blur, backdrop_contrast) for p in load_photos()], digit_pools(seed)
    summary: dict = dict(out_dir=str(out))
    render = {k: options[k] for k in ("min_px", "max_frac", "max_objects", "stroke_contrast")}
    render["aspect_range"] = aspect_range
    for split, count, split_seed in (("train", num_train, seed), ("val", num_val, seed + 1)):
        rng = np.random.default_rng([split_seed, 17])
        parts = (photos, digits.images, digits.target, pools[split])
        summary[split] = write_split(tmp, split, count, rng, parts, image_size, render)
    publish(tmp, out, options)
    return summary


def render_crops(
    rng: np.random.Generator,
    photos: list[np.ndarray],
    digits: np.ndarray,
    targets: np.ndarray,
    pool: np.ndarray,
    count: int,
    size: int,
    *,
    min_frac: float = 0.25,
    max_frac: float = 0.9,
    background: float = 1 / 11,
    aspect_range: tuple[float, float] = (0.7, 1.0),
    stroke_contrast: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` square crops for classification: ``[count, size, size, 3]`` uint8 BGR and ``[count]`` int64
    labels, 0 for a backdrop alone (a share ``background`` of the crops), ``1 + digit`` for one digit of
    ``min_frac`` .. ``max_frac`` of the side pasted as :func:`render_image` pastes them, from ``pool`` only."""
    imgs = np.empty((count, size, size, 3), np.uint8)
    labels = np.zeros(count, np.int64)
    for i in range(count):
        if rng.uniform() < background:
            imgs[i] = backdrop(rng, photos, (size, size))
            continue
        imgs[i], objects = render_image(
            rng, photos, digits, targets, pool, (size, size), min_px=min_frac * size, max_frac=max_frac,
            max_objects=1, aspect_range=aspect_range, stroke_contrast=stroke_contrast,
        )  # fmt: skip
        labels[i] = 1 + objects[0][1] if objects else 0
    return imgs, labels

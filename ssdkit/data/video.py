"""Inputs for inference: image files, folders of images and videos, as (name, BGR frame) pairs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm"}


def expand_inputs(inputs: Iterable[str]) -> list[Path]:
    """Files as given; folders expanded to their images and videos (sorted)."""
    paths: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            paths += sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
        elif p.exists():
            paths.append(p)
        else:
            raise FileNotFoundError(f"input '{item}' does not exist")
    return paths


def read_frames(paths: Iterable[Path]) -> Iterator[tuple[str, np.ndarray]]:
    """``(name, HxWx3 uint8 BGR)`` for every image and every frame of every video."""
    for p in paths:
        if p.suffix.lower() in VIDEO_SUFFIXES:
            cap = cv2.VideoCapture(str(p))
            if not cap.isOpened():
                raise ValueError(f"cannot open video '{p}'")
            k = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                yield f"{p.stem}_{k:06d}", frame
                k += 1
            cap.release()
        else:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"cannot read image '{p}'")
            yield p.stem, img

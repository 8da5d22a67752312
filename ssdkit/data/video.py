"""Inputs for inference: image files, folders of images and videos, as (name, BGR frame) pairs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm"}


def expand_inputs(inputs: Iterable[str]) -> list[Path]:
    """Files as given; folders expanded to their files (sorted; ``read_frames`` skips or refuses non-images)."""
    paths: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            paths += sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
        elif p.exists():
            paths.append(p)
        else:
            raise FileNotFoundError(f"input '{item}' does not exist")
    return paths


def unique_names(paths: Sequence[Path]) -> list[str]:
    """An output name per input: its stem, or ``<folder>_<stem>`` (then ``_<k>``) where stems repeat."""
    stems = Counter(p.stem for p in paths)
    names: list[str] = []
    for p in paths:
        name = p.stem if stems[p.stem] == 1 else f"{p.parent.name}_{p.stem}"
        base, k = name, 1
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


def read_frames(
    paths: Sequence[Path], on_bad: Callable[[Path, str], None] | None = None
) -> Iterator[tuple[str, Path, np.ndarray]]:
    """``(name, path, HxWx3 uint8 BGR)`` for every image and every frame of every video; names are unique.

    An unreadable file raises ``ValueError``, or with ``on_bad`` is reported to it (path, reason) and skipped.
    """
    for name, p in zip(unique_names(paths), paths, strict=True):
        if p.suffix.lower() in VIDEO_SUFFIXES:
            cap = cv2.VideoCapture(str(p))
            if not cap.isOpened():
                if on_bad is None:
                    raise ValueError(f"cannot open video '{p}'")
                on_bad(p, "cannot open video")
                continue
            k = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                yield f"{name}_{k:06d}", p, frame
                k += 1
            cap.release()
        else:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR) if p.suffix.lower() in IMAGE_SUFFIXES else None
            if img is None:
                if on_bad is None:
                    raise ValueError(f"cannot read image '{p}'")
                on_bad(p, "not an image OpenCV can read")
                continue
            yield name, p, img

"""Image loading."""

from __future__ import annotations

import cv2
import numpy as np

from ssdkit.registry import TRANSFORMS

from .base import ensure_box_fields


class BadImageError(ValueError):
    """An image file that is missing, unreadable or corrupt."""


@TRANSFORMS.register_module()
class LoadImage:
    """Read ``img_path`` with OpenCV (BGR uint8); set ``ori_shape`` and ``img_shape``."""

    def __call__(self, results: dict) -> dict:
        path = results["img_path"]
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise BadImageError(f"cannot read image '{path}' (missing, unreadable or corrupt)")
        results["img"] = img
        results["ori_shape"] = results["img_shape"] = img.shape[:2]
        return ensure_box_fields(results)

    def __repr__(self) -> str:
        return "LoadImage()"


def as_float(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) if img.dtype != np.float32 else img


@TRANSFORMS.register_module()
class LoadImageArray:
    """Take an already decoded ``img`` (HxWx3 uint8 BGR) given in the sample, for inference on arrays."""

    def __call__(self, results: dict) -> dict:
        img = results["img"]
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
            raise BadImageError(f"expected an HxWx3 BGR uint8 array, got {getattr(img, 'shape', type(img))}")
        results["ori_shape"] = results["img_shape"] = img.shape[:2]
        return ensure_box_fields(results)

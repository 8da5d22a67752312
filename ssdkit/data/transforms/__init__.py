"""Per-sample transforms over numpy/OpenCV images (the paper's §2.2 pipeline)."""

from .formatting import PackInputs
from .geometric import Expand, MinIoURandomCrop, RandomFlip, Resize, resize_in
from .loading import BadImageError, LoadImage, LoadImageArray
from .photometric import PhotometricDistortion

__all__ = [
    "BadImageError",
    "Expand",
    "LoadImage",
    "LoadImageArray",
    "MinIoURandomCrop",
    "PackInputs",
    "PhotometricDistortion",
    "RandomFlip",
    "Resize",
    "resize_in",
]

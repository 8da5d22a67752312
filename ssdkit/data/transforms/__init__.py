"""Per-sample transforms over numpy/OpenCV images (the paper's §2.2 pipeline)."""

from .formatting import PackInputs
from .geometric import Expand, MinIoURandomCrop, RandomFlip, Resize
from .loading import BadImageError, LoadImage
from .photometric import PhotometricDistortion

__all__ = ["BadImageError", "Expand", "LoadImage", "MinIoURandomCrop", "PackInputs", "PhotometricDistortion",
           "RandomFlip", "Resize"]

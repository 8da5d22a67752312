"""User-facing entry points: inference and model info (drawing is in ``ssdkit.visualization``, weight conversion in
``ssdkit.convert``)."""

from .inference import detect, init_detector

__all__ = [
    "detect",
    "init_detector",
]

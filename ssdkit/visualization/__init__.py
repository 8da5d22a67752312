"""Drawing: boxes on images (and, as they come, curves and prior plots). Imports only numpy and OpenCV."""

from .boxes import colour, draw_boxes

__all__ = ["colour", "draw_boxes"]

"""Drawing: boxes on images (OpenCV); training curves and prior plots (matplotlib, through ``_mpl``)."""

from .boxes import colour, draw_boxes
from .curves import curves_figure, plot_curves

__all__ = ["colour", "curves_figure", "draw_boxes", "plot_curves"]

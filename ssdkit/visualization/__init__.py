"""All drawing: boxes on images (OpenCV); training curves, PR curves, the confusion matrix and prior plots
(matplotlib, imported lazily through ``_mpl``)."""

from .boxes import colour, draw_boxes, near_uniform, uniform_note
from .confusion import plot_confusion_matrix
from .curves import curves_figure, plot_curves
from .pr_curves import plot_pr_curves, precision_envelope
from .priors import plot_coverage_by_size, plot_level_positives, plot_prior_shapes

__all__ = [
    "colour",
    "curves_figure",
    "draw_boxes",
    "near_uniform",
    "plot_confusion_matrix",
    "plot_coverage_by_size",
    "plot_curves",
    "plot_level_positives",
    "plot_pr_curves",
    "plot_prior_shapes",
    "precision_envelope",
    "uniform_note",
]

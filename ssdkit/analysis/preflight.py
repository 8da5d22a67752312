"""The prior check training runs before its first iteration: can the priors match the training objects?

From the annotations only (no image decoded): coverage at the matcher's threshold, overall and for small objects;
positives per object and objects left with none; positives per level and idle levels; objects of a few pixels; and
the objects too small for the finest level's stride, which no fitted scale can cover at every position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .objects import Objects
from .priors import CoverageReport, PriorSet, coverage_report, model_prior_set

#: objects under this share of the input side are "small" in the check's second coverage figure
SMALL_SIDE = 0.1
#: objects with a side under this many input pixels are named (YOLOv5's autoanchor warns under 3 px)
TINY_PX = 3.0
#: the fixes ssdkit has for objects below the finest level's reach
FLOOR_FIXES = (
    "a finer tap (a stride-8 level, e.g. MobileNet's 38x38 block as the first level), a larger input "
    "(the pipelines' Resize), or tiles with upsampling (TiledDataset, configs/examples/tiles_voc.py)"
)


def min_coverable_side(stride: float, threshold: float) -> float:
    """The smallest side ``a`` (pixels) of a square object that some square prior on a grid of ``stride`` ``d``
    reaches with IoU >= ``threshold`` ``t`` wherever the object's centre falls: ``a = d sqrt(t) / (1 - sqrt(t))``,
    2.41 strides at t = 0.5.

    The worst centre is half a stride from the nearest prior centre in x and y; there the best prior is the
    smallest that contains the object (side ``a + d``, IoU ``a^2 / (a + d)^2``; tests/test_prior_check.py checks it
    against every prior size). Smaller objects are covered only at some positions, whatever the scales.
    """
    root = math.sqrt(threshold)
    return stride * root / (1.0 - root)


@dataclass
class PriorCheck:
    """The check's figures: ``report`` (coverage per object, positives, level use), the ``priors`` checked,
    ``input_side`` sqrt(H W), the finest level's ``stride`` and ``floor_side`` (:func:`min_coverable_side`; input
    pixels), ``side [N]`` sqrt(w h) of each object at the input, and the ``text`` block the trainer logs."""

    report: CoverageReport
    priors: PriorSet
    input_side: float
    stride: float
    floor_side: float
    side: np.ndarray
    text: str

    @property
    def coverage(self) -> float:
        return self.report.coverage

    def small_coverage(self) -> tuple[int, float]:
        """Objects under :data:`SMALL_SIDE` of the input side: their count and coverage."""
        small = self.side < SMALL_SIDE * self.input_side
        return int(small.sum()), float(self.report.covered[small].mean()) if small.any() else float("nan")


def check_priors(model, objects: Objects, where: str = "train_dataloader.dataset") -> PriorCheck:
    """Check ``model``'s priors (an SSD: ``prior_generator``, ``matcher``) against ``objects``."""
    ps = model_prior_set(model, objects.input_size)
    report = coverage_report(objects, ps, model.matcher)
    wh = objects.boxes[:, 2:] - objects.boxes[:, :2]
    side = np.sqrt(np.clip(wh[:, 0] * wh[:, 1], 0, None))
    (h0, w0), (h, w) = ps.level_sizes[0], ps.input_size
    stride = math.sqrt((h / h0) * (w / w0))
    check = PriorCheck(report, ps, math.sqrt(h * w), stride, min_coverable_side(stride, report.threshold), side, "")
    check.text = format_check(check, objects, ps, model.matcher, where)
    return check


def format_check(check: PriorCheck, objects: Objects, ps: PriorSet, matcher, where: str) -> str:
    """The block the trainer logs (see the module docstring)."""
    r, n = check.report, max(len(objects), 1)
    n_small, small_cov = check.small_coverage()
    none = int((r.positives == 0).sum())
    wh = objects.boxes[:, 2:] - objects.boxes[:, :2]
    tiny = int((wh < TINY_PX).any(axis=1).sum())
    total = max(int(r.level_positives.sum()), 1)
    levels = ", ".join(
        f"{k}: {hh}x{ww} {p / total:.0%}"
        for k, ((hh, ww), p) in enumerate(zip(r.level_sizes, r.level_positives, strict=True))
    )
    small = (
        f"{small_cov:.1%} of the {n_small} objects under {SMALL_SIDE:g} of the input side"
        if n_small
        else (f"no objects under {SMALL_SIDE:g} of the input side")
    )
    lines = [
        f"prior check: {len(objects)} objects in {objects.num_images} images ({where}) against {ps.priors.shape[0]} "
        f"priors at {ps.input_size[0]}x{ps.input_size[1]}, {matcher!r}",
        f"  coverage (best prior IoU >= {r.threshold:g}): {r.coverage:.1%} of all objects; {small}",
        f"  positives per object: {r.positives.mean():.2f} on average; {none} objects ({none / n:.1%}) have none",
        f"  positives per level: {levels}",
    ]
    if r.idle_levels:
        lines.append(f"  idle levels {r.idle_levels}: no object matches them; drop them or shrink their scales")
    lines.append(f"  objects under {TINY_PX:g} px (width or height) at the input: {tiny} ({tiny / n:.1%})")
    below = int((check.side < check.floor_side).sum())
    if below:
        lines.append(
            f"  {below} objects ({below / n:.1%}) are under {check.floor_side:.0f} px, "
            f"{check.floor_side / check.stride:.2f} strides of the finest level ({check.stride:.0f} px): no prior "
            f"scale reaches IoU {r.threshold:g} wherever they fall; fitting priors cannot fix that, {FLOOR_FIXES} can"
        )
    return "\n".join(lines)

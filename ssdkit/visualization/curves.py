"""Training curves: one subplot per key, each run's curve over iterations, a legend naming the runs (matplotlib)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ._mpl import pyplot, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MARKER_MAX_POINTS = 30  # curves this short (validation metrics) get a marker on every point
LINESTYLES = ("-", "--", ":", "-.")


class CurveLike(Protocol):
    """What a curve needs to be drawn (``ssdkit.analysis.logs.Curve`` is one)."""

    @property
    def run(self) -> str: ...  # legend label; one colour per run
    @property
    def key(self) -> str: ...  # one subplot per key
    @property
    def name(self) -> str: ...  # the logged name (shown beside the run where it is not the key)
    @property
    def steps(self) -> np.ndarray: ...  # [N] iterations
    @property
    def values(self) -> np.ndarray: ...  # [N]


def curves_figure(curves: Sequence[CurveLike], title: str | None = None) -> Figure:
    """A figure with one subplot per key (in first-seen order), x iterations (one range for all subplots); each run
    one colour in every subplot, a run's several logged names for one key one line style each. A learning rate that
    spans 10x or more is drawn on a log scale (step schedules)."""
    if not curves:
        raise ValueError("no curves to draw")
    keys = list(dict.fromkeys(c.key for c in curves))
    runs = list(dict.fromkeys(c.run for c in curves))
    ncols = 1 if len(keys) == 1 else 2
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = pyplot().subplots(
        nrows, ncols, figsize=(6.4 * ncols, 3.6 * nrows), squeeze=False, sharex=True, layout="constrained"
    )
    flat = list(axes.flat)
    for ax in flat[len(keys) :]:
        ax.remove()
    for ax, key in zip(flat, keys, strict=False):  # the axes beyond the keys were removed
        mine = [c for c in curves if c.key == key]
        for c in mine:
            label = c.run if c.name == key else f"{c.run} ({c.name})"
            nth = [o.name for o in mine if o.run == c.run].index(c.name)  # the run's nth name for this key
            ax.plot(
                c.steps,
                c.values,
                color=f"C{runs.index(c.run) % 10}",
                linestyle=LINESTYLES[nth % len(LINESTYLES)],
                marker="o" if len(c.steps) <= MARKER_MAX_POINTS else None,
                markersize=3,
                linewidth=1.2,
                label=label,
            )
        values = np.concatenate([c.values for c in mine])
        values = values[np.isfinite(values)]
        if key.endswith("lr") and len(values) and values.min() > 0 and values.max() >= 10 * values.min():
            ax.set_yscale("log")
        ax.set_title(key)
        ax.set_xlabel("iteration")
        ax.tick_params(labelbottom=True)  # sharex hides them above the last row
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_curves(curves: Sequence[CurveLike], out_path: str | Path, title: str | None = None) -> Path:
    """Draw ``curves`` (``curves_figure``) into ``out_path`` (format from its suffix); the path written."""
    return save_figure(curves_figure(curves, title), out_path)

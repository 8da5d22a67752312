"""Pictures of priors against a dataset's objects: shapes on log axes, coverage by size, positives per level."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._mpl import pyplot, save_figure

MAX_POINTS = 20000  # objects drawn in the shape plot (a seeded sample beyond that)


def plot_prior_shapes(
    object_wh: np.ndarray, covered: np.ndarray, prior_shapes: np.ndarray, threshold: float, path: str | Path
) -> Path:
    """Objects' ``(w, h) [N, 2]`` (input pixels, log axes; ``covered [N]`` in grey, the others in red) with the
    priors' shapes ``[S, 3]`` (w, h, level) drawn over them, one marker colour per level."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 6))
    idx = np.arange(len(object_wh))
    if len(idx) > MAX_POINTS:
        idx = np.sort(np.random.default_rng(0).choice(len(idx), MAX_POINTS, replace=False))
    wh, cov = object_wh[idx], covered[idx]
    ax.scatter(
        wh[cov, 0], wh[cov, 1], s=4, c="0.6", alpha=0.5, lw=0, label=f"objects covered (best IoU >= {threshold:g})"
    )
    ax.scatter(wh[~cov, 0], wh[~cov, 1], s=5, c="tab:red", alpha=0.6, lw=0, label="objects not covered")
    cmap = plt.get_cmap("viridis")
    levels = np.unique(prior_shapes[:, 2]).astype(int)
    for k in levels:
        shp = prior_shapes[prior_shapes[:, 2] == k]
        ax.scatter(
            shp[:, 0],
            shp[:, 1],
            s=70,
            marker="s",
            facecolors="none",
            lw=1.8,
            edgecolors=[cmap(k / max(len(levels) - 1, 1))],
            label=f"priors, level {k}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width (input pixels)")
    ax.set_ylabel("height (input pixels)")
    ax.set_title(f"{len(object_wh)} objects against the priors' shapes")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="upper left")
    return save_figure(fig, path)


def plot_coverage_by_size(
    bucket_names: Sequence[str],
    coverage: Sequence[float],
    counts: Sequence[int],
    threshold: float,
    path: str | Path,
    xlabel: str = "object size / input side",
) -> Path:
    """Coverage per size bucket (line, left axis) over the number of objects in each (bars, right axis)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(bucket_names))
    twin = ax.twinx()
    twin.bar(x, counts, color="0.85", width=0.6)
    twin.set_ylabel("objects")
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    cov = np.asarray(coverage, float)
    ax.plot(x, cov, "o-", color="tab:blue")
    for xi, c in zip(x, cov, strict=True):
        if np.isfinite(c):
            ax.annotate(f"{c:.0%}", (xi, c), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_xticks(x, list(bucket_names), fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"coverage (best IoU >= {threshold:g})")
    ax.set_title("Prior coverage by object size")
    ax.grid(True, axis="y", alpha=0.3)
    return save_figure(fig, path)


def plot_level_positives(level_names: Sequence[str], positives: Sequence[int] | np.ndarray, path: str | Path) -> Path:
    """The share of positive priors each level takes; a level with none is marked idle."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    pos = np.asarray(positives, float)
    share = pos / max(pos.sum(), 1.0)
    colours = ["tab:red" if p == 0 else "tab:blue" for p in pos]
    x = np.arange(len(level_names))
    ax.bar(x, share, color=colours)
    for xi, s, p in zip(x, share, pos, strict=True):
        ax.annotate(
            "idle" if p == 0 else f"{s:.0%}",
            (xi, s),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            fontsize=8,
            color="tab:red" if p == 0 else "black",
        )
    ax.set_xticks(x, list(level_names), fontsize=8)
    ax.set_ylabel("share of positive priors")
    ax.set_ylim(0, max(float(share.max(initial=0)) * 1.15, 0.05))
    ax.set_title("Positives per level")
    ax.grid(True, axis="y", alpha=0.3)
    return save_figure(fig, path)

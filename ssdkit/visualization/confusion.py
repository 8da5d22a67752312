"""A confusion matrix as a picture: colour the fraction of each row, counts written in the cells when few."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._mpl import pyplot, save_figure


def plot_confusion_matrix(
    matrix: np.ndarray,
    names: Sequence[str],
    out_file: str | Path,
    title: str = "",
    annotate: bool | None = None,
    row_label: str = "ground truth",
    col_label: str = "detected",
) -> Path:
    """Draw ``matrix [K, K]`` counts (rows ground truth, columns detections, ``names [K]`` for both) normalised
    per row in colour (a row without counts stays blank), and write ``out_file``.

    Args:
        annotate: write each non-zero count in its cell; default when ``K <= 25`` (VOC's 20 classes and
            background fit, COCO's 81 rows would not).
    """
    plt = pyplot()
    m = np.asarray(matrix)
    k = len(names)
    if m.shape != (k, k):
        raise ValueError(f"plot_confusion_matrix: matrix of shape {m.shape} for {k} names; expected ({k}, {k})")
    sums = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, sums, out=np.zeros(m.shape, np.float64), where=sums > 0)
    annotate = k <= 25 if annotate is None else annotate
    side = max(5.0, 0.42 * k + 2.0) if annotate else max(5.0, 0.2 * k + 2.5)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the row")
    font = 8 if k <= 25 else 5
    ax.set_xticks(range(k), labels=list(names), rotation=90, fontsize=font)
    ax.set_yticks(range(k), labels=list(names), fontsize=font)
    ax.set(xlabel=col_label, ylabel=row_label)
    if annotate:
        for (i, j), v in np.ndenumerate(m):
            if v:
                ax.text(
                    j,
                    i,
                    str(int(v)),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if frac[i, j] > 0.5 else "black",
                )
    if title:
        ax.set_title(title)
    return save_figure(fig, out_file)

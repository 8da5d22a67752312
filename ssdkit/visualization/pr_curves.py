"""Per-class precision-recall curves in one figure, each class's AP in its legend entry or panel title."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._mpl import pyplot, save_figure


def precision_envelope(recall: np.ndarray, precision: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The interpolated curve VOC's AP integrates: ``[N] -> [N + 2]`` points from recall 0 to 1, precision at each
    recall the highest precision at that recall or above (0 beyond the last point). The precision at ``r[k + 1]``
    holds on ``(r[k], r[k + 1]]`` (draw with ``drawstyle='steps-pre'``), so the area under it is the AP."""
    r = np.concatenate(([0.0], np.asarray(recall, np.float64), [1.0]))
    p = np.concatenate(([0.0], np.asarray(precision, np.float64), [0.0]))
    return r, np.maximum.accumulate(p[::-1])[::-1]


def _label(name: str, ap: float | None, num_gts: int | None) -> str:
    text = f"{name}  AP {ap:.3f}" if ap is not None else f"{name}  (no gt)"
    return text if num_gts is None else f"{text}  n={num_gts}"


def _ap_bars(ax, names: Sequence[str], aps: Sequence[float | None], counts: Sequence[int | None]) -> None:
    """Every class's AP as a horizontal bar, in the given order top to bottom; a class without gts marked."""
    n = len(names)
    y = np.arange(n)
    ax.barh(y, [a or 0.0 for a in aps], color="tab:blue", height=0.7)
    ax.set_yticks(
        y,
        labels=[f"{name} ({g})" if g is not None else name for name, g in zip(names, counts, strict=True)],
        fontsize=6 if n > 40 else 8,
    )
    for i, a in enumerate(aps):
        ax.text(a or 0.0, i, f" {a:.2f}" if a is not None else " no gt", va="center", fontsize=5 if n > 40 else 7)
    ax.set(xlim=(0, 1.12), ylim=(n - 0.5, -0.5), xlabel="AP")
    ax.set_title("AP of every class (gts)" if counts[0] is not None else "AP of every class", fontsize=10)
    ax.grid(axis="x", alpha=0.3)


def plot_pr_curves(
    names: Sequence[str],
    recalls: Sequence[np.ndarray],
    precisions: Sequence[np.ndarray],
    aps: Sequence[float | None],
    out_file: str | Path,
    num_gts: Sequence[int] | None = None,
    title: str = "",
    max_single: int = 12,
) -> Path:
    """Draw each class's interpolated PR curve (:func:`precision_envelope`) and write ``out_file``.

    Args:
        names, recalls, precisions, aps: per class: name, ``[N_c]`` recall and precision points, AP (``None``
            for a class without ground truth).
        num_gts: per class gt count, shown beside the AP.
        max_single: up to this many classes are drawn, in one axes with a legend; with more (COCO's 80), the
            curves of the ``max_single`` classes with the most gts, and beside them a bar of every class's AP.
    """
    plt = pyplot()
    n = len(names)
    if not (len(recalls) == len(precisions) == len(aps) == n) or (num_gts is not None and len(num_gts) != n):
        raise ValueError(
            f"plot_pr_curves: {n} names but {len(recalls)} recalls, {len(precisions)} precisions, "
            f"{len(aps)} aps" + (f", {len(num_gts)} num_gts" if num_gts is not None else "")
        )
    counts: Sequence[int | None] = num_gts if num_gts is not None else [None] * n
    shown = list(range(n))
    if n > max_single:  # the classes with the most gts (as given without counts), in the given order
        shown = sorted(sorted(range(n), key=lambda i: -(counts[i] or 0))[:max_single])
        fig, (ax, bars) = plt.subplots(
            1, 2, figsize=(14, max(6.5, 0.16 * n + 1.5)), layout="constrained", gridspec_kw=dict(width_ratios=(1.4, 1))
        )
        ax.set_box_aspect(1)
        ax.set_anchor("N")
        _ap_bars(bars, names, aps, counts)
    else:
        fig, ax = plt.subplots(figsize=(7.5, 6), layout="constrained")
    cmap = plt.get_cmap("tab20" if len(shown) > 10 else "tab10")
    for j, i in enumerate(shown):
        ax.plot(
            *precision_envelope(recalls[i], precisions[i]),
            drawstyle="steps-pre",
            color=cmap(j % cmap.N),
            lw=1.6,
            label=_label(names[i], aps[i], counts[i]),
        )
    ax.set(xlim=(0, 1.01), ylim=(0, 1.02), xlabel="recall", ylabel="precision (interpolated)")
    ax.grid(alpha=0.3)
    if shown:
        ax.legend(loc="best", fontsize=8, framealpha=0.85)
    if n > max_single:
        ax.set_title(f"the {len(shown)} classes with the most ground truth", fontsize=10)
    if title:
        fig.suptitle(title)
    return save_figure(fig, out_file)

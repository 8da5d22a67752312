"""The one place ssdkit imports matplotlib: a headless pyplot, or an error that says which extra to install."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssdkit.utils.atomic import atomic_write


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (figures are only written to files)."""
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError(
            "ssdkit's analysis pictures need matplotlib, which is not installed: "
            "pip install 'ssdkit[analysis]' (or pip install matplotlib)"
        ) from err
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix, parents made) atomically, then close it."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    try:
        atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi, bbox_inches="tight"))
    finally:
        pyplot().close(fig)
    return path

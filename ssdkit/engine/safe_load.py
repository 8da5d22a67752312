"""Load mmengine checkpoints with ``weights_only=True`` by allow-listing exactly what mmengine saves.

mmengine 0.10.7 pickles its ``MessageHub`` (``HistoryBuffer`` objects holding numpy arrays, and their
statistics methods as ``getattr(HistoryBuffer, 'mean')``). torch >= 2.6 refuses those under
``weights_only=True``. Rather than ``weights_only=False`` (arbitrary code on load), we allow the
numpy array types, ``HistoryBuffer`` and a ``getattr`` that only resolves ``HistoryBuffer``'s
statistics methods; anything else in a file is still refused.
"""

from __future__ import annotations

import importlib
import pickle
from typing import Any

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

_installed = False
STATISTICS = ("min", "max", "current", "mean")  # HistoryBuffer's built-in statistics methods


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` as unpickling may call it: only ``HistoryBuffer.<statistics method>``."""
    if obj is HistoryBuffer and (name in STATISTICS or name in HistoryBuffer._statistics_methods):
        return getattr(obj, name)
    raise pickle.UnpicklingError(f"getattr({obj!r}, {name!r}) is not allowed in a checkpoint")


def safe_globals() -> list:
    """The exact globals mmengine's checkpoints need beyond torch's defaults."""
    multiarray = importlib.import_module("numpy._core.multiarray" if hasattr(np, "_core") else "numpy.core.multiarray")
    reconstruct, scalar = multiarray._reconstruct, multiarray.scalar
    dtypes = [type(np.dtype(t)) for t in (np.float64, np.float32, np.int64, np.int32, np.bool_, np.uint8)]
    return [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        reconstruct,
        scalar,
        *dtypes,
        (history_buffer_getattr, "builtins.getattr"),
        (history_buffer_getattr, "__builtin__.getattr"),
    ]


def allow_mmengine_checkpoints() -> None:
    """Register :func:`safe_globals` with torch once per process."""
    global _installed
    if not _installed:
        torch.serialization.add_safe_globals(safe_globals())
        _installed = True

"""Atomic file writes: a crash or kill mid-write leaves the previous file whole."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch


def _umask_mode() -> int:
    """The mode a plain ``open(path, 'w')`` would give (mkstemp's files are 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class DiskFullError(OSError):
    """A write that ran out of space (``ENOSPC``, ``EDQUOT``), naming the file, the free space and the size needed."""


#: the errors of a full disk or an exhausted quota
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def _size(n: float) -> str:
    """Bytes as a short human-readable size."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def disk_full(path: Path, written: int, err: OSError) -> DiskFullError:
    """The error of a write to ``path`` that ran out of space after ``written`` bytes: the free space in its folder,
    and as the size needed the larger of ``written`` and the size of ``path`` or, for a new file, of the largest file
    beside it with the same suffix (the previous checkpoint)."""
    free = shutil.disk_usage(path.parent).free
    siblings = [f.stat().st_size for f in path.parent.glob(f"*{path.suffix}") if f.is_file()] if path.suffix else []
    previous = path.stat().st_size if path.is_file() else max(siblings, default=0)
    needed = max(written, previous)
    full = DiskFullError(
        f"no space left writing '{path}': {_size(free)} free in '{path.parent}', about {_size(needed)} needed "
        f"({_size(written)} written when it failed); the previous files are untouched and no partial file is left "
        f"({os.strerror(err.errno or errno.ENOSPC)})"
    )
    full.errno = err.errno
    return full


def atomic_write(path: str | os.PathLike, write: Callable[[IO[Any]], None], binary: bool = True) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``. On any failure
    the temporary file is removed and ``path`` is unchanged; running out of space raises :class:`DiskFullError`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException as err:
        written = os.path.getsize(tmp) if os.path.exists(tmp) else 0
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, DiskFullError) and err.errno in NO_SPACE:
            raise disk_full(path, written, err) from None
        raise


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` atomically."""
    atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` atomically."""

    def write(f: IO) -> None:
        f.write(text)

    atomic_write(path, write, binary=False)

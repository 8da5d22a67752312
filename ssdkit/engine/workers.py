"""Data-loader worker processes chosen from the cores a run has (``num_workers='auto'``)."""

from __future__ import annotations

import os

import torch
from mmengine.config import Config

from .checks import LOADERS, ConfigError


def cores_per_process() -> int:
    """The cores this process may run on, shared among the local ranks of a ``torchrun`` job."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))


def auto_num_workers(cores: int | None = None, cuda: bool | None = None) -> int:
    """Loader processes for ``cores`` cores: with a GPU, half of them (at most 8), since the network runs on the
    GPU; on a CPU-only machine the network's threads need the cores, so none up to 4 cores and 2 above."""
    cores = cores_per_process() if cores is None else cores
    cuda = torch.cuda.is_available() if cuda is None else cuda
    if cuda:
        return max(1, min(8, cores // 2))
    return 0 if cores <= 4 else 2


def wire_num_workers(cfg: Config) -> Config:
    """Replace ``num_workers='auto'`` in each dataloader by :func:`auto_num_workers`; with none, the loader options
    that need workers (``persistent_workers``, ``prefetch_factor``) are dropped."""
    for loader in LOADERS:
        dl = cfg.get(loader)
        value = dl.get("num_workers") if isinstance(dl, dict) else None
        if isinstance(value, str) and value != "auto":
            raise ConfigError(f"{loader}.num_workers={value!r}; valid: a count >= 0 or 'auto'")
        if value != "auto":
            continue
        dl["num_workers"] = auto_num_workers()
        if dl["num_workers"] == 0:
            dl.pop("prefetch_factor", None)
            dl["persistent_workers"] = False
    return cfg

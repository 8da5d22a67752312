"""Runs under torchrun that lose a rank: a collective that fails because another rank died or stopped answering
becomes one clear error after a stated timeout, and a worker torchrun restarts (``--max-restarts``) resumes from
the newest checkpoint in the work dir by itself."""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist
from mmengine.config import Config

from .checkpoint import latest_checkpoint

#: seconds a collective waits for the other ranks before failing (``env_cfg.dist_cfg.timeout``); torch's default
DEFAULT_DIST_TIMEOUT = 1800
#: what gloo and NCCL say when a peer process is gone or silent
_PEER_FAULTS = (
    "connection closed by peer",
    "connection reset by peer",
    "broken pipe",
    "timed out",
    "timeout",
    "socket",
    "nccl",
)


class PeerLostError(RuntimeError):
    """A collective failed because another rank died or did not answer within the timeout."""


def restart_count() -> int:
    """How many times torchrun has restarted this worker group (0 outside torchrun)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT") or 0)


def resume_after_restart(cfg: Config) -> str | None:
    """A restarted torchrun worker (``TORCHELASTIC_RESTART_COUNT`` > 0) without ``--resume`` continues from the
    newest checkpoint in ``cfg.work_dir``; returns it (None: first attempt, resume already asked, or no checkpoint
    yet, when the run starts over as configured)."""
    if restart_count() == 0 or cfg.get("resume"):
        return None
    ckpt = latest_checkpoint(cfg.work_dir)
    if ckpt is not None:
        cfg.resume, cfg.load_from = True, ckpt
    return ckpt


def init_process_group(backend: str, cfg: Config) -> None:
    """Start the default process group from torchrun's environment with the config's timeout. A restarted worker
    group keys its rendezvous under ``attempt_<n>``: the store torchrun's agent shares across restarts still holds
    the previous attempt's addresses, and a new rank reading a dead peer's fails to connect."""
    timeout = datetime.timedelta(seconds=dist_timeout(cfg))
    attempt = restart_count()
    if attempt == 0:
        dist.init_process_group(backend=backend, timeout=timeout)
        return
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    store, rank, world_size = next(dist.rendezvous("env://", timeout=timeout))
    store = dist.PrefixStore(f"attempt_{attempt}", store)
    dist.init_process_group(backend=backend, store=store, rank=rank, world_size=world_size, timeout=timeout)


def dist_timeout(cfg: Config) -> float:
    """``env_cfg.dist_cfg.timeout`` in seconds (mmengine's key), else :data:`DEFAULT_DIST_TIMEOUT`."""
    dist_cfg = (cfg.get("env_cfg") or {}).get("dist_cfg") or {}
    return float(dist_cfg.get("timeout", DEFAULT_DIST_TIMEOUT))


@contextlib.contextmanager
def peer_errors(cfg: Config) -> Iterator[None]:
    """Turn a collective's failure in a distributed run into :class:`PeerLostError`, naming this rank, the
    timeout and what happens next."""
    try:
        yield
    except RuntimeError as err:
        if not (dist.is_available() and dist.is_initialized()):
            raise
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if not any(fault in first.lower() for fault in _PEER_FAULTS):
            raise
        rank, world = dist.get_rank(), dist.get_world_size()
        raise PeerLostError(
            f"rank {rank} of {world} lost another rank: it died, or did not answer within {dist_timeout(cfg):.0f} s "
            f"(env_cfg.dist_cfg.timeout) ({first}); under torchrun --max-restarts=N the workers restart and resume "
            f"from the newest checkpoint in {cfg.work_dir}"
        ) from err

"""Hooks that stage faults at a fixed iteration (imported by the configs of tests/test_preemption.py and
tests/test_elastic.py through ``custom_imports``)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import torch.distributed as dist
from mmengine.hooks import Hook

from ssdkit.registry import HOOKS


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def signalled(runner) -> bool:
    """Whether the run's PreemptionHook has received a stop signal (torchrun's SIGTERM to its workers)."""
    return any(getattr(getattr(h, "signals", None), "received", None) for h in runner.hooks)


@HOOKS.register_module()
class PauseHook(Hook):
    """After iteration ``at`` (1-based), on rank ``on_rank`` of torchrun's first attempt: write ``paused_rank<r>``
    (holding the pid) in the work dir, then wait until a file ``go`` appears there, ``seconds`` pass or a stop
    signal arrives."""

    priority = "HIGHEST"

    def __init__(self, at: int, on_rank: int = 0, seconds: float = 60.0) -> None:
        self.at, self.on_rank, self.seconds = at, on_rank, seconds

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        first_attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT") or 0) == 0
        if runner.iter + 1 != self.at or rank() != self.on_rank or not first_attempt:
            return
        work = Path(runner.work_dir)
        mark = work / f"paused_rank{rank()}"
        mark.with_suffix(".tmp").write_text(str(os.getpid()))
        os.replace(mark.with_suffix(".tmp"), mark)  # whole when it appears
        end = time.monotonic() + self.seconds
        while not (work / "go").exists() and time.monotonic() < end and not signalled(runner):
            time.sleep(0.02)


@HOOKS.register_module()
class SelfSignalHook(Hook):
    """Send this process ``first`` after iteration ``at`` (or, ``in_validation``, during the validation after it),
    then each of ``while_saving`` from inside the checkpoint save that follows (``before_save_checkpoint``)."""

    priority = "HIGHEST"

    def __init__(self, at: int, first: str, while_saving: tuple[str, ...] = (), in_validation: bool = False) -> None:
        self.at, self.first, self.while_saving, self.in_validation = at, first, while_saving, in_validation
        self.sent = False

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.at and not self.in_validation:
            self.send()

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        """With ``in_validation``: after the first batch of the validation that follows iteration ``at``."""
        if self.in_validation and runner.iter == self.at and batch_idx == 0:
            self.send()

    def send(self) -> None:
        self.sent = True
        os.kill(os.getpid(), signal.Signals[self.first])

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        if self.sent:
            for name in self.while_saving:
                os.kill(os.getpid(), signal.Signals[name])
                time.sleep(0.05)  # delivered now, while the checkpoint is being written

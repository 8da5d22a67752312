"""Stop a training run on SIGTERM or SIGINT with nothing lost: the iteration in progress finishes, every rank
agrees on the iteration to stop after, rank 0 writes a checkpoint (atomically) and points ``last_checkpoint`` at it,
and the process exits with :data:`PREEMPTED_EXIT_CODE`. ``--resume`` then continues from that iteration.

Signals only set a flag (the handler does no I/O); further signals while stopping are counted and ignored until the
checkpoint is whole, so a second Ctrl-C or a scheduler's repeated SIGTERM cannot leave a half-written file
(SIGKILL still can stop the process, and the atomic write then leaves the previous checkpoint).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import os.path as osp
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.hooks import CheckpointHook, Hook
from torch.utils.data import DataLoader

from ssdkit.registry import HOOKS
from ssdkit.utils.atomic import atomic_write_text

from .checkpoint import latest_checkpoint

#: sysexits.h ``EX_TEMPFAIL``: a temporary failure; run the same command again with ``--resume``.
PREEMPTED_EXIT_CODE = 75
DEFAULT_SIGNALS = ("SIGTERM", "SIGINT")


class Preempted(SystemExit):
    """Raised after the checkpoint of a stopped run is written; exits with :data:`PREEMPTED_EXIT_CODE`."""

    def __init__(self, checkpoint: str | None, signame: str) -> None:
        super().__init__(PREEMPTED_EXIT_CODE)
        self.checkpoint = checkpoint
        self.signame = signame


def signal_numbers(names: tuple[str, ...] | list[str]) -> list[signal.Signals]:
    """``('SIGTERM', 'SIGINT')`` -> signal numbers; an unknown name is a ``ValueError`` listing the valid ones."""
    valid = sorted(s.name for s in signal.Signals if not s.name.startswith("SIG_"))
    out = []
    for name in names:
        if name not in valid:
            raise ValueError(f"PreemptionHook(signals=...): unknown signal {name!r}; valid: {', '.join(valid)}")
        out.append(signal.Signals[name])
    return out


class StopSignals:
    """Handlers that only record the signals received (number, in order); :meth:`restore` puts the previous
    handlers back. While any is installed, the loaders built (:func:`quiet_workers`) ignore these signals in their
    workers, so a signal sent to the whole process group (as schedulers and Ctrl-C do) leaves the stopping to the
    main process instead of killing a worker under it."""

    def __init__(self, numbers: list[signal.Signals]) -> None:
        self.numbers = numbers
        self.received: list[int] = []
        self._previous: dict[int, object] = {}

    @property
    def armed(self) -> bool:
        return bool(self._previous)

    def install(self) -> bool:
        """Install the handlers (only the main thread may); False when they could not be."""
        if self.armed or threading.current_thread() is not threading.main_thread():
            return self.armed
        for num in self.numbers:
            self._previous[num] = signal.signal(num, self._record)
        _ARMED.append(self)
        _released().value = 0
        return True

    def restore(self) -> None:
        for num, handler in self._previous.items():
            signal.signal(num, handler)  # type: ignore[arg-type]
        self._previous.clear()
        if self in _ARMED:
            _ARMED.remove(self)
        if not _ARMED:
            _release()

    def _record(self, signum: int, frame) -> None:
        self.received.append(signum)


_ARMED: list[StopSignals] = []
_RELEASED: Any = None  # shared with the workers: 1 while no run is training, when a stop signal ends a worker


def _released() -> Any:
    global _RELEASED
    if _RELEASED is None:
        _RELEASED = multiprocessing.Value("b", 1, lock=False)
        atexit.register(_release)  # runs before multiprocessing's own exit handler terminates the workers
    return _RELEASED


def _release() -> None:
    _released().value = 1


class IgnoreInWorker:
    """A DataLoader ``worker_init_fn``: the loader's own, then a handler for ``numbers`` that ignores them while
    the main process trains and acts as the default once it has stopped training (so its shutdown, and
    multiprocessing's at exit, still end the worker) or is gone."""

    def __init__(self, inner: Callable[[int], None] | None, numbers: Sequence[int]) -> None:
        self.inner, self.numbers = inner, numbers
        self.parent = os.getpid()
        self.released = _released()

    def __call__(self, worker_id: int) -> None:
        if self.inner is not None:
            self.inner(worker_id)
        for num in self.numbers:
            signal.signal(num, self._on_signal)

    def _on_signal(self, signum: int, frame) -> None:
        if self.released.value or os.getppid() != self.parent:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)


def quiet_workers(loader):
    """Give a DataLoader with worker processes :class:`IgnoreInWorker` when stop signals are armed in this process
    (before its workers start); returns the loader."""
    numbers = sorted({n for armed in _ARMED for n in armed.numbers})
    if numbers and isinstance(loader, DataLoader) and loader.num_workers > 0:
        loader.worker_init_fn = IgnoreInWorker(loader.worker_init_fn, numbers)
    return loader


@HOOKS.register_module()
class PreemptionHook(Hook):
    """On one of ``signals`` during training: finish the iteration (or the validation batch, in a validation during
    training), write ``iter_<n>.pth`` (where the config's ``CheckpointHook`` writes), point ``last_checkpoint`` at
    it, log where, and raise :class:`Preempted`.

    With more than one rank the ranks agree after each iteration (one max all-reduce of a flag), so all stop after
    the same one. A run in an epoch-based loop stops mid-epoch too; its resume starts that epoch over.
    """

    priority = "LOWEST"  # after CheckpointHook, so an iteration it has just saved is not saved twice

    def __init__(self, signals: tuple[str, ...] | list[str] = DEFAULT_SIGNALS) -> None:
        self.signals = StopSignals(signal_numbers(signals))

    def arm(self) -> bool:
        """Install the signal handlers now (``build_runner``'s callers arm before the loaders fork)."""
        return self.signals.install()

    def before_train(self, runner) -> None:
        if not self.arm():
            runner.logger.warning("PreemptionHook: not in the main thread; SIGTERM/SIGINT keep their handlers")

    def after_train(self, runner) -> None:
        self.signals.restore()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        first = self._agreed_signal()
        if first is not None:
            self._stop(runner, first, runner.iter + 1, "after iteration")

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """A validation inside training stops too (a long one would outlast a scheduler's grace period); resuming
        continues the training, without this validation."""
        if not self.signals.armed or not _same_length_on_every_rank(runner.val_loop.dataloader):
            return  # outside training (tools/test.py); or ranks that may run unequal batches cannot agree per batch
        first = self._agreed_signal()
        if first is not None:
            self._stop(runner, first, runner.iter, "in the validation after iteration")

    def _stop(self, runner, first: int, step: int, where: str) -> None:
        """Write the checkpoint of ``step`` (finished iterations), log, and raise :class:`Preempted`."""
        signame = signal.Signals(first).name if first > 0 else "a signal on another rank"
        path = save_now(runner, step)
        extra = len(self.signals.received) - 1
        written = (
            f"checkpoint {path}"
            if path
            else f"no checkpoint written; --resume continues from {latest_checkpoint(runner.work_dir)}"
        )
        runner.logger.warning(
            f"{signame} received: stopped {where} {step}; {written}"
            + (f" ({extra} more signal(s) while stopping were ignored)" if extra > 0 else "")
            + f"; exit status {PREEMPTED_EXIT_CODE}; continue with --resume"
        )
        self.signals.restore()  # the process is leaving training; a caller in the same process gets its handlers back
        raise Preempted(path, signame)

    def _agreed_signal(self) -> int | None:
        """This rank's first signal, -1 when only another rank got one, None when no rank did."""
        mine = self.signals.received[0] if self.signals.received else None
        if get_world_size() == 1:
            return mine
        flag = torch.tensor([1 if mine is not None else 0])
        all_reduce(flag, op="max")
        return mine if mine is not None else (-1 if int(flag.item()) else None)


def _same_length_on_every_rank(loader) -> bool:
    """Whether every rank runs as many batches of ``loader`` (one process; or mmengine's ``DefaultSampler``, which
    pads every rank to the same length unless ``round_up=False``)."""
    return get_world_size() == 1 or bool(getattr(getattr(loader, "sampler", None), "round_up", False))


def checkpoint_hook(runner) -> CheckpointHook | None:
    return next((h for h in runner.hooks if isinstance(h, CheckpointHook)), None)


def save_now(runner, step: int | None = None) -> str | None:
    """Write the checkpoint after ``step`` iterations (default: the one just finished; unless the ``CheckpointHook``
    has written it) where and as the hook writes, and point ``last_checkpoint`` at it; every rank returns its path.
    Rank 0 returns None, and ``last_checkpoint`` keeps naming the previous one, when the write failed and
    ``checkpoint_errors='continue'`` let training go on."""
    hook = checkpoint_hook(runner)
    step = runner.iter + 1 if step is None else step
    meta = dict(epoch=runner.epoch, iter=step)
    if hook is not None and not hook.by_epoch:
        path = hook.file_backend.join_path(hook.out_dir, hook.filename_tmpl.format(step))
        if hook.last_ckpt != path or not osp.isfile(path):
            hook._save_checkpoint_with_step(runner, step, meta)
    else:  # an epoch-based hook names its files by epoch; this one is by iteration, in the work dir
        path = osp.join(runner.work_dir, f"iter_{step}.pth")
        runner.save_checkpoint(runner.work_dir, osp.basename(path), meta=meta, by_epoch=False)
        if is_main_process() and osp.isfile(path):
            runner.message_hub.update_info("last_ckpt", path)
            atomic_write_text(osp.join(runner.work_dir, "last_checkpoint"), path)
    return None if is_main_process() and not osp.isfile(path) else path


def arm_preemption(runner) -> bool:
    """Arm the runner's :class:`PreemptionHook` (if it has one); True when armed."""
    return any(h.arm() for h in runner.hooks if isinstance(h, PreemptionHook))

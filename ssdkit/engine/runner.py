"""Build mmengine's Runner for ssdkit configs, on GPUs and on CPU-only machines."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Sequence

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from ssdkit.utils.allocator import tune_allocator
from ssdkit.utils.atomic import DiskFullError
from ssdkit.utils.cpu import describe_cpu

from .checkpoint import check_checkpoint, install_safe_checkpoints
from .checks import ConfigError, check_config, check_data_files, wire_num_classes
from .console import log_file, quiet_console
from .elastic import init_process_group, restart_count
from .preemption import quiet_workers
from .recipe import wire_expand_fill
from .workers import wire_num_workers


def register_all() -> None:
    """Import every ssdkit module that registers components."""
    import ssdkit.data  # noqa: F401
    import ssdkit.engine.bf16  # noqa: F401
    import ssdkit.engine.checkpoint_hook  # noqa: F401
    import ssdkit.engine.hooks  # noqa: F401
    import ssdkit.engine.preemption  # noqa: F401
    import ssdkit.evaluation  # noqa: F401
    import ssdkit.models  # noqa: F401


def init_cpu_distributed(cfg: Config) -> None:
    """``launcher='pytorch'`` without CUDA: mmengine would call ``torch.cuda.set_device`` and give DDP
    ``device_ids=[LOCAL_RANK]``; start the gloo group here and wrap without device ids instead."""
    if not dist.is_initialized():
        init_process_group("gloo", cfg)
    wrapper = dict(cfg.get("model_wrapper_cfg") or dict(type="MMDistributedDataParallel"))
    wrapper["device_ids"] = None
    cfg.model_wrapper_cfg = wrapper
    env_cfg = dict(cfg.get("env_cfg") or {})
    cfg.env_cfg = dict(env_cfg, dist_cfg=dict(env_cfg.get("dist_cfg") or {}, backend="gloo"))


_DESTROYED_GROUP = False


def finish_distributed() -> None:
    """End a distributed run cleanly: wait for every rank, then destroy the process group. A gloo group
    left to interpreter exit can abort a rank ("terminate called without an active exception")."""
    global _DESTROYED_GROUP
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
        _DESTROYED_GROUP = True


def exit_distributed_worker(code: int = 0) -> None:
    """Leave a torchrun worker whose group :func:`finish_distributed` destroyed, with exit status ``code`` and
    without interpreter finalisation; a no-op in any other process.

    Even after the group is destroyed, about one run in ten (2 ranks, gloo, CPU, torch 2.14) aborted in
    C++ teardown after Python's ``atexit`` handlers had run, so torchrun reported a finished run as failed
    (SIGABRT). The tools call this last, once their output is flushed; nothing is left for finalisation to do.
    """
    if _DESTROYED_GROUP:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def apply_sync_bn(cfg: Config) -> None:
    if not cfg.get("sync_bn"):
        return
    if torch.cuda.is_available():
        cfg.env_cfg = dict(cfg.get("env_cfg", {}))
        cfg.sync_bn = "torch"
    else:
        warnings.warn(
            "sync_bn requested on a CPU-only machine: plain BatchNorm is used (SyncBN needs CUDA)", stacklevel=2
        )
        cfg.pop("sync_bn")


def prepare_config(cfg: Config, data_of: Sequence[str] = ()) -> Config:
    """What ssdkit does to a config before anything is built from it: registries, ``model.num_classes`` from the
    data's classes, ``Expand``'s fill from the model's input normalisation, loader processes for
    ``num_workers='auto'`` (:mod:`ssdkit.engine.workers`), :func:`check_config` (a bad key, path or
    pipeline raises :class:`ConfigError`), the checkpoint ``load_from`` names (``--resume CKPT`` too) read and
    compared with the model (:func:`check_checkpoint`: a ``CheckpointError``), the prior check for training
    (:func:`wire_prior_check`), a
    ``TimedProgressHook`` when the config has none, the data files of the loaders ``data_of`` (the ones the run
    reads; :func:`ssdkit.engine.checks.check_data_files`), and
    ``default_scope='ssdkit'``."""
    register_all()
    wire_num_classes(cfg)
    wire_expand_fill(cfg)
    wire_num_workers(cfg)
    wire_prior_check(cfg)
    wire_preemption(cfg)
    if cfg.get("checkpoint_errors", "stop") not in ("stop", "continue"):
        raise ConfigError(f"checkpoint_errors={cfg.checkpoint_errors!r}: give 'stop' (the default) or 'continue'")
    model = check_config(cfg)
    if isinstance(cfg.get("load_from"), str):
        check_checkpoint(cfg.load_from, model)  # readable, and this model's weights, before the Runner builds
    add_hook_once(cfg, dict(type="TimedProgressHook"))  # progress at least every 30 s
    for loader in data_of:
        if isinstance(cfg.get(loader), dict):
            check_data_files(cfg[loader].get("dataset"))
    cfg.setdefault("default_scope", "ssdkit")
    return cfg


def wire_prior_check(cfg: Config) -> None:
    """A training config gets the prior check before its first iteration (``PriorCheckHook``, in
    ``ssdkit.analysis``): always, unless ``prior_check=False``; with ``auto_priors=dict(min_coverage=c)`` it also
    fits the priors when their coverage is under ``c``."""
    auto = cfg.get("auto_priors")
    if auto not in (None, False) and (not isinstance(auto, dict) or set(auto) != {"min_coverage"}):
        raise ConfigError(f"auto_priors={auto!r}: give auto_priors=dict(min_coverage=0.9), or None to only check")
    if cfg.get("prior_check", True) and "train_dataloader" in cfg:
        add_hook_once(cfg, dict(type="PriorCheckHook", min_coverage=(auto or {}).get("min_coverage")))


def wire_preemption(cfg: Config) -> None:
    """A training config gets ``PreemptionHook`` (SIGTERM / SIGINT: checkpoint, then exit), unless
    ``preemption=False``; ``preemption=dict(signals=[...])`` names other signals (e.g. SLURM's ``SIGUSR1``)."""
    setting = cfg.get("preemption", True)
    if setting is False or "train_dataloader" not in cfg:
        return
    if setting is not True and (not isinstance(setting, dict) or set(setting) - {"signals"}):
        raise ConfigError(f"preemption={setting!r}: give True, False or dict(signals=['SIGTERM', 'SIGINT'])")
    add_hook_once(cfg, dict(type="PreemptionHook", **(setting if isinstance(setting, dict) else {})))


def add_hook_once(cfg: Config, hook: dict) -> None:
    """Append ``hook`` to ``cfg.custom_hooks`` unless the config already has a hook of its type."""
    hooks = list(cfg.get("custom_hooks") or [])
    if not any(isinstance(h, dict) and h.get("type") == hook["type"] for h in hooks):
        cfg.custom_hooks = [*hooks, hook]


def build_runner(cfg: Config, data_of: Sequence[str] = ()) -> Runner:
    """``Runner.from_cfg`` after ssdkit's set-up: :func:`prepare_config` (so a config error, or a missing data file
    of the loaders ``data_of``, comes before the Runner prints anything), safe checkpoints, CPU distribution, the
    allocator kept from handing memory back between steps (:mod:`ssdkit.utils.allocator`)."""
    tuned = tune_allocator()
    prepare_config(cfg, data_of)
    install_safe_checkpoints()
    if cfg.get("launcher", "none") == "pytorch" and not torch.cuda.is_available():
        init_cpu_distributed(cfg)
    elif cfg.get("launcher", "none") == "pytorch" and restart_count() > 0 and not dist.is_initialized():
        init_process_group(((cfg.get("env_cfg") or {}).get("dist_cfg") or {}).get("backend", "nccl"), cfg)
    apply_sync_bn(cfg)
    if "OMP_NUM_THREADS" in os.environ and cfg.get("launcher", "none") == "pytorch":
        torch.set_num_threads(max(1, int(os.environ["OMP_NUM_THREADS"])))
    runner = SSDRunner.from_cfg(cfg)
    runner.logger.info(
        f"{describe_cpu()}; allocator settings {'on' if tuned else 'off'} (ssdkit.utils.allocator)"
        f"{memory_and_kernels(runner.model)}"
    )
    if not cfg.get("verbose") and (path := log_file(runner.logger)):
        runner.logger.info(f"full log (environment, config, hooks): {path}; --verbose prints it here too")
    return runner


class SSDRunner(Runner):
    """mmengine's ``Runner`` whose console leaves out the environment, config and hook dump (kept in the log file)
    unless the config says ``verbose=True`` (:mod:`ssdkit.engine.console`)."""

    def build_logger(self, log_level: int | str = "INFO", log_file: str | None = None, **kwargs) -> MMLogger:
        logger = super().build_logger(log_level, log_file, **kwargs)
        if not self.cfg.get("verbose"):
            quiet_console(logger)
        return logger

    def save_checkpoint(self, *args, **kwargs) -> None:
        """mmengine's save; with ``checkpoint_errors='continue'`` in the config a write that runs out of space is a
        warning and training goes on (the previous checkpoints stay whole); by default it stops training."""
        try:
            super().save_checkpoint(*args, **kwargs)
        except DiskFullError as err:
            if self.cfg.get("checkpoint_errors", "stop") != "continue":
                raise
            self.logger.warning(f"{err}; training goes on without this checkpoint (checkpoint_errors='continue')")

    @staticmethod
    def build_dataloader(dataloader, seed: int | None = None, diff_rank_seed: bool = False):
        """mmengine's loader; its workers ignore the stop signals a training run handles
        (:func:`ssdkit.engine.preemption.quiet_workers`)."""
        return quiet_workers(Runner.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed))


def memory_and_kernels(model: torch.nn.Module) -> str:
    """``'; NCHW in training; 27 Winograd 3x3 convs (NNPACK)'`` for an SSD (what ``channels_last`` /
    ``winograd='auto'`` chose on this CPU; the model is built in training mode), ``''`` for a model without them."""
    model = getattr(model, "module", model)  # DDP
    if not hasattr(model, "channels_last"):
        return ""
    n = int(getattr(model, "winograd_convs", 0))
    wino = f"{n} Winograd 3x3 convs (NNPACK)" if n else "no Winograd convs (oneDNN)"
    return f"; {'NHWC' if model.channels_last else 'NCHW'} in training; {wino}"

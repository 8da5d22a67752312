"""Train a detector from a config with mmengine's Runner.

python tools/train.py CONFIG [--work-dir D] [--resume [CKPT]] [--amp] [--seed S] [--deterministic]
                             [--auto-scale-lr] [--auto-priors [MIN_COVERAGE]] [--tensorboard]
                             [--vis-backend tensorboard|mlflow|wandb] [--cfg-options k=v ...] [--launcher none|pytorch]
                             [--verbose]
torchrun --nproc_per_node=N tools/train.py CONFIG --launcher pytorch     # GPUs (nccl) or CPU (gloo)
"""

from __future__ import annotations

import argparse

from mmengine.config import Config

from ssdkit.engine.config import add_config_args, load_config, one_line_errors
from ssdkit.engine.trackers import VIS_BACKENDS, add_vis_backend

DEBUG_HELP = (
    "A config, path or data error is printed as one line before training starts; set SSDKIT_DEBUG=1 "
    "for the full traceback."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=DEBUG_HELP
    )
    add_config_args(ap)
    ap.add_argument(
        "--verbose",
        action="store_true",
        help="also print mmengine's environment, config and hook dump (always in the log file)",
    )
    ap.add_argument("--resume", nargs="?", const="auto", help="resume from CKPT, or the latest in the work dir")
    ap.add_argument("--amp", action="store_true", help="mixed precision: float16 on GPU, bfloat16 on CPU")
    ap.add_argument("--auto-scale-lr", action="store_true", help="scale lr linearly with the total batch size")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--deterministic", action="store_true")
    ap.add_argument(
        "--auto-priors",
        nargs="?",
        type=float,
        const=0.9,
        metavar="MIN_COVERAGE",
        help="fit the priors before training when their coverage of the training objects is under MIN_COVERAGE "
        "(default 0.9); the check itself always runs",
    )
    ap.add_argument(
        "--tensorboard",
        action="store_true",
        help="also log to TensorBoard (<work-dir>/<timestamp>/vis_data); pip install 'ssdkit[tensorboard]'",
    )
    ap.add_argument(
        "--vis-backend",
        action="append",
        choices=list(VIS_BACKENDS),
        help="also log to this tracker (repeatable): tensorboard; mlflow (MLFLOW_TRACKING_URI, else "
        "<work-dir>/mlruns); wandb (WANDB_MODE=offline keeps it local); pip install 'ssdkit[<name>]'",
    )
    return ap.parse_args(argv)


def amp_wrapper(optim_wrapper: dict) -> dict:
    """``--amp``: float16 with a dynamic loss scale on GPUs (mmengine's ``AmpOptimWrapper``), bfloat16
    autocast on CPU (``BF16OptimWrapper``; float32 with a warning on a CPU without native bf16)."""
    import torch

    if torch.cuda.is_available():
        gpu = {k: v for k, v in optim_wrapper.items() if k != "fallback_fp32"}  # a BF16OptimWrapper-only option
        return dict(gpu, type="AmpOptimWrapper", loss_scale="dynamic")
    return dict(optim_wrapper, type="BF16OptimWrapper")


def trackers(args: argparse.Namespace) -> list[tuple[str, str]]:
    """``(tracker, the option that asked for it)`` for ``--tensorboard`` and each ``--vis-backend``."""
    asked = [("tensorboard", "--tensorboard")] if args.tensorboard else []
    return asked + [(name, f"--vis-backend {name}") for name in args.vis_backend or ()]


def build_cfg(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    cfg.verbose = args.verbose
    if args.resume == "auto":
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    if args.amp:
        cfg.optim_wrapper = amp_wrapper(cfg.optim_wrapper)
    for name, flag in trackers(args):
        add_vis_backend(cfg, name, flag)
    if args.auto_priors is not None:
        cfg.auto_priors = dict(min_coverage=args.auto_priors)
    if args.auto_scale_lr:
        cfg.auto_scale_lr = dict(cfg.get("auto_scale_lr", {}), enable=True)
    if args.seed is not None or args.deterministic:
        cfg.randomness = dict(seed=args.seed if args.seed is not None else 0, deterministic=args.deterministic)
    return cfg


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from ssdkit.data import BadImageError
    from ssdkit.engine import ConfigError, build_runner, finish_distributed
    from ssdkit.engine.elastic import PeerLostError, peer_errors, restart_count, resume_after_restart
    from ssdkit.engine.preemption import Preempted, arm_preemption
    from ssdkit.utils.atomic import DiskFullError

    with one_line_errors(FileNotFoundError, ConfigError, BadImageError, DiskFullError, PeerLostError):
        cfg = build_cfg(args)
        resumed = resume_after_restart(cfg)
        runner = build_runner(cfg, data_of=("train_dataloader", "val_dataloader"))
        if resumed:
            runner.logger.warning(f"torchrun restart {restart_count()}: resuming from {resumed}")
        arm_preemption(runner)  # before the loaders are built, so their workers ignore the stop signals
        try:
            with peer_errors(cfg):
                runner.train()
        except Preempted:
            finish_distributed()  # every rank stopped after the same iteration
            raise
        finish_distributed()

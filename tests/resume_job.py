"""A few deterministic training iterations on a tiny demo set (driven by tests/test_resume.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from ssdkit.engine import build_runner

from model_utils import demo_config  # tests/ is the script's directory

ROOT = Path(__file__).resolve().parents[1]


def main(data: str, work_dir: str, max_iters: int, resume: bool) -> None:
    cfg = demo_config(data, work_dir, num_workers=0, persistent_workers=False, batch_size=2)
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=1000)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=2, by_epoch=False)
    cfg.default_hooks.logger.interval = 1
    cfg.resume = resume
    build_runner(cfg).train()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "resume")

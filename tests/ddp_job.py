"""Three-iteration training + evaluation under torchrun (driven by tests/test_distributed.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from mmengine.hooks import Hook

from ssdkit.engine import build_runner, exit_distributed_worker, finish_distributed
from ssdkit.registry import HOOKS

from model_utils import demo_config  # tests/ is the script's directory

ROOT = Path(__file__).resolve().parents[1]


@HOOKS.register_module()
class RecordSamplesHook(Hook):
    """Write the image ids this rank trained on to ``seen_rank<r>.json``."""

    def __init__(self) -> None:
        self.seen: list = []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.seen += [s.metainfo["img_id"] for s in data_batch["data_samples"]]

    def after_train(self, runner) -> None:
        rank = dist.get_rank() if dist.is_initialized() else 0
        Path(runner.work_dir, f"seen_rank{rank}.json").write_text(json.dumps(self.seen))


def main(data: str, work_dir: str, launcher: str) -> None:
    cfg = demo_config(data, work_dir, num_workers=0, persistent_workers=False, batch_size=2)
    cfg.launcher = launcher
    cfg.randomness = dict(seed=0)
    cfg.train_dataloader.sampler = dict(type="DefaultSampler", shuffle=True)
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=3, val_interval=1000)
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=3, by_epoch=False)
    cfg.custom_hooks = [dict(type="RecordSamplesHook")]
    runner = build_runner(cfg)
    runner.train()
    rank = dist.get_rank() if dist.is_initialized() else 0
    model = runner.model.module if hasattr(runner.model, "module") else runner.model
    torch.save(model.state_dict(), Path(work_dir) / f"weights_rank{rank}.pt")
    metrics = runner.test()
    if rank == 0:
        Path(work_dir, "test_metrics.json").write_text(json.dumps(metrics))
    finish_distributed()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
    exit_distributed_worker()

"""Hooks: a progress bar through evaluation; draw test-time detections."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
from mmengine.dist import is_main_process
from mmengine.hooks import Hook, LoggerHook

from ssdkit.registry import HOOKS
from ssdkit.visualization import draw_boxes


@HOOKS.register_module()
class EvalProgressBarHook(Hook):
    """A progress bar with images/s and ETA through each validation and test pass, on the main process.

    Counts images (this rank's share under distributed evaluation). It runs before the logger hook and ends
    its line whenever the logger is about to print an ``Iter(val)`` / ``Iter(test)`` line, so the two never
    share a line.
    """

    priority = "NORMAL"  # before LoggerHook (BELOW_NORMAL) in each after_*_iter

    def __init__(self, width: int = 30) -> None:
        self.width = width
        self.total = self.done = 0
        self.start = 0.0
        self.active = False
        self.log_interval = 0

    def _start(self, runner, loader) -> None:
        if not is_main_process():
            return
        self.total = len(loader.sampler) if hasattr(loader.sampler, "__len__") else len(loader.dataset)
        self.done, self.start, self.active = 0, time.perf_counter(), True
        self.log_interval = next((int(h.interval) for h in runner.hooks if isinstance(h, LoggerHook)), 0)

    def _update(self, batch_idx: int, data_batch) -> None:
        if not self.active:
            return
        self.done += len(data_batch["data_samples"]) if data_batch else 1
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        filled = int(self.width * min(self.done / max(self.total, 1), 1.0))
        sys.stdout.write(
            f"\r[{'>' * filled}{' ' * (self.width - filled)}] {self.done}/{self.total}, "
            f"{rate:.1f} images/s, elapsed: {elapsed:.0f}s, ETA: {eta:.0f}s"
        )
        if self.log_interval and (batch_idx + 1) % self.log_interval == 0:
            sys.stdout.write("\n")  # the logger prints its Iter line next
        sys.stdout.flush()

    def _finish(self) -> None:
        if self.active:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.active = False

    def before_val_epoch(self, runner) -> None:
        self._start(runner, runner.val_dataloader)

    def before_test_epoch(self, runner) -> None:
        self._start(runner, runner.test_dataloader)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._update(batch_idx, data_batch)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._update(batch_idx, data_batch)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._finish()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._finish()


@HOOKS.register_module()
class DrawDetectionsHook(Hook):
    """After each test iteration, draw detections above ``score_thr`` on the original images into ``out_dir``."""

    def __init__(self, out_dir: str, score_thr: float = 0.3, max_images: int | None = None) -> None:
        self.out_dir, self.score_thr, self.max_images = Path(out_dir), score_thr, max_images
        self.count = 0

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        names = runner.test_dataloader.dataset.metainfo.get("classes")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for sample in outputs or []:
            if self.max_images is not None and self.count >= self.max_images:
                return
            img = cv2.imread(str(sample.metainfo["img_path"]))
            if img is None:
                continue
            p = sample.pred_instances
            keep = p.scores >= self.score_thr
            drawn = draw_boxes(
                img, p.bboxes[keep].cpu().numpy(), p.labels[keep].tolist(), names, p.scores[keep].tolist()
            )
            cv2.imwrite(str(self.out_dir / f"{Path(sample.metainfo['img_path']).stem}.jpg"), drawn)
            self.count += 1

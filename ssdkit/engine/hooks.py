"""Hooks: a progress line at least every 30 s of training; a progress bar through evaluation; draw test-time
detections."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
from mmengine.dist import is_main_process
from mmengine.hooks import Hook, LoggerHook

from ssdkit.registry import HOOKS
from ssdkit.visualization import draw_boxes, near_uniform, uniform_note


@HOOKS.register_module()
class TimedProgressHook(Hook):
    """A training progress line (losses, lr, time, ETA: the logger's line) whenever ``every`` seconds have passed
    since the last one and the logger does not print at this iteration, so a run whose logger interval is long
    against its step time still shows where it is: the first line within about ``every`` s of the start.
    """

    priority = "LOW"  # after LoggerHook (BELOW_NORMAL) and IterTimerHook (NORMAL), which sets the ETA

    def __init__(self, every: float = 30.0) -> None:
        self.every = every
        self.last = 0.0
        self.logged: tuple[str, int] | None = None

    def before_train(self, runner) -> None:
        """Start the clock; note each line the log processor makes (the logger's lines), by mode and iteration."""
        self.last = time.monotonic()
        processor = runner.log_processor
        make_line = processor.get_log_after_iter

        def noted(runner_, batch_idx: int, mode: str):
            self.logged = (mode, batch_idx)
            return make_line(runner_, batch_idx, mode)

        processor.get_log_after_iter = noted

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        now = time.monotonic()
        if self.logged == ("train", batch_idx):
            self.last = now  # the logger printed this iteration
        elif now - self.last >= self.every:
            _, line = runner.log_processor.get_log_after_iter(runner, batch_idx, "train")
            runner.logger.info(line)
            self.last = now


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
        if self.done >= self.total:
            self._finish()  # the metric prints its table next
            return
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
    """After each test iteration, draw detections above ``score_thr`` on the original images into ``out_dir``; an
    image whose scores are all near uniform (:func:`ssdkit.visualization.near_uniform`) is drawn without boxes
    unless ``draw_uniform``, and the images so left are named in one line at the end."""

    def __init__(
        self, out_dir: str, score_thr: float = 0.3, max_images: int | None = None, draw_uniform: bool = False
    ) -> None:
        self.out_dir, self.score_thr, self.max_images = Path(out_dir), score_thr, max_images
        self.draw_uniform = draw_uniform
        self.count = self.uniform = 0

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
            if names and near_uniform(p.scores[keep], len(names)) and not self.draw_uniform:
                keep[:] = False
                self.uniform += 1
            drawn = draw_boxes(
                img, p.bboxes[keep].cpu().numpy(), p.labels[keep].tolist(), names, p.scores[keep].tolist()
            )
            cv2.imwrite(str(self.out_dir / f"{Path(sample.metainfo['img_path']).stem}.jpg"), drawn)
            self.count += 1

    def after_test_epoch(self, runner, metrics=None) -> None:
        names = runner.test_dataloader.dataset.metainfo.get("classes") or ()
        if self.uniform:
            runner.logger.warning(uniform_note(self.uniform, len(names)))

"""Hooks: a progress bar through evaluation; draw test-time detections."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.utils import ProgressBar

from ssdkit.registry import HOOKS
from ssdkit.visualization import draw_boxes


@HOOKS.register_module()
class EvalProgressBarHook(Hook):
    """A progress bar with rate and ETA through each validation and test pass, on the main process.

    Counts images (this rank's share under distributed evaluation). The log's ``Iter(val)`` lines
    stay as they are; this gives a live view between them.
    """

    priority = "VERY_LOW"

    def __init__(self) -> None:
        self.bar: ProgressBar | None = None

    def _start(self, loader) -> None:
        if is_main_process():
            total = len(loader.sampler) if hasattr(loader.sampler, "__len__") else len(loader.dataset)
            self.bar = ProgressBar(total, file=sys.stdout)

    def _update(self, data_batch) -> None:
        if self.bar is not None:
            self.bar.update(len(data_batch["data_samples"]) if data_batch else 1)

    def _finish(self) -> None:
        if self.bar is not None:
            self.bar.file.write("\n")
            self.bar.file.flush()
            self.bar = None

    def before_val_epoch(self, runner) -> None:
        self._start(runner.val_dataloader)

    def before_test_epoch(self, runner) -> None:
        self._start(runner.test_dataloader)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._update(data_batch)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._update(data_batch)

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
            drawn = draw_boxes(img, p.bboxes[keep].cpu().numpy(), p.labels[keep].tolist(), names,
                               p.scores[keep].tolist())
            cv2.imwrite(str(self.out_dir / f"{Path(sample.metainfo['img_path']).stem}.jpg"), drawn)
            self.count += 1

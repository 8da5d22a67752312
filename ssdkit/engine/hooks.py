"""Hooks: draw test-time detections."""

from __future__ import annotations

from pathlib import Path

import cv2
from mmengine.hooks import Hook

from ssdkit.registry import HOOKS


@HOOKS.register_module()
class DrawDetectionsHook(Hook):
    """After each test iteration, draw detections above ``score_thr`` on the original images into ``out_dir``."""

    def __init__(self, out_dir: str, score_thr: float = 0.3, max_images: int | None = None) -> None:
        self.out_dir, self.score_thr, self.max_images = Path(out_dir), score_thr, max_images
        self.count = 0

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        from ssdkit.apis.visualize import draw_boxes

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

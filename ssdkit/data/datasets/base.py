"""What VOC and COCO datasets share: pipeline from ssdkit's registry, bad boxes, bad images."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from mmengine.dataset import BaseDataset, Compose
from mmengine.logging import MMLogger

from ssdkit.registry import TRANSFORMS

from ..transforms.loading import BadImageError

BAD_BOX_MODES = ("clip", "drop", "error")
BAD_IMAGE_MODES = ("error", "skip")


def build_pipeline(pipeline: Sequence) -> Compose:
    return Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline])


def parse_number(
    value: str | float | None, label: str, where: str, finite: bool = False, positive: bool = False
) -> float:
    """An annotation field as a number; missing, non-numeric (or non-finite / not positive, where asked) is a
    ``ValueError`` naming ``where`` (file and record) and ``label`` (the field, e.g. ``<xmin>`` or ``'width'``)."""
    if value is None:
        raise ValueError(f"{where}: {label} is missing, expected a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {label} is {value!r}, expected a number") from None
    if finite and not math.isfinite(number):
        raise ValueError(f"{where}: {label} is {value!r}, expected a finite number")
    if positive and not number > 0:
        raise ValueError(f"{where}: {label} is {value!r}, expected a positive number")
    return number


class DetDataset(BaseDataset):
    """mmengine ``BaseDataset`` for detection; subclasses implement ``load_data_list``.

    Each data info: ``img_id``, ``img_path``, ``width``, ``height``, ``instances`` (``bbox`` xyxy
    pixels, ``bbox_label`` 0-based, ``ignore_flag``).

    Args:
        bad_box: a box outside the image or of zero size is ``'clip'``-ped (then dropped if empty),
            ``'drop'``-ped, or an ``'error'``; each is counted and logged.
        on_bad_image: an unreadable image is an ``'error'``, or ``'skip'``-ped with a warning and a count.
    """

    def __init__(
        self, *args, bad_box: str = "clip", on_bad_image: str = "error", pipeline: Sequence = (), **kwargs
    ) -> None:
        if bad_box not in BAD_BOX_MODES:
            raise ValueError(f"{type(self).__name__}: bad_box={bad_box!r}; valid: {BAD_BOX_MODES}")
        if on_bad_image not in BAD_IMAGE_MODES:
            raise ValueError(f"{type(self).__name__}: on_bad_image={on_bad_image!r}; valid: {BAD_IMAGE_MODES}")
        self.bad_box, self.on_bad_image = bad_box, on_bad_image
        self.bad_box_count = 0
        self.bad_image_count = 0
        super().__init__(*args, pipeline=[], **kwargs)
        self.pipeline = build_pipeline(pipeline)

    def check_box(self, box: Sequence[float], width: float, height: float, where: str) -> list[float] | None:
        """A box clipped/dropped/refused per ``bad_box``; ``None`` means drop."""
        x1, y1, x2, y2 = (float(v) for v in box)
        inside = 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        if inside and np.isfinite([x1, y1, x2, y2]).all():
            return [x1, y1, x2, y2]
        self.bad_box_count += 1
        if self.bad_box == "error" or not np.isfinite([x1, y1, x2, y2]).all():
            if not np.isfinite([x1, y1, x2, y2]).all():  # no mode can repair a NaN or infinite coordinate
                raise ValueError(
                    f"{where}: box {[x1, y1, x2, y2]} has a NaN or infinite coordinate; fix the "
                    f"annotation (bad_box cannot clip or drop it)"
                )
            raise ValueError(
                f"{where}: box {[x1, y1, x2, y2]} lies outside the {width}x{height} image or has zero "
                f"size (set bad_box='clip' or 'drop' to handle such boxes)"
            )
        if self.bad_box == "drop":
            return None
        x1, x2 = min(max(x1, 0.0), width), min(max(x2, 0.0), width)
        y1, y2 = min(max(y1, 0.0), height), min(max(y2, 0.0), height)
        return [x1, y1, x2, y2] if x2 > x1 and y2 > y1 else None

    def log_load_summary(self) -> None:
        if self.bad_box_count:
            MMLogger.get_current_instance().warning(
                f"{type(self).__name__}: {self.bad_box_count} boxes outside their image or of zero size were "
                f"{'clipped or dropped' if self.bad_box == 'clip' else 'dropped'} (bad_box='{self.bad_box}')"
            )

    def prepare_data(self, idx: int):
        info = self.get_data_info(idx)
        results = dict(img_id=info["img_id"], img_path=info["img_path"])
        inst = info.get("instances", [])
        results["gt_bboxes"] = np.array([i["bbox"] for i in inst], np.float32).reshape(-1, 4)
        results["gt_labels"] = np.array([i["bbox_label"] for i in inst], np.int64)
        results["gt_ignore_flags"] = np.array([i["ignore_flag"] for i in inst], bool)
        if not self.pipeline.transforms:
            raise ValueError(
                f"{type(self).__name__}: the dataset has no pipeline; set the dataset's `pipeline` key "
                f"(e.g. pipeline={{{{_base_.train_pipeline_300}}}} from configs/_base_/datasets/"
                f"ssd_pipelines.py, ending with PackInputs)"
            )
        try:
            return self.pipeline(results)
        except BadImageError as err:
            if self.on_bad_image == "error":
                raise BadImageError(
                    f"{err} (set the dataset's on_bad_image='skip' to skip such images with a warning and a count)"
                ) from err
            self.bad_image_count += 1
            MMLogger.get_current_instance().warning(
                f"{err}; skipped ({self.bad_image_count} so far, on_bad_image='skip')"
            )
            return None  # mmengine's BaseDataset then draws another sample

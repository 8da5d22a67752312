"""COCO-format detection data through pycocotools."""

from __future__ import annotations

import contextlib
import io
import json
import os

from pycocotools.coco import COCO

from ssdkit.registry import DATASETS
from ssdkit.structures.coco import quiet_coco

from .base import DetDataset


@DATASETS.register_module()
class CocoDataset(DetDataset):
    """COCO json: category ids mapped to contiguous labels (``metainfo['cat_ids'][label]`` maps back),
    ``iscrowd`` objects ignore-flagged (kept for evaluation, never matched in training).

    Args:
        ann_file: the json (relative to ``data_root``).
        data_prefix: ``dict(img='train2017/')``, the image folder relative to ``data_root``.
        filter_empty_gt: in training, drop images without any (non-crowd) object.
    """

    METAINFO = dict(classes=(), cat_ids=())

    def __init__(self, *args, filter_empty_gt: bool = True, **kwargs) -> None:
        self.filter_empty_gt = filter_empty_gt
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> list[dict]:
        path = self.ann_file
        if not os.path.isfile(path):
            raise FileNotFoundError(f"CocoDataset: annotation file '{path}' does not exist (ann_file is relative "
                                    f"to data_root='{self.data_root}'); expected COCO's annotations/instances_*.json")
        try:
            with open(path) as f:
                dataset = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"CocoDataset: '{path}' is not valid json (line {err.lineno}, column {err.colno}): "
                             f"{err.msg}") from err
        coco = quiet_coco(dataset)
        cat_ids = sorted(coco.getCatIds())
        cats = coco.loadCats(cat_ids)
        self._metainfo.update(classes=tuple(c.get("name", str(c["id"])) for c in cats), cat_ids=tuple(cat_ids))
        label_of = {c: i for i, c in enumerate(cat_ids)}
        img_dir = self.data_prefix.get("img", "")
        data = []
        for img_id in sorted(coco.getImgIds()):
            info = coco.loadImgs(img_id)[0]
            w, h = float(info["width"]), float(info["height"])
            instances = []
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=img_id)):
                x, y, bw, bh = ann["bbox"]
                box = self.check_box([x, y, x + bw, y + bh], w, h, f"CocoDataset: '{path}' annotation {ann['id']}")
                if box is None:
                    continue
                instances.append(dict(bbox=box, bbox_label=label_of[ann["category_id"]],
                                      ignore_flag=bool(ann.get("iscrowd", 0))))
            if self.filter_empty_gt and not self.test_mode and not any(not i["ignore_flag"] for i in instances):
                continue
            data.append(dict(img_id=img_id, img_path=os.path.join(img_dir, info["file_name"]), width=w, height=h,
                             instances=instances))
        self.log_load_summary()
        return data

"""COCO-format detection data through pycocotools."""

from __future__ import annotations

import json
import math
import os

from ssdkit.registry import DATASETS
from ssdkit.structures.coco import quiet_coco

from .base import DetDataset, parse_number


def _bbox(ann: dict, where: str) -> list[float]:
    """An annotation's ``bbox`` ``[x, y, w, h]`` as numbers; anything else names the file, annotation and field."""
    box = ann.get("bbox")
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        raise ValueError(f"{where}: 'bbox' is {'missing' if box is None else repr(box)}, expected [x, y, w, h]")
    try:
        numbers = [float(v) for v in box]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: 'bbox' {box!r} holds a non-number") from None
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"{where}: 'bbox' {box!r} holds a NaN or infinite value")
    return numbers


#: the sections of a COCO json: the keys each record needs (pycocotools indexes by them)
SECTIONS = {"images": ("id",), "annotations": ("id", "image_id", "category_id"), "categories": ("id",)}


def read_coco_json(path: str) -> dict:
    """The json object in ``path``; an empty file, one whose first byte is not ``{`` (checked before reading the
    rest, so a large file of something else fails at once) or invalid json raises ``ValueError`` naming the file."""
    with open(path, "rb") as f:
        head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise ValueError(f"CocoDataset: '{path}' is empty ({os.path.getsize(path)} bytes), expected a COCO json")
    if not head.startswith(b"{"):
        raise ValueError(
            f"CocoDataset: '{path}' is not a COCO json object: it starts with {head[:12]!r}, not '{{' "
            f"(a json object with images, annotations, categories)"
        )
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"CocoDataset: '{path}' is not valid json (line {err.lineno}, column {err.colno}): {err.msg}"
        ) from err
    except UnicodeDecodeError as err:
        raise ValueError(f"CocoDataset: '{path}' is not valid json: it holds bytes that are not UTF-8") from err
    except MemoryError:
        raise ValueError(
            f"CocoDataset: '{path}' ({os.path.getsize(path) / 2**20:.0f} MB) does not fit in memory as json"
        ) from None


def check_coco_records(dataset: dict, path: str, need_annotations: bool = True) -> None:
    """The sections and the keys pycocotools indexes by (a record without one would fail inside it with a bare
    ``KeyError``); ids unique per section; every annotation's ``image_id`` among the images (``ValueError``)."""
    if not isinstance(dataset, dict):
        raise ValueError(f"CocoDataset: '{path}' is not a COCO json object (images, annotations, categories)")
    for section, keys in SECTIONS.items():
        if section not in dataset and (section != "annotations" or need_annotations):
            raise ValueError(
                f"CocoDataset: '{path}' has no '{section}' (its keys: {', '.join(map(str, dataset)) or 'none'})"
            )
        _check_section(dataset.get(section) or [], path, section, keys)
    images = {record["id"] for record in dataset["images"]}
    for k, ann in enumerate(dataset.get("annotations") or []):
        for key in ("image_id", "category_id"):
            if not isinstance(ann[key], (int, str)) or isinstance(ann[key], bool):
                raise ValueError(
                    f"CocoDataset: '{path}' annotations[{k}] (id {ann['id']!r}): '{key}' is {ann[key]!r}, expected "
                    f"an integer"
                )
        if ann["image_id"] not in images:
            raise ValueError(
                f"CocoDataset: '{path}' annotations[{k}] (id {ann['id']!r}): 'image_id' {ann['image_id']!r} is not "
                f"among the images"
            )


def _check_section(records: object, path: str, section: str, keys: tuple[str, ...]) -> None:
    """One section is a list of objects with ``keys``, and integer ids none of which repeats."""
    if not isinstance(records, list):
        raise ValueError(f"CocoDataset: '{path}' '{section}' is a {type(records).__name__}, expected a list")
    seen: dict = {}
    for k, record in enumerate(records):
        missing = [key for key in keys if not isinstance(record, dict) or key not in record]
        if missing:
            raise ValueError(f"CocoDataset: '{path}' {section}[{k}] has no '{missing[0]}'")
        rid = record["id"]
        if not isinstance(rid, (int, str)) or isinstance(rid, bool):
            raise ValueError(f"CocoDataset: '{path}' {section}[{k}] 'id' is {rid!r}, expected an integer")
        if rid in seen:
            raise ValueError(f"CocoDataset: '{path}' {section}[{k}] 'id' {rid!r} repeats {section}[{seen[rid]}]")
        seen[rid] = k


@DATASETS.register_module()
class CocoDataset(DetDataset):
    """COCO json: category ids mapped to contiguous labels (``metainfo['cat_ids'][label]`` maps back),
    ``iscrowd`` objects ignore-flagged (kept for evaluation, never matched in training).

    Args:
        ann_file: the json (relative to ``data_root``).
        data_prefix: ``dict(img='train2017/')``, the image folder relative to ``data_root``.
        filter_empty_gt: in training, drop images without any (non-crowd) object.

    The json must have ``images`` and ``categories`` (and ``annotations`` unless ``test_mode``), unique ids in each,
    and every annotation's ``image_id`` among the images; otherwise, and for an empty file, a file that is not a
    json object (its first byte is checked before the rest is read) or invalid json, a ``ValueError`` names the
    file, the record and the field. Boxes outside the image, of zero or negative size follow ``bad_box``.
    """

    METAINFO = dict(classes=(), cat_ids=())

    def __init__(self, *args, filter_empty_gt: bool = True, **kwargs) -> None:
        self.filter_empty_gt = filter_empty_gt
        super().__init__(*args, **kwargs)

    def check_files(self) -> None:
        """The annotation file exists; ``FileNotFoundError`` naming it otherwise."""
        if not os.path.isfile(self.ann_file):
            raise FileNotFoundError(
                f"CocoDataset: annotation file '{self.ann_file}' does not exist (ann_file is relative "
                f"to data_root='{self.data_root}'); expected COCO's annotations/instances_*.json"
            )

    def load_data_list(self) -> list[dict]:
        self.check_files()
        path = self.ann_file
        dataset = read_coco_json(path)
        check_coco_records(dataset, path, need_annotations=not self.test_mode)
        coco = quiet_coco(dataset)
        cat_ids = sorted(coco.getCatIds())
        cats = coco.loadCats(cat_ids)
        self._metainfo.update(classes=tuple(c.get("name", str(c["id"])) for c in cats), cat_ids=tuple(cat_ids))
        label_of = {c: i for i, c in enumerate(cat_ids)}
        img_dir = self.data_prefix.get("img", "")
        data = []
        for img_id in sorted(coco.getImgIds()):
            info = coco.loadImgs(img_id)[0]
            w, h = (
                parse_number(info.get(key), f"'{key}'", f"CocoDataset: '{path}' image {img_id}", positive=True)
                for key in ("width", "height")
            )
            instances = []
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=img_id)):
                where = f"CocoDataset: '{path}' annotation {ann.get('id')} (image {img_id})"
                x, y, bw, bh = _bbox(ann, where)
                box = self.check_box([x, y, x + bw, y + bh], w, h, where)
                if box is None:
                    continue
                if ann.get("category_id") not in label_of:
                    raise ValueError(
                        f"{where}: category_id {ann.get('category_id')!r} is not among the json's categories {cat_ids}"
                    )
                instances.append(
                    dict(bbox=box, bbox_label=label_of[ann["category_id"]], ignore_flag=bool(ann.get("iscrowd", 0)))
                )
            if self.filter_empty_gt and not self.test_mode and not any(not i["ignore_flag"] for i in instances):
                continue
            data.append(
                dict(
                    img_id=img_id,
                    img_path=os.path.join(img_dir, info["file_name"]),
                    width=w,
                    height=h,
                    instances=instances,
                )
            )
        self.log_load_summary()
        return data

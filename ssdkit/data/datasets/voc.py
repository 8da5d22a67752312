"""PASCAL VOC (VOCdevkit layout) and custom VOC-style data."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from ssdkit.registry import DATASETS

from .base import DetDataset, parse_number

VOC_CLASSES = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
LAYOUT = "VOCdevkit/VOC<year>/{ImageSets/Main/<split>.txt, Annotations/<id>.xml, JPEGImages/<id>.jpg}"


def _number(element: ET.Element, tag: str, where: str) -> float:
    """The finite number in ``<tag>`` under ``element``; anything else names the file and tag."""
    return parse_number(element.findtext(tag), f"<{tag}>", where, finite=True)


@DATASETS.register_module()
class VOCDataset(DetDataset):
    """VOC2007 / VOC2012 (or custom data in that layout).

    VOC's 1-based inclusive pixel boxes become continuous coordinates ``(xmin - 1, ymin - 1, xmax, ymax)``.
    ``difficult`` objects are ignore-flagged for evaluation (test mode) and kept as normal objects
    in training unless ``drop_difficult``.

    Args:
        data_root: the ``VOCdevkit`` folder (or a folder holding ``VOC<year>``).
        year, split: ``VOC<year>/ImageSets/Main/<split>.txt``; ``year=None`` reads ``data_root`` itself.
        classes: class names (default the 20 VOC classes), via ``metainfo=dict(classes=...)`` too.
        img_suffix: image file suffix when the XML has no usable ``filename`` (e.g. '.png', '.tif').
        unknown_class: an object of a class not in ``classes``: ``'error'`` or ``'skip'``.
    """

    METAINFO = dict(classes=VOC_CLASSES)

    def __init__(
        self,
        data_root: str,
        year: int | None = 2007,
        split: str = "trainval",
        classes: Sequence[str] | None = None,
        img_suffix: str = ".jpg",
        drop_difficult: bool = False,
        unknown_class: str = "error",
        **kwargs,
    ) -> None:
        self.year, self.split, self.img_suffix = year, split, img_suffix
        self.drop_difficult, self.unknown_class = drop_difficult, unknown_class
        if unknown_class not in ("error", "skip"):
            raise ValueError(f"VOCDataset: unknown_class={unknown_class!r}; valid: 'error', 'skip'")
        metainfo = dict(kwargs.pop("metainfo", None) or {})
        if classes is not None:
            metainfo["classes"] = tuple(classes)
        super().__init__(data_root=data_root, metainfo=metainfo, **kwargs)

    @property
    def voc_dir(self) -> str:
        return os.path.join(self.data_root, f"VOC{self.year}") if self.year is not None else self.data_root

    def check_files(self) -> None:
        """The folders and the split file the layout needs exist; ``FileNotFoundError`` naming the first missing."""
        root = self.voc_dir
        for need in (root, os.path.join(root, "Annotations"), self.split_file):
            if not os.path.exists(need):
                raise FileNotFoundError(
                    f"VOCDataset: '{need}' does not exist. Expected the layout {LAYOUT} under data_root="
                    f"'{self.data_root}'. Get VOC from the PASCAL VOC site (VOCtrainval_06-Nov-2007.tar, "
                    f"VOCtest_06-Nov-2007.tar, VOCtrainval_11-May-2012.tar) and unpack under data/; "
                    f"`make demo` needs no download"
                )

    @property
    def split_file(self) -> str:
        return os.path.join(self.voc_dir, "ImageSets", "Main", f"{self.split}.txt")

    def load_data_list(self) -> list[dict]:
        self.check_files()
        root = self.voc_dir
        with open(self.split_file) as f:
            ids = [line.split()[0] for line in f if line.strip()]
        class_index = {c: i for i, c in enumerate(self.metainfo["classes"])}
        data = [self.parse_xml(img_id, root, class_index) for img_id in ids]
        self.log_load_summary()
        return data

    def parse_xml(self, img_id: str, root: str, class_index: dict[str, int]) -> dict:
        xml_path = os.path.join(root, "Annotations", f"{img_id}.xml")
        try:
            tree = ET.parse(xml_path).getroot()
        except FileNotFoundError:
            raise FileNotFoundError(
                f"VOCDataset: annotation '{xml_path}' listed in the split file is missing"
            ) from None
        except ET.ParseError as err:
            line, col = err.position
            raise ValueError(f"VOCDataset: '{xml_path}' does not parse (line {line}, column {col}): {err}") from err
        filename = (tree.findtext("filename") or "").strip()
        img_path = os.path.join(root, "JPEGImages", filename) if filename else ""
        if not filename or not os.path.exists(img_path):
            img_path = os.path.join(root, "JPEGImages", img_id + self.img_suffix)
        size = tree.find("size")
        width = _number(size, "width", f"VOCDataset: '{xml_path}'") if size is not None else float("inf")
        height = _number(size, "height", f"VOCDataset: '{xml_path}'") if size is not None else float("inf")
        if not (width > 0 and height > 0):  # NaN fails too
            raise ValueError(
                f"VOCDataset: '{xml_path}': <size> has <width> {width} and <height> {height}, expected "
                f"positive numbers (or leave <size> out)"
            )
        instances = [
            inst
            for k, obj in enumerate(tree.findall("object"))
            if (inst := self._instance(obj, k, xml_path, class_index, width, height)) is not None
        ]
        return dict(img_id=img_id, img_path=img_path, width=width, height=height, instances=instances)

    def _instance(
        self, obj: ET.Element, k: int, xml_path: str, class_index: dict[str, int], width: float, height: float
    ) -> dict | None:
        """Object ``k`` of ``xml_path`` as an instance, or ``None`` when skipped (unknown class with
        ``unknown_class='skip'``, difficult when dropped, a box ``bad_box`` drops)."""
        name = (obj.findtext("name") or "").strip()
        if name not in class_index:
            if self.unknown_class == "skip":
                return None
            raise ValueError(
                f"VOCDataset: '{xml_path}' object {k} has class '{name}', not in the class list "
                f"{list(class_index)} (set classes=... or unknown_class='skip')"
            )
        difficult = (obj.findtext("difficult") or "0").strip() == "1"
        if difficult and self.drop_difficult and not self.test_mode:
            return None
        bb = obj.find("bndbox")
        if bb is None:
            raise ValueError(f"VOCDataset: '{xml_path}' object {k} ('{name}') has no <bndbox>")
        where = f"VOCDataset: '{xml_path}' object {k}"
        x1, y1, x2, y2 = (_number(bb, t, where) for t in ("xmin", "ymin", "xmax", "ymax"))
        box = self.check_box([x1 - 1, y1 - 1, x2, y2], width, height, where)
        if box is None:
            return None
        return dict(bbox=box, bbox_label=class_index[name], ignore_flag=difficult and self.test_mode)

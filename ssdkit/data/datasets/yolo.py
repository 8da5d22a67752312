"""YOLO txt layout (ultralytics; what Roboflow, CVAT and Label Studio export for single-shot detectors).

    data_root/
      data.yaml            names: [cat, dog] (or {0: cat, 1: dog}); train: images/train; val: images/val
      images/train/a.jpg   (a split is a folder of images, a .txt listing image paths, or a list of those)
      labels/train/a.txt   one object a line: class cx cy w h, normalised to 0..1; empty or missing: no objects

The label file of ``.../images/.../a.jpg`` is ``.../labels/.../a.txt`` (the last ``images`` folder of the path
becomes ``labels``), as ultralytics reads it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mmengine.logging import MMLogger

from ssdkit.registry import DATASETS

from ..transforms.loading import BadImageError
from .base import DetDataset, parse_number

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
LAYOUT = "data.yaml (names, train, val), images/<split>/<name>.jpg, labels/<split>/<name>.txt"
#: EXIF orientations that turn the image by 90 degrees (OpenCV's imread applies them, so the size swaps)
TURNED = (5, 6, 7, 8)


def read_data_yaml(path: str) -> dict:
    """``data.yaml`` as a dict; a missing file or a file that is not a YAML mapping is one error naming it."""
    import yaml

    if not os.path.isfile(path):
        raise FileNotFoundError(f"YOLODataset: '{path}' does not exist; expected the layout {LAYOUT}")
    with open(path) as f:
        try:
            meta = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise ValueError(f"YOLODataset: '{path}' is not valid YAML: {err}".replace("\n", " ")) from None
    if not isinstance(meta, dict):
        raise ValueError(f"YOLODataset: '{path}' is not a YAML mapping (names, train, val)")
    return meta


def yaml_classes(meta: dict, path: str) -> tuple[str, ...]:
    """The class names of ``data.yaml``'s ``names`` (a list, or a dict of ids 0..n-1), checked against ``nc``."""
    names = meta.get("names")
    if isinstance(names, dict):
        names = {int(k) if str(k).isdigit() else k: v for k, v in names.items()}
        if sorted(names, key=str) != sorted(range(len(names)), key=str):
            raise ValueError(
                f"YOLODataset: '{path}': names has ids {sorted(names, key=str)}, expected 0..{len(names) - 1}"
            )
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not names:
        raise ValueError(f"YOLODataset: '{path}': names is {names!r}, expected a list (or dict) of class names")
    if meta.get("nc") is not None and meta["nc"] != len(names):
        raise ValueError(f"YOLODataset: '{path}': nc is {meta['nc']} but names has {len(names)} classes")
    return tuple(str(n) for n in names)


def label_path(img_path: str) -> str:
    """``.../images/x/a.jpg`` -> ``.../labels/x/a.txt`` (the last ``images`` folder only)."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return os.path.splitext(sb.join(img_path.rsplit(sa, 1)))[0] + ".txt"


def image_size(path: str) -> tuple[int, int]:
    """``(width, height)`` as OpenCV's ``imread`` will load it (EXIF turns applied), from the file's header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            width, height = img.size
            turned = img.getexif().get(0x0112) in TURNED
    except (OSError, UnidentifiedImageError) as err:
        raise BadImageError(f"YOLODataset: image '{path}' is missing or unreadable ({err})") from None
    return (height, width) if turned else (width, height)


def _split_entry(root: Path, entry: str) -> Path:
    """A split entry of ``data.yaml`` relative to the dataset root; ``../x`` also as ``x`` (Roboflow's exports)."""
    path = Path(entry) if os.path.isabs(entry) else root / entry
    if not path.exists() and entry.startswith("../"):
        path = root / entry[3:]
    return path


def split_images(root: Path, entries: str | Sequence[str], where: str) -> list[str]:
    """The image files of a split: folders searched recursively, ``.txt`` files read (a path a line, relative to
    the list's folder), sorted within each entry."""
    images: list[str] = []
    for entry in [entries] if isinstance(entries, str) else list(entries):
        path = _split_entry(root, str(entry))
        if path.is_dir():
            images += sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file() and path.suffix == ".txt":
            lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
            images += [line if os.path.isabs(line) else os.path.normpath(path.parent / line) for line in lines]
        else:
            raise FileNotFoundError(
                f"YOLODataset: {where} '{entry}' is neither a folder of images nor a .txt list ({path} does not "
                f"exist); expected the layout {LAYOUT}"
            )
    return images


def parse_label_line(line: str, where: str, num_classes: int) -> tuple[int, list[float]]:
    """``class cx cy w h`` as ``(class id, [cx, cy, w, h])``; a wrong field count, a class id not in 0..n-1 or a
    non-number is a ``ValueError`` naming ``where`` (file and line)."""
    fields = line.split()
    if len(fields) != 5:
        raise ValueError(f"{where}: {len(fields)} fields, expected 5: class cx cy w h (normalised to 0..1)")
    cls = parse_number(fields[0], "the class id", where, finite=True)
    if cls != int(cls) or not 0 <= cls < num_classes:
        raise ValueError(f"{where}: class id {fields[0]} is not one of data.yaml's names (0..{num_classes - 1})")
    coords = zip(fields[1:], ("cx", "cy", "w", "h"), strict=True)
    return int(cls), [parse_number(v, name, where, finite=True) for v, name in coords]


@DATASETS.register_module()
class YOLODataset(DetDataset):
    """YOLO txt labels with a ``data.yaml`` (the ultralytics layout; module docstring).

    A normalised box ``cx cy w h`` becomes ``[(cx - w/2) W, (cy - h/2) H, (cx + w/2) W, (cy + h/2) H]`` in pixels
    of the W x H image. Coordinates outside 0..1 (a box outside the image) follow ``bad_box``; a line with the wrong
    field count or a class id outside ``names`` is an error naming the file and line.

    Args:
        data_root: the folder holding ``data_yaml``; the splits' paths are relative to it (or to the yaml's
            ``path``, when given).
        split: the ``data.yaml`` key of the split (``train``, ``val``, ``test``).
        data_yaml: the yaml file, relative to ``data_root``.
    """

    METAINFO: dict = dict(classes=())

    def __init__(self, data_root: str, split: str = "train", data_yaml: str = "data.yaml", **kwargs) -> None:
        self.split, self.data_yaml = split, os.path.join(data_root, data_yaml)
        self.yaml_meta = read_data_yaml(self.data_yaml)
        metainfo = dict(kwargs.pop("metainfo", None) or {})
        metainfo.setdefault("classes", yaml_classes(self.yaml_meta, self.data_yaml))
        super().__init__(data_root=data_root, metainfo=metainfo, **kwargs)

    @staticmethod
    def config_classes(ds: dict) -> tuple[str, ...] | None:
        """The class names a dataset config reads (its ``data.yaml``'s names), without building it."""
        path = os.path.join(ds.get("data_root") or "", ds.get("data_yaml") or "data.yaml")
        return yaml_classes(read_data_yaml(path), path) if os.path.isfile(path) else None

    @property
    def split_root(self) -> Path:
        """The folder the split paths are relative to: ``data_root``, or the yaml's ``path`` under it."""
        path = self.yaml_meta.get("path")
        return Path(self.data_root) / str(path) if path else Path(self.data_root)

    def split_entries(self) -> list[str]:
        """The split's entries in ``data.yaml``; ``ValueError`` naming the yaml and its splits when it has none."""
        entries = self.yaml_meta.get(self.split)
        if not entries:
            splits = [k for k in ("train", "val", "test") if self.yaml_meta.get(k)]
            raise ValueError(f"YOLODataset: '{self.data_yaml}' has no split '{self.split}'; it has {splits}")
        return [entries] if isinstance(entries, str) else [str(e) for e in entries]

    def check_files(self) -> None:
        """``data.yaml`` (read when built) names the split, and each of its folders or lists exists."""
        for entry in self.split_entries():
            if not _split_entry(self.split_root, entry).exists():
                split_images(self.split_root, entry, f"'{self.data_yaml}' {self.split}")  # raises, naming it

    def load_data_list(self) -> list[dict]:
        num_classes = len(self.metainfo["classes"])
        data = []
        for img_path in split_images(self.split_root, self.split_entries(), f"'{self.data_yaml}' {self.split}"):
            info = self._image_info(img_path, num_classes)
            if info is not None:
                data.append(info)
        self.log_load_summary()
        return data

    def _image_info(self, img_path: str, num_classes: int) -> dict | None:
        """One image's data info (size from its header, objects from its label file); ``None`` for an unreadable
        image with ``on_bad_image='skip'``."""
        try:
            width, height = image_size(img_path)
        except BadImageError:
            if self.on_bad_image == "error":
                raise
            self.bad_image_count += 1
            MMLogger.get_current_instance().warning(f"YOLODataset: '{img_path}' is unreadable; skipped")
            return None
        labels = label_path(img_path)
        lines = Path(labels).read_text().splitlines() if os.path.isfile(labels) else []
        instances = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"YOLODataset: '{labels}' line {n}"
            cls, (cx, cy, w, h) = parse_label_line(line, where, num_classes)
            x1, y1, x2, y2 = (_snap(v) for v in (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
            box = self.check_box([x1 * width, y1 * height, x2 * width, y2 * height], width, height, where)
            if box is not None:
                instances.append(dict(bbox=box, bbox_label=cls, ignore_flag=False))
        img_id = os.path.splitext(os.path.relpath(img_path, self.data_root))[0]
        return dict(img_id=img_id, img_path=img_path, width=width, height=height, instances=instances)


#: how far outside 0..1 a normalised corner may be and still lie on the image edge: the rounding of the 6 decimals
#: labelling tools write (``cx - w/2`` of two rounded numbers is off by up to 0.75e-6)
EDGE_TOL = 1e-6


def _snap(value: float) -> float:
    """A normalised corner within :data:`EDGE_TOL` outside 0..1 put on the edge."""
    if -EDGE_TOL <= value < 0.0:
        return 0.0
    if 1.0 < value <= 1.0 + EDGE_TOL:
        return 1.0
    return value

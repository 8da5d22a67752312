"""Training on tiles cut from large images: any detection dataset, seen through a grid of tiles."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import cv2
import numpy as np
from torch.utils.data import Dataset

from ssdkit.registry import DATASETS
from ssdkit.structures.tiles import cut_to_tile, tile_grid

from ..transforms.loading import BadImageError
from .base import build_pipeline

CUT_POLICIES = ("drop", "ignore")


@DATASETS.register_module()
class TiledDataset(Dataset):
    """Tiles of ``tile_size`` pixels (neighbours overlapping by ``overlap`` of a tile) of every image of ``dataset``.

    An object cut by a tile's edge is kept when at least ``min_visible`` of it lies inside; the others are
    dropped (``cut='drop'``) or kept ignore-flagged (``cut='ignore'``: neither positive nor negative). Tiles
    without objects are kept in the proportion ``empty_ratio`` of their number (drawn once, with ``seed``).
    ``pipeline`` runs on each tile as on a loaded image (no ``LoadImage``: the tile is cut from the decoded
    image, and the last ``cache_images`` decoded images are kept, so consecutive tiles decode once).

    Samples carry ``img_id`` ``'<image id>@<x>,<y>'``, ``img_path``, and ``tile`` (xyxy in the image).
    """

    def __init__(
        self,
        dataset: dict,
        tile_size: int = 512,
        overlap: float = 0.2,
        min_visible: float = 0.5,
        cut: str = "drop",
        empty_ratio: float = 0.1,
        pipeline: Sequence = (),
        cache_images: int = 2,
        seed: int = 0,
        test_mode: bool = False,
    ) -> None:
        if cut not in CUT_POLICIES:
            raise ValueError(f"TiledDataset: cut={cut!r}; valid: {list(CUT_POLICIES)}")
        if not 0 < min_visible <= 1:
            raise ValueError(f"TiledDataset: min_visible={min_visible} must be in (0, 1]")
        if any(isinstance(t, dict) and t.get("type") in ("LoadImage", "LoadImageArray") for t in pipeline):
            raise ValueError(
                "TiledDataset: pipeline must not load images (tiles are cut from the decoded image); "
                "start it after LoadImage, e.g. with Resize"
            )
        self.inner = DATASETS.build(dict(dataset, pipeline=[], test_mode=test_mode))
        self.tile_size, self.overlap, self.min_visible, self.cut = tile_size, overlap, min_visible, cut
        self.pipeline = build_pipeline(pipeline)
        self.cache_images = max(1, cache_images)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.decodes = 0
        self.tiles = self._plan(empty_ratio, np.random.default_rng(seed))

    @property
    def metainfo(self) -> dict:
        return self.inner.metainfo

    def _plan(self, empty_ratio: float, rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
        """``(image index, tile xyxy)`` of every kept tile, image by image."""
        kept: list[tuple[int, np.ndarray]] = []
        for i in range(len(self.inner)):
            info = self.inner.get_data_info(i)
            if not np.isfinite([info["width"], info["height"]]).all():
                raise ValueError(
                    f"TiledDataset: image '{info['img_path']}' has no size in its annotation; tiling "
                    f"needs each image's width and height"
                )
            boxes = np.array([o["bbox"] for o in info["instances"]], np.float32).reshape(-1, 4)
            for tile in tile_grid(int(info["height"]), int(info["width"]), self.tile_size, self.overlap):
                _, _, keep = cut_to_tile(boxes, tile, self.min_visible)
                if keep.any() or rng.uniform() < empty_ratio:
                    kept.append((i, tile))
        return kept

    def __len__(self) -> int:
        return len(self.tiles)

    def _image(self, path: str) -> np.ndarray:
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise BadImageError(f"cannot read image '{path}' (missing, unreadable or corrupt)")
        self.decodes += 1
        self._cache[path] = img
        while len(self._cache) > self.cache_images:
            self._cache.popitem(last=False)
        return img

    def get_data_info(self, k: int) -> dict:
        """Tile ``k``'s annotation, as a detection dataset's: ``img_id``, ``img_path``, ``tile`` (xyxy in the image),
        ``width``, ``height`` (the tile's) and ``instances`` in tile coordinates (no image is decoded)."""
        i, tile = self.tiles[k]
        info = self.inner.get_data_info(i)
        x1, y1, x2, y2 = (int(v) for v in tile)
        inst = info["instances"]
        boxes = np.array([o["bbox"] for o in inst], np.float32).reshape(-1, 4)
        local, visible, keep = cut_to_tile(boxes, tile, self.min_visible)
        flags = np.array([o["ignore_flag"] for o in inst], bool).reshape(-1) | ~keep
        take = np.flatnonzero(keep | ((visible > 0) & (self.cut == "ignore")))
        return dict(
            img_id=f"{info['img_id']}@{x1},{y1}",
            img_path=info["img_path"],
            tile=tile,
            width=x2 - x1,
            height=y2 - y1,
            instances=[
                dict(bbox=local[j].tolist(), bbox_label=inst[j]["bbox_label"], ignore_flag=bool(flags[j])) for j in take
            ],
        )

    def sample(self, k: int) -> dict:
        """Tile ``k`` before the pipeline: ``img`` (the tile, BGR), its objects in tile coordinates."""
        info = self.get_data_info(k)
        x1, y1, x2, y2 = (int(v) for v in info["tile"])
        crop = np.ascontiguousarray(self._image(info["img_path"])[y1:y2, x1:x2])
        inst = info["instances"]
        return dict(
            img=crop,
            img_id=info["img_id"],
            img_path=info["img_path"],
            tile=info["tile"],
            ori_shape=crop.shape[:2],
            img_shape=crop.shape[:2],
            gt_bboxes=np.array([o["bbox"] for o in inst], np.float32).reshape(-1, 4),
            gt_labels=np.array([o["bbox_label"] for o in inst], np.int64).reshape(-1),
            gt_ignore_flags=np.array([o["ignore_flag"] for o in inst], bool).reshape(-1),
        )

    def __getitem__(self, k: int):
        return self.pipeline(self.sample(k))

"""The ground-truth objects a config's dataset holds, as the network sees them: boxes at the input size."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ssdkit.data.transforms.geometric import resize_in
from ssdkit.registry import DATASETS

WRAPPER_KEYS = ("datasets", "dataset")  # ConcatDataset's list, RepeatDataset / ClassBalancedDataset's one


@dataclass
class Objects:
    """``N`` objects of ``num_images`` images.

    ``boxes [N, 4]`` xyxy in network-input pixels (the fixed-size ``Resize``, no augmentation), ``ori_wh [N, 2]``
    width and height in original-image pixels (for COCO's size buckets), ``labels [N]``, ``image [N]`` the image's
    index (``0 .. num_images - 1``), ``input_size`` (H, W).
    """

    boxes: np.ndarray
    ori_wh: np.ndarray
    labels: np.ndarray
    image: np.ndarray
    num_images: int
    input_size: tuple[int, int]
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """Per image: ``boxes [I, G, 4]`` (zeros where padded) and ``valid [I, G]``, G the most objects in one image."""
        counts = np.bincount(self.image, minlength=self.num_images)
        slot = self.slots()
        g = int(counts.max(initial=0))
        boxes = np.zeros((self.num_images, g, 4), np.float32)
        valid = np.zeros((self.num_images, g), bool)
        boxes[self.image, slot] = self.boxes
        valid[self.image, slot] = True
        return boxes, valid

    def slots(self) -> np.ndarray:
        """``[N]`` each object's row in its image's padded block (:meth:`padded`)."""
        order = np.argsort(self.image, kind="stable")
        counts = np.bincount(self.image, minlength=self.num_images)
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        slot = np.empty(len(self), np.int64)
        slot[order] = np.arange(len(self)) - first[self.image[order]]
        return slot


def _leaves(ds: dict, where: str) -> Iterator[tuple[dict, str]]:
    """The datasets that read annotation files, under wrappers (``ConcatDataset``, ``RepeatDataset`` ...)."""
    if isinstance(ds.get("datasets"), (list, tuple)):
        for i, inner in enumerate(ds["datasets"]):
            yield from _leaves(inner, f"{where}.datasets[{i}]")
    elif isinstance(ds.get("dataset"), dict) and ds.get("type") != "TiledDataset":
        yield from _leaves(ds["dataset"], f"{where}.dataset")
    else:
        yield ds, where


def resize_size(ds: dict, where: str) -> tuple[int, int]:
    """The (H, W) of the last ``Resize`` in the dataset's pipeline(s): SSD's fixed network input."""
    sizes = [size for leaf, _ in _leaves(ds, where) if (size := resize_in(leaf.get("pipeline"))) is not None]
    if not sizes:
        raise ValueError(
            f"{where}.pipeline has no Resize, so the network's input size is unknown; give it (--input-size H W)"
        )
    return sizes[-1]


def load_objects(dataset_cfg: dict, where: str = "dataset", input_size: Sequence[int] | None = None) -> Objects:
    """Every non-ignored object of the dataset ``dataset_cfg`` (a config dict), scaled to the input size.

    Only the annotations are read (each leaf dataset is built with an empty pipeline): no image is decoded.
    ``input_size`` (H, W) defaults to the pipeline's ``Resize``; objects are scaled from each image's
    ``width``/``height`` as that ``Resize`` would scale them (the training crops and expansion are not applied).
    """
    h_in, w_in = (int(input_size[0]), int(input_size[1])) if input_size else resize_size(dataset_cfg, where)
    boxes, ori_wh, labels, image = [], [], [], []
    classes: tuple[str, ...] = ()
    n_img = 0
    for leaf_cfg, _ in _leaves(dataset_cfg, where):
        ds = DATASETS.build(dict(leaf_cfg, pipeline=[]))
        classes = classes or tuple(ds.metainfo.get("classes") or ())
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            inst = [o for o in info.get("instances", []) if not o.get("ignore_flag", False)]
            if inst:
                b = np.asarray([o["bbox"] for o in inst], np.float64).reshape(-1, 4)
                sx, sy = w_in / float(info["width"]), h_in / float(info["height"])
                boxes.append(b * np.array([sx, sy, sx, sy]))
                ori_wh.append(b[:, 2:] - b[:, :2])
                labels.append(np.asarray([o["bbox_label"] for o in inst], np.int64))
                image.append(np.full(len(inst), n_img, np.int64))
            n_img += 1
    if not boxes:
        raise ValueError(f"{where}: the dataset has no (non-ignored) objects to analyse")
    return Objects(
        np.concatenate(boxes).astype(np.float32),
        np.concatenate(ori_wh),
        np.concatenate(labels),
        np.concatenate(image),
        n_img,
        (h_in, w_in),
        classes,
    )

"""Calibration images for int8 quantization: a seeded random subset of one of the config's splits, through the
config's test pipeline, as the exported file's input (end2end: uint8 ``[1, H, W, 3]`` BGR; raw: float32
``[1, 3, H, W]`` BGR 0..255). Bad input is refused before any work, naming the flag or config key at fault."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ssdkit.registry import DATASETS

SPLITS = ("train", "val", "test")


def valid_splits(cfg: Any) -> list[str]:
    """The splits whose ``<split>_dataloader`` has a dataset in ``cfg``."""
    return [s for s in SPLITS if isinstance(cfg.get(f"{s}_dataloader"), dict) and cfg[f"{s}_dataloader"].get("dataset")]


def _with_pipeline(dataset: dict, pipeline: list) -> dict:
    """``dataset`` (a dataset dict, or a wrapper holding ``dataset`` / ``datasets``) with every leaf's pipeline
    replaced by ``pipeline``, unserialised."""
    out = copy.deepcopy(dict(dataset))
    if "datasets" in out:
        out["datasets"] = [_with_pipeline(d, pipeline) for d in out["datasets"]]
    elif "dataset" in out:
        out["dataset"] = _with_pipeline(out["dataset"], pipeline)
    else:
        out["pipeline"] = copy.deepcopy(list(pipeline))
        out["serialize_data"] = False  # mmengine's serialisation fails on an empty list before len() can say so
    return out


def split_dataset(cfg: Any, split: str):
    """The dataset of ``<split>_dataloader`` with the test pipeline; an unknown or empty split is an error naming
    the key and the valid splits."""
    valid = valid_splits(cfg)
    if split not in valid:
        raise ValueError(f"--split {split}: the config has no {split}_dataloader.dataset; valid splits: {valid}")
    pipeline = cfg.get("test_dataloader", {}).get("dataset", {}).get("pipeline")
    if not pipeline:
        raise ValueError("test_dataloader.dataset.pipeline: the config has none; it prepares calibration images")
    dataset = DATASETS.build(_with_pipeline(cfg[f"{split}_dataloader"]["dataset"], pipeline))
    if len(dataset) == 0:
        raise ValueError(f"{split}_dataloader.dataset has no images: calibration needs at least one (--split)")
    return dataset


def graph_input(sample: dict, mode: str) -> np.ndarray:
    """A test-pipeline sample (``inputs`` uint8 ``[3, H, W]`` BGR) as a batch of one of the exported file's input."""
    chw = np.asarray(sample["inputs"])
    if mode == "end2end":
        return np.ascontiguousarray(chw.transpose(1, 2, 0)[None])
    return np.ascontiguousarray(chw[None].astype(np.float32))


def checked_sample(dataset: Any, index: int, input_size: tuple[int, int], mode: str) -> tuple[np.ndarray, Any]:
    """Sample ``index`` as ``(graph input, its DetSample)``; an image the test pipeline does not bring to
    ``input_size`` is an error naming it."""
    sample = dataset[index]
    h, w = np.asarray(sample["inputs"]).shape[-2:]
    if (int(h), int(w)) != tuple(input_size):
        path = sample["data_samples"].metainfo.get("img_path", f"image {index}")
        raise ValueError(
            f"calibration image '{path}' is {h}x{w} after test_dataloader.dataset.pipeline, but the export input is "
            f"{input_size[0]}x{input_size[1]}: the test pipeline must Resize to the export's input size"
        )
    return graph_input(sample, mode), sample["data_samples"]


@dataclass
class Calibration:
    """The chosen images of a split (``indices`` into its dataset, sorted) and what the int8 file records."""

    dataset: Any
    split: str
    seed: int
    indices: list[int] = field(default_factory=list)

    def describe(self) -> dict:
        return dict(split=self.split, images=len(self.indices), seed=self.seed, of=len(self.dataset))

    def batches(self, input_size: tuple[int, int], mode: str) -> list[np.ndarray]:
        return [checked_sample(self.dataset, i, input_size, mode)[0] for i in self.indices]


def choose(cfg: Any, split: str, n: int, seed: int, input_size: tuple[int, int], mode: str) -> Calibration:
    """``n`` images (all, if the split has fewer) of ``split`` chosen with ``seed``; the number, the split and the
    first image's size are checked here, before any export or quantization."""
    if n < 1:
        raise ValueError(f"--calib {n}: calibration needs at least one image (default 300)")
    dataset = split_dataset(cfg, split)
    rng = np.random.default_rng(seed)
    indices = sorted(int(i) for i in rng.choice(len(dataset), size=min(n, len(dataset)), replace=False))
    checked_sample(dataset, indices[0], input_size, mode)
    return Calibration(dataset, split, seed, indices)

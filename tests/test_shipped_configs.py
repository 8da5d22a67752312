"""Every shipped config's data: complete datasets under their wrappers, and one input size for training and test."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssdkit.data.transforms import resize_in
from ssdkit.deploy.export import input_size_of
from ssdkit.engine import ConfigError, check_loaders, register_all
from ssdkit.engine.config import load_config

from model_utils import ROOT

SHIPPED = sorted(
    str(p.relative_to(ROOT / "configs")) for p in (ROOT / "configs").rglob("*.py") if "_base_" not in p.parts
)


def leaf_datasets(ds: dict, where: str):
    """``(where, dataset dict)`` of the datasets under ``ConcatDataset`` / ``RepeatDataset``-style wrappers."""
    if "datasets" in ds:
        for i, child in enumerate(ds["datasets"]):
            yield from leaf_datasets(child, f"{where}.datasets[{i}]")
    elif isinstance(ds.get("dataset"), dict) and "pipeline" not in ds:
        yield from leaf_datasets(ds["dataset"], f"{where}.dataset")
    else:
        yield where, ds


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_datasets_are_complete_and_agree_on_the_input_size(name):
    register_all()
    cfg = load_config(str(ROOT / "configs" / name))
    check_loaders(cfg)
    size = input_size_of(cfg)
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        for where, ds in leaf_datasets(cfg[loader]["dataset"], f"{loader}.dataset"):
            pipeline = ds.get("pipeline") or cfg[loader]["dataset"].get("pipeline")
            assert resize_in(pipeline) == size, f"{name}: {where} resizes to {resize_in(pipeline)}, not {size}"


def test_a_child_list_of_incomplete_datasets_is_named(tmp_path: Path):
    # a child config's list replaces the base's whole: entries that only give a pipeline lose type, year and split
    child = tmp_path / "mine.py"
    child.write_text(
        f"_base_ = '{ROOT}/configs/_base_/datasets/voc0712.py'\n"
        "train_dataloader = dict(dataset=dict(datasets=[dict(pipeline={{_base_.train_pipeline_512}})] * 2))\n"
    )
    register_all()
    with pytest.raises(ConfigError, match=r"train_dataloader\.dataset\.datasets\[0\] has no type \(keys: pipeline\)"):
        check_loaders(load_config(str(child)))

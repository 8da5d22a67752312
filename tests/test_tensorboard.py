"""``tools/train.py --tensorboard``: TensorBoard gets the same loss terms, lr and val mAP as mmengine's local log."""

from __future__ import annotations

import importlib.util
import json

import pytest

from ssdkit.data.demo import make_demo_dataset

from model_utils import ROOT, load_tool

train = load_tool("train")

DEMO_CFG = str(ROOT / "configs/demo/ssdlite224_mobilenet_demo.py")


def test_tensorboard_logs_every_loss_term_and_lr(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    data = tmp_path / "d"
    make_demo_dataset(str(data), seed=3, num_train=4, num_val=2)
    roots = [
        f"{loader}.dataset.data_root={data}/" for loader in ("train_dataloader", "val_dataloader", "test_dataloader")
    ]
    train.main(
        [
            DEMO_CFG,
            "--work-dir",
            str(tmp_path / "w"),
            "--tensorboard",
            "--seed",
            "0",
            "--cfg-options",
            *roots,
            "train_dataloader.batch_size=2",
            "train_cfg.max_iters=3",
            "train_cfg.val_interval=1000",
            "default_hooks.logger.interval=1",
            "default_hooks.checkpoint.interval=1000",
        ]
    )
    (events,) = tmp_path.glob("w/*/vis_data/events.out.tfevents.*")
    local = [json.loads(line) for line in events.with_name("scalars.json").read_text().splitlines()]
    acc = EventAccumulator(str(events.parent))
    acc.Reload()
    assert {"loss", "loss_cls", "loss_box", "lr", "pascal_voc/mAP"} <= set(acc.Tags()["scalars"])
    (val,) = [row for row in local if "pascal_voc/mAP" in row]  # validation at the end of training
    assert [e.value for e in acc.Scalars("pascal_voc/mAP")] == [pytest.approx(val["pascal_voc/mAP"], rel=1e-6)]
    assert (tmp_path / "w/best_pascal_voc_mAP_iter_3.pth").exists()  # best checkpoint by mAP kept
    for key in ("loss_cls", "loss_box", "lr"):
        board = {e.step: e.value for e in acc.Scalars(key)}
        assert sorted(board) == [1, 2, 3]
        rows = [row for row in local if key in row]
        assert [row["step"] for row in rows] == [1, 2, 3]
        for row in rows:
            assert board[row["step"]] == pytest.approx(row[key], rel=1e-6), (key, row["step"])


def test_tensorboard_flag_without_the_package_says_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(
        SystemExit,
        match=r"--tensorboard needs the tensorboard package: pip install "
        r"'ssdkit\[tensorboard\]'",
    ):
        train.build_cfg(train.parse_args([DEMO_CFG, "--tensorboard"]))

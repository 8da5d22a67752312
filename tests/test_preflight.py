"""Mistakes in loop settings, overrides and data paths: one line before the Runner prints or builds anything."""

from __future__ import annotations

import pytest

from ssdkit.engine import ConfigError, check_config, prepare_config
from ssdkit.engine.checks import check_data_files

from model_utils import ROOT, demo_config, load_tool

DEMO = str(ROOT / "configs/demo/ssdlite224_mobilenet_demo.py")


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    from ssdkit.data.demo import make_demo_dataset

    data = tmp_path_factory.mktemp("demo")
    make_demo_dataset(str(data), num_train=2, num_val=1)
    return data


@pytest.mark.parametrize(
    "key, value, message",
    [
        (
            "train_cfg",
            dict(max_iter=3),
            r"train_cfg.max_iter: IterBasedTrainLoop takes no argument 'max_iter' .*"
            r"Did you mean 'max_iters'\?",
        ),
        ("train_cfg", dict(by_epoch=True, max_iters=3), r"train_cfg.max_iters: EpochBasedTrainLoop takes no argument"),
        ("val_cfg", dict(type="ValLoop", fp17=True), r"val_cfg.fp17: ValLoop takes no argument 'fp17'"),
        ("test_cfg", dict(type="TestLoops"), r"test_cfg.type: 'TestLoops' is not a loop mmengine knows"),
    ],
)
def test_a_loop_key_mmengine_would_choke_on_is_named(demo_data, tmp_path, key, value, message):
    cfg = demo_config(str(demo_data), str(tmp_path))
    check_config(cfg)  # the config as it is passes
    cfg[key] = value
    with pytest.raises(ConfigError, match=message):
        check_config(cfg)


def test_a_missing_data_folder_is_named_before_the_runner(demo_data, tmp_path):
    cfg = demo_config(str(tmp_path / "nowhere"), str(tmp_path))
    cfg.test_dataloader.dataset.data_root = str(demo_data)
    prepare_config(cfg.copy(), data_of=("test_dataloader",))  # a test run reads only the test data
    with pytest.raises(FileNotFoundError, match=r"CocoDataset: annotation file '.*nowhere/annotations/.*' does not"):
        prepare_config(cfg, data_of=("train_dataloader", "val_dataloader"))
    voc = dict(type="VOCDataset", data_root=str(tmp_path / "voc"), year=None, split="train", pipeline=[])
    with pytest.raises(FileNotFoundError, match=r"VOCDataset: '.*voc' does not exist. Expected the layout"):
        check_data_files(dict(type="ConcatDataset", datasets=[voc]))
    (tmp_path / "yolo").mkdir()
    (tmp_path / "yolo/data.yaml").write_text("names: [a]\ntrain: images/train\n")
    with pytest.raises(FileNotFoundError, match=r"train 'images/train' is neither a folder of images nor a .txt"):
        check_data_files(dict(type="YOLODataset", data_root=str(tmp_path / "yolo"), pipeline=[]))


def test_train_refuses_a_top_level_override_in_one_line_before_any_output(demo_data, tmp_path, capsys):
    roots = [f"{loader}.dataset.data_root={demo_data}/" for loader in ("train_dataloader", "val_dataloader")]
    with pytest.raises(SystemExit, match=r"^error: --cfg-options max_iters=...: .*train_cfg.max_iters=...") as err:
        load_tool("train").main([DEMO, "--work-dir", str(tmp_path / "w"), "--cfg-options", "max_iters=20", *roots])
    assert "\n" not in str(err.value)
    out = capsys.readouterr()
    assert out.out == "" and "mmengine" not in out.err and not (tmp_path / "w").exists()
    with pytest.raises(SystemExit, match=r"^error: train_cfg.max_iter: IterBasedTrainLoop takes no argument"):
        load_tool("train").main([DEMO, "--work-dir", str(tmp_path / "w"), "--cfg-options", "train_cfg.max_iter=3"])
    assert capsys.readouterr().out == "" and not (tmp_path / "w").exists()
    with pytest.raises(SystemExit, match=r"^error: CocoDataset: annotation file 'nowhere/annotations/.*' does not"):
        load_tool("train").main(
            [
                DEMO,
                "--work-dir",
                str(tmp_path / "w"),
                "--cfg-options",
                *roots[:1],
                "val_dataloader.dataset.data_root=nowhere/",
            ]
        )
    assert capsys.readouterr().out == "" and not (tmp_path / "w").exists()

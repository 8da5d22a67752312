"""What train and test print: results and progress on the console, mmengine's dump in the log file only (unless
``--verbose``), and a progress line at least every ``TimedProgressHook.every`` seconds whatever the logger interval."""

from __future__ import annotations

import logging
import re

import pytest

from ssdkit.data.demo import make_demo_dataset
from ssdkit.engine.console import ConsoleFilter, quiet_console

from model_utils import ROOT, load_tool

DEMO = str(ROOT / "configs/demo/ssdlite224_mobilenet_demo.py")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    make_demo_dataset(str(folder), seed=1, num_train=4, num_val=8)
    return folder


def options(data, *extra: str) -> list[str]:
    roots = [
        f"{loader}.dataset.data_root={data}/" for loader in ("train_dataloader", "val_dataloader", "test_dataloader")
    ]
    return ["--cfg-options", *roots, "train_dataloader.batch_size=2", "default_hooks.checkpoint.interval=1000", *extra]


def test_the_console_filter_drops_the_dump_and_keeps_the_rest(tmp_path):
    logger = logging.getLogger("ssdkit-test-console")
    console, file = logging.StreamHandler(), logging.FileHandler(tmp_path / "log")
    logger.handlers = [console, file]
    kept = quiet_console(logger)
    assert kept in console.filters and not file.filters
    record = logging.LogRecord("x", logging.INFO, "", 0, "Config:\nmodel = dict()", None, None)
    assert not kept.filter(record)
    record.msg = "Iter(train) [3/20]  lr: 1e-3  eta: 0:01:00"
    assert kept.filter(record)
    record.levelno, record.msg = logging.ERROR, "Config:\n something broke"
    assert ConsoleFilter().filter(record)  # errors always show


def test_training_prints_progress_not_the_dump_and_the_log_file_keeps_it(data, tmp_path, capsys):
    """Logger interval 50 on a 6-iteration run: TimedProgressHook(every=0) prints every iteration; the dump is in
    the log file only."""
    train = load_tool("train")
    extra = ["train_cfg.max_iters=6", "train_cfg.val_interval=1000", "custom_hooks.0.every=0"]
    train.main([DEMO, "--work-dir", str(tmp_path / "w"), *options(data, *extra)])
    out = capsys.readouterr().out
    lines = re.findall(r"Iter\(train\) \[(\d)/6\].*eta: ", out)
    assert lines == ["1", "2", "3", "4", "5", "6"], out[-3000:]
    assert "Config:" not in out and "System environment" not in out and "Hooks will be executed" not in out
    assert "CPU " in out and "Checkpoints will be saved to" in out
    (log,) = tmp_path.glob("w/*/*.log")
    text = log.read_text()
    assert "Config:" in text and "System environment" in text and "Hooks will be executed" in text
    assert f"full log (environment, config, hooks): {log}" in out
    train.main([DEMO, "--work-dir", str(tmp_path / "v"), "--verbose", *options(data, "train_cfg.max_iters=2")])
    assert "Config:" in capsys.readouterr().out


def test_within_every_seconds_only_the_loggers_own_lines_show(data, tmp_path, capsys):
    """The reference: with every=30 a 3-iteration run shows the logger's one line (the end of the loader's pass
    over 4 images at batch 2), none of the hook's."""
    load_tool("train").main([DEMO, "--work-dir", str(tmp_path / "w"), *options(data, "train_cfg.max_iters=3")])
    assert re.findall(r"Iter\(train\) \[(\d)/3\]", capsys.readouterr().out) == ["2"]


def test_test_on_8_images_prints_at_most_30_lines(data, tmp_path, capsys):
    load_tool("train").main([DEMO, "--work-dir", str(tmp_path / "w"), *options(data, "train_cfg.max_iters=1")])
    capsys.readouterr()
    load_tool("test").main([DEMO, str(tmp_path / "w/iter_1.pth"), "--work-dir", str(tmp_path / "w"), *options(data)])
    out = capsys.readouterr().out
    assert re.search(r"^test: pascal_voc/mAP ", out, re.M) and "8/8" in out
    assert len(out.splitlines()) <= 30, out

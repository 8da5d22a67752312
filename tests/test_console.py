"""What train and test print: results and progress on the console, mmengine's dump in the log file only (unless
``--verbose``), and a progress line at least every ``TimedProgressHook.every`` seconds whatever the logger interval."""

from __future__ import annotations

import logging
import re

import cv2
import numpy as np
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
    record.levelno, record.msg = logging.WARNING, "BF16OptimWrapper: this cpu has no native bfloat16; float32"
    assert not kept.filter(record)  # its Python warning shows it once
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


def test_near_uniform_scores():
    from ssdkit.visualization import near_uniform

    assert near_uniform(np.array([0.31, 0.34, 0.33]), num_classes=2)  # 2 classes + background: 1/3 each
    assert not near_uniform(np.array([0.31, 0.9]), num_classes=2)
    assert not near_uniform(np.array([]), num_classes=2)
    assert near_uniform(np.array([0.05]), num_classes=20) and not near_uniform(np.array([0.3]), num_classes=20)


def untrained_checkpoint(path) -> None:
    """The demo detector without its background prior (every class scores about 1/11), saved to ``path``."""
    import torch

    from model_utils import build_model, load_config

    cfg = load_config("demo/ssdlite224_mobilenet_demo")
    cfg.model.head.init_background_prob = None
    classes = [f"d{i}" for i in range(10)]
    torch.save(dict(state_dict=build_model(cfg).state_dict(), meta=dict(dataset_meta=dict(classes=classes))), path)


def test_infer_draws_nothing_for_near_uniform_scores_and_says_so(data, tmp_path, capsys):
    """An untrained demo detector (every class about equal); --draw-uniform draws its boxes after all."""
    untrained_checkpoint(tmp_path / "m.pth")
    image = sorted((data / "val").glob("*.jpg"))[0]
    infer = load_tool("infer")
    args = [DEMO, str(tmp_path / "m.pth"), str(image), "--score-thr", "0"]
    records = infer.main([*args, "--out-dir", str(tmp_path / "plain")])
    out = capsys.readouterr().out
    assert (
        len(records[0]["detections"]) > 0
        and "1 images: every score is under 1.25 x the uniform 1/11" in out
        and "not drawn" in out
    )
    cv2.imwrite(str(tmp_path / "same.jpg"), cv2.imread(str(image)))
    assert np.array_equal(
        cv2.imread(str(tmp_path / "plain" / f"{image.stem}.jpg")), cv2.imread(str(tmp_path / "same.jpg"))
    )
    infer.main([*args, "--out-dir", str(tmp_path / "drawn"), "--draw-uniform"])
    assert "not drawn" not in capsys.readouterr().out
    assert not np.array_equal(
        cv2.imread(str(tmp_path / "drawn" / f"{image.stem}.jpg")), cv2.imread(str(tmp_path / "same.jpg"))
    )


def test_a_config_without_the_progress_hook_gets_it(data, tmp_path):
    from ssdkit.engine import prepare_config

    from model_utils import demo_config

    cfg = demo_config(str(data), str(tmp_path))
    cfg.custom_hooks = [dict(type="EvalProgressBarHook")]  # a user's list, replacing the base config's
    hooks = [h["type"] for h in prepare_config(cfg).custom_hooks]
    assert hooks[0] == "EvalProgressBarHook" and hooks.count("TimedProgressHook") == 1
    cfg.custom_hooks = [dict(type="TimedProgressHook", every=5)]
    hooks = prepare_config(cfg).custom_hooks
    assert [h for h in hooks if h["type"] == "TimedProgressHook"] == [dict(type="TimedProgressHook", every=5)]


def test_test_show_dir_draws_nothing_for_near_uniform_scores_and_says_so(data, tmp_path, capsys):
    untrained_checkpoint(tmp_path / "m.pth")
    args = [DEMO, str(tmp_path / "m.pth"), "--num", "2", "--work-dir", str(tmp_path / "w"), "--score-thr", "0"]
    load_tool("test").main([*args, "--show-dir", str(tmp_path / "plain"), *options(data)])
    assert "2 images: every score is under 1.25 x the uniform 1/11" in capsys.readouterr().out
    load_tool("test").main([*args, "--show-dir", str(tmp_path / "drawn"), "--draw-uniform", *options(data)])
    assert "not drawn" not in capsys.readouterr().out
    for drawn in (tmp_path / "drawn").glob("*.jpg"):
        original = cv2.imread(str(data / "val" / drawn.name))
        plain = cv2.imread(str(tmp_path / "plain" / drawn.name))
        cv2.imwrite(str(tmp_path / "same.jpg"), original)
        assert np.array_equal(plain, cv2.imread(str(tmp_path / "same.jpg")))
        assert not np.array_equal(cv2.imread(str(drawn)), plain)

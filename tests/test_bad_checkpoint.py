"""A damaged checkpoint, a file that is not a torch checkpoint, and another model's weights are refused in one line
naming the file, before the Runner builds: on train's ``--resume CKPT`` and ``load_from``, ``init_detector`` and
the test tool."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from ssdkit.engine import ConfigError, register_all
from ssdkit.registry import DETECTORS

from model_utils import ROOT, demo_config, load_tool

DEMO = str(ROOT / "configs/demo/ssdlite224_mobilenet_demo.py")


def _truncated(path: Path, good: bytes) -> str:
    path.write_bytes(good[: len(good) // 2])
    return "is damaged or truncated"


def _text(path: Path, good: bytes) -> str:
    path.write_text("model weights\n")
    return "is not a torch checkpoint: it starts with b'mode'"


def _random(path: Path, good: bytes) -> str:
    path.write_bytes(bytes(range(7, 250)) * 8)
    return "is not a torch checkpoint"


def _other_model(path: Path, good: bytes) -> str:
    torch.save(dict(state_dict=torch.nn.Linear(3, 4).state_dict()), path)
    return "holds the weights of another model than the config's SSD: "


def _other_shape(path: Path, good: bytes) -> str:
    state = torch.load(path.with_name("good.pth"), weights_only=True)["state_dict"]
    key = next(k for k in state if "cls_convs" in k and k.endswith("weight"))
    state[key] = state[key][:3]
    torch.save(state, path)
    return f"1 shape mismatches ({key} (3,"


KINDS: dict[str, Callable[[Path, bytes], str]] = {
    "truncated": _truncated,
    "text": _text,
    "random": _random,
    "other_model": _other_model,
    "other_shape": _other_shape,
}


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    register_all()
    cfg = demo_config("/nonexistent", "/nonexistent")
    model = DETECTORS.build(dict(cfg.model))
    path = tmp_path_factory.mktemp("ckpt") / "good.pth"
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=list(range(10))))), path)
    return path


def bad_file(kind: str, good: Path) -> tuple[str, str]:
    path = good.with_name(f"{kind}.pth")
    expected = KINDS[kind](path, good.read_bytes())
    return str(path), expected


def options(tmp_path: Path) -> list[str]:
    roots = [f"{dl}.dataset.data_root={tmp_path}/" for dl in ("train_dataloader", "val_dataloader", "test_dataloader")]
    return ["--work-dir", str(tmp_path / "work"), "--cfg-options", "train_cfg.max_iters=1", *roots]


def assert_refused(err: BaseException, path: str, expected: str, tmp_path: Path) -> None:
    text = str(err)
    assert text.startswith("error: checkpoint") and "\n" not in text, text
    assert f"'{path}'" in text and expected in text, text
    work = tmp_path / "work"
    assert not work.exists() or not any(work.iterdir()), "the Runner started"


def test_the_good_checkpoint_loads(good):
    from ssdkit.apis import init_detector

    cfg = demo_config("/nonexistent", "/nonexistent")
    assert init_detector(cfg, str(good)).dataset_meta["classes"] == tuple(range(10))


@pytest.mark.parametrize("kind", KINDS)
def test_train_resume_refuses(kind, good, tmp_path, monkeypatch):
    monkeypatch.delenv("SSDKIT_DEBUG", raising=False)
    path, expected = bad_file(kind, good)
    with pytest.raises(SystemExit) as info:
        load_tool("train").main([DEMO, "--resume", path, *options(tmp_path)])
    assert_refused(info.value, path, expected, tmp_path)


@pytest.mark.parametrize("kind", KINDS)
def test_train_load_from_refuses(kind, good, tmp_path, monkeypatch):
    monkeypatch.delenv("SSDKIT_DEBUG", raising=False)
    path, expected = bad_file(kind, good)
    with pytest.raises(SystemExit) as info:
        load_tool("train").main([DEMO, *options(tmp_path), f"load_from={path}"])
    assert_refused(info.value, path, expected, tmp_path)


@pytest.mark.parametrize("kind", KINDS)
def test_init_detector_refuses(kind, good):
    from ssdkit.apis import init_detector

    path, expected = bad_file(kind, good)
    with pytest.raises(ConfigError) as info:
        init_detector(demo_config("/nonexistent", "/nonexistent"), path)
    assert f"'{path}'" in str(info.value) and expected in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("kind", KINDS)
def test_test_tool_refuses(kind, good, tmp_path, monkeypatch):
    monkeypatch.delenv("SSDKIT_DEBUG", raising=False)
    path, expected = bad_file(kind, good)
    with pytest.raises(SystemExit) as info:
        load_tool("test").main([DEMO, path, *options(tmp_path)])
    assert_refused(info.value, path, expected, tmp_path)


def test_resume_auto_without_a_checkpoint_is_not_refused(tmp_path):
    """``--resume`` with no checkpoint in the work dir starts from scratch as before: nothing to check."""
    from ssdkit.engine import prepare_config

    cfg = load_tool("train").build_cfg(load_tool("train").parse_args([DEMO, "--resume", *options(tmp_path)]))
    assert cfg.load_from is None and cfg.resume is True
    prepare_config(cfg)
    assert not os.path.exists(tmp_path / "work")

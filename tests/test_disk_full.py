"""A checkpoint write that runs out of space leaves the previous checkpoint and ``last_checkpoint`` as they were and
no temporary file, and training stops with one line naming the path, the free space and the size needed."""

from __future__ import annotations

import errno
import shutil
import signal
from pathlib import Path

import pytest
import torch

from ssdkit.data.demo import make_demo_dataset
from ssdkit.utils import atomic
from ssdkit.utils.atomic import DiskFullError, atomic_torch_save

from model_utils import ROOT, load_tool

DEMO = str(ROOT / "configs/demo/ssdlite224_mobilenet_demo.py")


def failing_save(fail_on: int, calls: list[int], folder: Path | None = None, before: dict[str, bytes] | None = None):
    """``torch.save`` that, on call ``fail_on``, writes the start of a file and raises ENOSPC (recording the files
    of ``folder`` in ``before`` at that moment)."""
    real = torch.save

    def save(obj, f, *args, **kwargs) -> None:
        calls.append(1)
        if len(calls) < fail_on:
            return real(obj, f, *args, **kwargs)
        if folder is not None and before is not None:
            before.update({p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.suffix != ".tmp"})
        f.write(b"PK\x03\x04" + bytes(1000))
        raise OSError(errno.ENOSPC, "No space left on device")

    return save


def test_atomic_write_out_of_space_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "iter_1.pth"
    atomic_torch_save({"w": torch.ones(1000)}, target)
    old = target.read_bytes()
    monkeypatch.setattr(atomic.torch, "save", failing_save(1, []))
    with pytest.raises(DiskFullError) as info:
        atomic_torch_save({"w": torch.ones(2000)}, target)
    assert target.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iter_1.pth"]
    message = str(info.value)
    assert info.value.errno == errno.ENOSPC and "\n" not in message
    assert f"no space left writing '{target}': " in message and f" free in '{tmp_path}', about " in message
    assert f"about {len(old) / 1024:.1f} KB needed (1004 bytes written when it failed)" in message


def test_out_of_space_error_reports_the_free_space(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 99, 1))  # type: ignore
    monkeypatch.setattr(atomic.torch, "save", failing_save(1, []))
    with pytest.raises(DiskFullError, match=r"'[^']*new\.pth': 1 bytes free in '"):
        atomic_torch_save({"w": torch.ones(10)}, tmp_path / "new.pth")
    assert list(tmp_path.iterdir()) == []


def test_training_stops_when_a_checkpoint_cannot_be_written(tmp_path, monkeypatch):
    """max_iters 2, a checkpoint every iteration, keeping one; the second write fails half-way with ENOSPC."""
    monkeypatch.delenv("SSDKIT_DEBUG", raising=False)
    data, work = tmp_path / "data", tmp_path / "work"
    make_demo_dataset(str(data), seed=1, num_train=4, num_val=2)
    before: dict[str, bytes] = {}
    monkeypatch.setattr(atomic.torch, "save", failing_save(2, [], work, before))
    roots = [f"{dl}.dataset.data_root={data}/" for dl in ("train_dataloader", "val_dataloader", "test_dataloader")]
    loader = [
        "train_dataloader.batch_size=2",
        "train_dataloader.num_workers=0",
        "train_dataloader.persistent_workers=0",
    ]
    keep_one = "default_hooks.checkpoint.max_keep_ckpts=1"  # iter_1.pth is removed only once iter_2.pth is whole
    options = ["train_cfg.max_iters=2", "train_cfg.val_interval=1000", "default_hooks.checkpoint.interval=1", keep_one]
    with pytest.raises(SystemExit) as info:
        load_tool("train").main([DEMO, "--work-dir", str(work), "--cfg-options", *roots, *loader, *options])
    message = str(info.value)
    assert message.startswith(f"error: no space left writing '{work}/iter_2.pth': ") and "\n" not in message, message
    assert f" free in '{work}', about " in message and " needed (" in message
    assert {"iter_1.pth", "last_checkpoint"} <= set(before)
    assert (work / "iter_1.pth").read_bytes() == before["iter_1.pth"]
    assert (work / "last_checkpoint").read_bytes() == before["last_checkpoint"] == str(work / "iter_1.pth").encode()
    assert not (work / "iter_2.pth").exists() and not list(work.glob(".*.tmp"))


def test_checkpoint_errors_continue_trains_on(tmp_path, monkeypatch):
    """The opt-out: with checkpoint_errors='continue' the failed write is a warning, the next ones are written, and
    ``max_keep_ckpts=2`` keeps the two newest that exist."""
    data, work = tmp_path / "data", tmp_path / "work"
    make_demo_dataset(str(data), seed=1, num_train=4, num_val=2)
    calls: list[int] = []
    fail_second = failing_save(2, calls)
    real = torch.save
    monkeypatch.setattr(atomic.torch, "save", lambda *a, **k: (fail_second if len(calls) < 2 else real)(*a, **k))
    roots = [f"{dl}.dataset.data_root={data}/" for dl in ("train_dataloader", "val_dataloader", "test_dataloader")]
    loader = [
        "train_dataloader.batch_size=2",
        "train_dataloader.num_workers=0",
        "train_dataloader.persistent_workers=0",
    ]
    options = [
        "train_cfg.max_iters=4",
        "train_cfg.val_interval=1000",
        "default_hooks.checkpoint.interval=1",
        "default_hooks.checkpoint.max_keep_ckpts=2",
        "checkpoint_errors=continue",
    ]
    load_tool("train").main([DEMO, "--work-dir", str(work), "--cfg-options", *roots, *loader, *options])
    assert sorted(p.name for p in work.glob("iter_*.pth")) == ["iter_3.pth", "iter_4.pth"]  # the two newest written
    assert (work / "last_checkpoint").read_text() == str(work / "iter_4.pth")
    kept = torch.load(work / "iter_4.pth", map_location="cpu", weights_only=False)["message_hub"]["runtime_info"]
    assert kept["keep_ckpt_ids"] == [3, 4] and kept["last_ckpt"] == str(work / "iter_4.pth")
    log = next(work.glob("*/*.log")).read_text()
    assert f"no space left writing '{work}/iter_2.pth'" in log and "checkpoint_errors='continue'" in log


def test_preemption_save_out_of_space_keeps_the_previous_pointer(tmp_path, monkeypatch):
    """SIGTERM after iteration 2 with checkpoint_errors='continue', every write after iter_1.pth out of space:
    the run still stops with the preemption status, says no checkpoint was written and which one --resume takes,
    and ``last_checkpoint`` keeps naming iter_1.pth."""
    from fault_runs import write_config

    from ssdkit.engine.preemption import PREEMPTED_EXIT_CODE

    data, work = tmp_path / "data", tmp_path / "work"
    make_demo_dataset(str(data), seed=1, num_train=4, num_val=2)
    monkeypatch.setattr(atomic.torch, "save", failing_save(2, []))
    hook = dict(type="SelfSignalHook", at=2, first="SIGTERM")
    config = write_config(str(data), work, hooks=[hook], checkpoint_errors="continue")
    options = ["default_hooks.checkpoint.interval=1"]
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as info:
        load_tool("train").main([str(config), "--work-dir", str(work), "--cfg-options", *options])
    assert info.value.code == PREEMPTED_EXIT_CODE
    assert signal.getsignal(signal.SIGTERM) is handler
    assert sorted(p.name for p in work.glob("iter_*.pth")) == ["iter_1.pth"]
    assert (work / "last_checkpoint").read_text() == str(work / "iter_1.pth")
    log = next(work.glob("*/*.log")).read_text()
    assert (
        f"SIGTERM received: stopped after iteration 2; no checkpoint written; --resume continues from {work}/iter_1.pth"
        in log
    )


def test_a_new_best_checkpoint_is_whole_before_the_previous_best_goes(tmp_path, monkeypatch):
    """``save_best``: a best checkpoint whose write runs out of space leaves the previous best in place; a written
    one replaces it."""
    from mmengine.logging import MessageHub, MMLogger

    from ssdkit.engine.checkpoint_hook import CheckpointHook

    class Runner:  # what the hook reads of mmengine's Runner
        work_dir, epoch, iter = str(tmp_path), 0, 0
        message_hub = MessageHub.get_instance("best_checkpoint_test")
        logger = MMLogger.get_instance("best_checkpoint_test")

        swallow = False  # as checkpoint_errors='continue': a failed write is not raised

        def save_checkpoint(self, out_dir, filename, **kwargs) -> None:
            try:
                atomic_torch_save({"iter": self.iter}, Path(out_dir) / filename)
            except DiskFullError:
                if not self.swallow:
                    raise

    runner = Runner()
    hook = CheckpointHook(interval=100, by_epoch=False, save_best="mAP", rule="greater")
    hook.before_train(runner)
    runner.iter = 1
    hook._save_best_checkpoint(runner, {"mAP": 0.5})
    assert [p.name for p in tmp_path.glob("best_*")] == ["best_mAP_iter_1.pth"]
    runner.iter = 2
    with monkeypatch.context() as patch:
        patch.setattr(atomic.torch, "save", failing_save(1, []))
        with pytest.raises(DiskFullError):
            hook._save_best_checkpoint(runner, {"mAP": 0.6})
        assert [p.name for p in tmp_path.glob("best_*")] == ["best_mAP_iter_1.pth"]
        runner.swallow = True
        hook._save_best_checkpoint(runner, {"mAP": 0.6})
        runner.swallow = False
    assert [p.name for p in tmp_path.glob("best_*")] == ["best_mAP_iter_1.pth"]
    assert runner.message_hub.get_info("best_score") == 0.5  # the previous best is still the best
    assert runner.message_hub.get_info("best_ckpt") == str(tmp_path / "best_mAP_iter_1.pth")
    runner.iter = 3
    hook._save_best_checkpoint(runner, {"mAP": 0.7})
    assert [p.name for p in tmp_path.glob("best_*")] == ["best_mAP_iter_3.pth"]
    assert torch.load(tmp_path / "best_mAP_iter_3.pth")["iter"] == 3

"""SIGTERM / SIGINT during training: the iteration finishes, a checkpoint is written, the run exits with status
75, and ``--resume`` ends bit-equal to an uninterrupted run; a second signal while saving changes nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from fault_runs import ITERS, assert_same_weights, run, started, train_cmd, wait_for, write_config

from ssdkit.data.demo import make_demo_dataset
from ssdkit.engine.preemption import PREEMPTED_EXIT_CODE

from model_utils import demo_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> tuple[str, Path]:
    """The demo set and the last checkpoint of an uninterrupted run (one loader worker)."""
    root = tmp_path_factory.mktemp("preempt")
    data = str(root / "demo")
    make_demo_dataset(data, num_train=16, num_val=2)
    config = write_config(data, root / "straight", workers=1)
    proc = run(train_cmd(config))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return data, root / "straight" / f"iter_{ITERS}.pth"


def resume_and_compare(config: Path, straight_ckpt: Path) -> None:
    proc = run(train_cmd(config, "--resume"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_same_weights(straight_ckpt, config.with_suffix("") / f"iter_{ITERS}.pth")


def test_sigterm_to_the_process_group(straight, tmp_path):
    """As a scheduler sends it: to the trainer and its loader worker at once, mid-run (after iteration 3, off the
    checkpoint interval of 2)."""
    data, straight_ckpt = straight
    work = tmp_path / "term"
    config = write_config(data, work, hooks=[dict(type="PauseHook", at=3)], workers=1)
    with started(train_cmd(config), mark=str(config)) as proc:
        wait_for(work / "paused_rank0", proc)
        os.killpg(proc.pid, signal.SIGTERM)
        (work / "go").touch()
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == PREEMPTED_EXIT_CODE, err[-3000:]
    assert f"SIGTERM received: stopped after iteration 3; checkpoint {work / 'iter_3.pth'}" in out
    assert (work / "last_checkpoint").read_text() == str(work / "iter_3.pth")
    assert not (work / "iter_4.pth").exists() and not list(work.glob(".*.tmp"))
    resume_and_compare(config, straight_ckpt)


def test_sigint_then_more_signals_while_saving(straight, tmp_path):
    """Ctrl-C after iteration 3, then Ctrl-C and SIGTERM again from inside the checkpoint save."""
    data, straight_ckpt = straight
    work = tmp_path / "int"
    hook = dict(type="SelfSignalHook", at=3, first="SIGINT", while_saving=("SIGINT", "SIGTERM"))
    config = write_config(data, work, hooks=[hook], workers=1)
    proc = run(train_cmd(config))
    assert proc.returncode == PREEMPTED_EXIT_CODE, proc.stderr[-3000:]
    assert "SIGINT received: stopped after iteration 3" in proc.stdout
    assert "(2 more signal(s) while stopping were ignored)" in proc.stdout
    resume_and_compare(config, straight_ckpt)


def test_sigterm_during_validation(straight, tmp_path):
    """SIGTERM after the first of two batches of the validation after iteration 2: the run stops there without
    finishing (or scoring) it, from iter_2.pth, and the resumed run ends bit-equal to one without validation."""
    data, straight_ckpt = straight
    work = tmp_path / "val"
    val = demo_config(data, str(work), num_workers=0, batch_size=1)  # the 2 val images: 2 batches
    hook = dict(type="SelfSignalHook", at=2, first="SIGTERM", in_validation=True)
    loop = dict(type="IterBasedTrainLoop", max_iters=ITERS, val_interval=2)
    parts = dict(val_cfg=val.val_cfg, val_dataloader=val.val_dataloader, val_evaluator=val.val_evaluator)
    config = write_config(data, work, hooks=[hook], workers=1, train_cfg=loop, **parts)
    proc = run(train_cmd(config))
    assert proc.returncode == PREEMPTED_EXIT_CODE, proc.stderr[-3000:]
    assert (
        f"SIGTERM received: stopped in the validation after iteration 2; checkpoint {work / 'iter_2.pth'}"
        in proc.stdout
    )
    assert "mAP" not in proc.stdout and not (work / "iter_3.pth").exists()
    assert (work / "last_checkpoint").read_text() == str(work / "iter_2.pth")
    resume_and_compare(config, straight_ckpt)

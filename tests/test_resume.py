"""A run killed with SIGKILL and resumed ends with the same weights as an uninterrupted run, even when the
kill emptied mmengine's ``last_checkpoint`` pointer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ssdkit.data.demo import make_demo_dataset
from ssdkit.engine import install_safe_checkpoints

JOB = str(Path(__file__).with_name("resume_job.py"))
ITERS = 6


def run(data, work, resume=False):
    proc = subprocess.run(
        [sys.executable, JOB, data, str(work), str(ITERS), "resume" if resume else "fresh"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    data = str(tmp_path / "demo")
    make_demo_dataset(data, num_train=12, num_val=2)
    run(data, tmp_path / "straight")
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, JOB, data, str(killed), str(ITERS), "fresh"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not (killed / "iter_2.pth").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (killed / "iter_2.pth").exists() and not (killed / f"iter_{ITERS}.pth").exists()
    # mmengine rewrites last_checkpoint in place after each save: a kill at that moment leaves it empty,
    # and resume must then take the newest whole checkpoint
    (killed / "last_checkpoint").write_text("")
    run(data, killed, resume=True)
    install_safe_checkpoints()
    a = torch.load(tmp_path / "straight" / f"iter_{ITERS}.pth", weights_only=True)
    b = torch.load(killed / f"iter_{ITERS}.pth", weights_only=True)
    assert b["meta"]["iter"] == a["meta"]["iter"] == ITERS
    for name, t in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][name], t, rtol=0, atol=0, msg=name)

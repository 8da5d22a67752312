"""torchrun with 2 CPU processes: a killed rank makes torchrun restart the workers, which resume from the last
checkpoint by themselves and end bit-equal to an uninterrupted run; a hung rank ends the run after the stated
timeout with one clear error; two "nodes" (separate torchrun agents, c10d rendezvous on loopback) train the same
weights as one node with the same global batch."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_runs import ITERS, ROOT, assert_same_weights, env, started, torchrun_cmd, wait_for, write_config

from ssdkit.data.demo import make_demo_dataset

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> tuple[str, Path]:
    """The demo set and the last checkpoint of an uninterrupted run: one node, 2 processes, batch 2 each, started
    by tools/dist_train.sh."""
    root = tmp_path_factory.mktemp("elastic")
    data = str(root / "demo")
    make_demo_dataset(data, num_train=16, num_val=2)
    config = write_config(data, root / "straight")
    script = str(ROOT / "tools/dist_train.sh")
    proc = subprocess.run(
        ["bash", script, str(config), "2", "--work-dir", str(config.with_suffix(""))],
        env=dict(env(), PYTHON=sys.executable, PORT=str(free_port())),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return data, root / "straight" / f"iter_{ITERS}.pth"


def test_killed_rank_restarts_and_resumes(straight, tmp_path):
    """Rank 1 is killed (SIGKILL) after iteration 3; checkpoints come every 2, so the restart resumes from 2."""
    data, straight_ckpt = straight
    work = tmp_path / "killed"
    config = write_config(data, work, hooks=[dict(type="PauseHook", at=3, on_rank=1)])
    cmd = torchrun_cmd(config, "--standalone", "--nproc_per_node=2", "--max-restarts=1")
    with started(cmd, mark=str(config)) as proc:
        wait_for(work / "paused_rank1", proc)
        os.kill(int((work / "paused_rank1").read_text()), signal.SIGKILL)
        out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-2000:] + err[-3000:]
    assert f"torchrun restart 1: resuming from {work / 'iter_2.pth'}" in out + err
    assert_same_weights(straight_ckpt, work / f"iter_{ITERS}.pth")


def test_hung_rank_ends_the_run_after_the_timeout(straight, tmp_path):
    """Rank 1 stops answering after iteration 3 (it waits in a hook); rank 0 gives up after the configured 10 s."""
    data, _ = straight
    work = tmp_path / "hung"
    timeout = 10
    config = write_config(
        data,
        work,
        hooks=[dict(type="PauseHook", at=3, on_rank=1, seconds=600)],
        env_cfg=dict(dist_cfg=dict(backend="gloo", timeout=timeout)),
    )
    with started(torchrun_cmd(config, "--standalone", "--nproc_per_node=2"), mark=str(config)) as proc:
        wait_for(work / "paused_rank1", proc)
        paused = time.monotonic()
        out, err = proc.communicate(timeout=300)
        waited = time.monotonic() - paused
    assert proc.returncode != 0
    assert f"error: rank 0 of 2 lost another rank: it died, or did not answer within {timeout} s" in err, err[-3000:]
    # the timeout, then torchrun's teardown of the other worker (it answers SIGTERM once its hook returns)
    assert timeout - 1 < waited < timeout + 60, waited


def test_two_nodes_on_loopback(straight, tmp_path):
    """Two torchrun agents, one process each, meeting through c10d on 127.0.0.1: the same global batch (2 x 2,
    the sampler's rank shards) as one node with 2 processes, so bit-equal weights."""
    data, straight_ckpt = straight
    work = tmp_path / "nodes"
    config = write_config(data, work)
    rdzv = [
        "--nnodes=2",
        "--nproc_per_node=1",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{free_port()}",
        "--rdzv-id=ssdkit-two-nodes",
    ]
    mark = str(config)
    with started(torchrun_cmd(config, *rdzv), mark) as node0, started(torchrun_cmd(config, *rdzv), mark) as node1:
        for node in (node0, node1):
            out, err = node.communicate(timeout=600)
            assert node.returncode == 0, out[-2000:] + err[-3000:]
    assert_same_weights(straight_ckpt, work / f"iter_{ITERS}.pth")

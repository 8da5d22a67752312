"""Short deterministic training runs through ``tools/train.py`` for the fault tests: a config file written from
the demo config, run as a subprocess (alone or under torchrun), and the weights it ended with."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from ssdkit.engine import install_safe_checkpoints

from model_utils import demo_config

ROOT = Path(__file__).resolve().parents[1]
TRAIN = str(ROOT / "tools/train.py")
ITERS = 6


def write_config(data: str, work: Path, hooks: list[dict] | None = None, workers: int = 0, **top) -> Path:
    """A 6-iteration deterministic demo run, checkpoints every 2 iterations, no validation; ``hooks`` come from
    tests/fault_hooks.py; ``top`` sets top-level keys."""
    cfg = demo_config(data, str(work), num_workers=workers, persistent_workers=workers > 0, batch_size=2)
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=ITERS, val_interval=1000)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=2, by_epoch=False)
    cfg.default_hooks.logger.interval = 1
    cfg.train_dataloader.sampler = dict(type="DefaultSampler", shuffle=True)
    if hooks:
        cfg.custom_hooks = hooks
        cfg.custom_imports = dict(imports=["fault_hooks"], allow_failed_imports=False)
    cfg.update(top)
    work.mkdir(parents=True, exist_ok=True)
    path = work.with_suffix(".py")
    cfg.dump(str(path))
    return path


def env() -> dict[str, str]:
    """The environment of a run: ssdkit and tests/ importable, one torch thread per process."""
    return dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'tests'}", OMP_NUM_THREADS="1")


def train_cmd(config: Path, *args: str) -> list[str]:
    return [sys.executable, TRAIN, str(config), "--work-dir", str(config.with_suffix("")), *args]


def torchrun_cmd(config: Path, *torchrun_args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        *torchrun_args,
        *train_cmd(config, "--launcher", "pytorch")[1:],
    ]


def run(cmd: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=timeout)


def weights(path: Path) -> dict[str, torch.Tensor]:
    install_safe_checkpoints()
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["meta"]["iter"] == int(path.stem.split("_")[1])
    return ckpt["state_dict"]


def assert_same_weights(a: Path, b: Path) -> None:
    """Every tensor of the two checkpoints' state dicts bit-equal (parameters and BatchNorm statistics)."""
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and len(wa) > 50
    for name, t in wa.items():
        torch.testing.assert_close(wb[name], t, rtol=0, atol=0, msg=f"{name}: {a} vs {b}")


def kill_all(mark: str) -> None:
    """SIGKILL every process whose command line holds ``mark`` (torchrun starts its workers in sessions of their
    own, so a worker can outlive its agent's process group)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if mark in cmdline.read_bytes().decode(errors="replace"):
                os.kill(int(cmdline.parent.name), signal.SIGKILL)


@contextlib.contextmanager
def started(cmd: list[str], mark: str) -> Iterator[subprocess.Popen]:
    """``cmd`` running in its own process group (as on another machine, or under a scheduler), output piped; on the
    way out every process whose command line holds ``mark`` is killed, so a failing test leaves nothing behind."""
    proc = subprocess.Popen(
        cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        yield proc
    finally:
        kill_all(mark)
        proc.communicate(timeout=60)


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 300) -> None:
    """Wait until ``path`` exists (a hook's mark that the run reached a point), failing if ``proc`` ends first."""
    deadline = time.monotonic() + seconds
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), f"{path} did not appear (exit status {proc.poll()})"

"""The built wheel, installed as a user installs it: a fresh venv outside the repo, run from an empty folder.

The venv reuses this interpreter's installed packages (torch, mmengine ...) through a ``.pth`` file added after
ssdkit's wheel is installed, so nothing is downloaded; ``PYTHONPATH`` is cleared so that only the wheel's ssdkit can
be imported. About 2-3 minutes on 2 cores (the build, then a dozen command starts and a 5-iteration training).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from model_utils import ROOT

pytestmark = pytest.mark.slow

DEMO = "demo/ssdlite224_mobilenet_demo"
SHORT = [
    "train_cfg.max_iters=5",
    "train_cfg.val_interval=5",
    "default_hooks.checkpoint.interval=5",
    "default_hooks.logger.interval=1",
    "train_dataloader.batch_size=2",
]


def build_wheel(tmp: Path) -> Path:
    """The wheel of a copy of the repo's packaging files (so the build leaves nothing in the repo)."""
    src = tmp / "src"
    src.mkdir()
    for name in ("setup.cfg", "setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("ssdkit", "configs"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", ".mim"))
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "dist")]
    subprocess.run([*pip, str(src)], check=True, capture_output=True, timeout=600)
    (wheel,) = (tmp / "dist").glob("ssdkit-*.whl")
    return wheel


def fresh_venv(tmp: Path, wheel: Path) -> Path:
    """A venv with only the wheel installed in it, then this interpreter's site-packages added behind it."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    install = [sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install", "-q", "--no-deps"]
    subprocess.run([*install, str(wheel)], check=True, capture_output=True, timeout=300)
    (purelib,) = venv.glob("lib/python3*/site-packages")
    (purelib / "reuse_packages.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """``(venv, empty working folder)``."""
    tmp = tmp_path_factory.mktemp("wheel")
    venv = fresh_venv(tmp, build_wheel(tmp))
    work = tmp / "user_project"
    work.mkdir()
    return venv, work


def ssdkit(installed: tuple[Path, Path], *args: str, timeout: int = 600) -> str:
    venv, work = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    proc = subprocess.run(
        [str(venv / "bin/ssdkit"), *args], cwd=work, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (args, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc.stdout + proc.stderr


def test_the_wheel_carries_the_configs_and_the_command(installed):
    venv, work = installed
    out = ssdkit(installed, "list", "--all")
    assert re.search(r"^configs in .*/site-packages/ssdkit/\.mim/configs:", out, re.M), out
    assert str(venv) in out and str(ROOT) not in out
    assert {"ssd300_vgg16_voc0712", "examples/custom_voc", DEMO} <= set(re.findall(r"^  (\S+)$", out, re.M))
    assert (next(venv.glob("lib/python3*/site-packages/ssdkit/.mim/configs/_base_/default_runtime.py"))).is_file()
    assert re.search(r"ssdkit \d", ssdkit(installed, "--version"))
    info = ssdkit(installed, "info", "ssd300_vgg16_voc0712")
    assert re.search(r"^ssd300_vgg16_voc0712\s+300\s+38,19,10,5,3,1\s+8732\s+8732", info, re.M), info
    (work / "mine.py").write_text("_base_ = 'ssdkit::ssdlite300_mobilenet.py'\n")
    assert re.search(r"^mine\s+300 .* 2268\s+2268", ssdkit(installed, "info", "mine.py"), re.M)
    assert sorted(p.name for p in work.iterdir()) == ["mine.py"]


def readme_install_block() -> list[str]:
    from test_readme_commands import group, readme_commands

    return [c for c in readme_commands() if group(c) == "install"]


def as_tested(cmd: str) -> str:
    """A README line with the overrides of a short test: a small demo set, five iterations."""
    if cmd.startswith("ssdkit make-demo-dataset"):
        return f"{cmd} --num-train 8 --num-val 4"
    if cmd.startswith("ssdkit train"):
        return f"{cmd} --cfg-options {' '.join(SHORT)}"
    return cmd


def test_the_readme_install_block_as_written_then_infer(installed):
    """The README's Install block from an empty folder (``pip install`` is the fixture's install of the wheel, with
    the extras it names checked against setup.cfg); then ``ssdkit infer`` on the checkpoint it trained."""
    import configparser

    venv, work = installed
    block = readme_install_block()
    assert block[0].startswith("pip install 'ssdkit[") and all(c.startswith("ssdkit ") for c in block[1:])
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    extras = set(setup["options.extras_require"])
    assert set(block[0].split("[")[1].split("]")[0].split(",")) <= extras
    folder = work / "readme"
    folder.mkdir()
    outputs = [ssdkit_bash(installed, as_tested(cmd), folder) for cmd in block[1:]]
    assert "train" in outputs[0] and "convert" in outputs[0]  # --help
    checkpoint = (folder / f"work_dirs/{DEMO.split('/')[-1]}/last_checkpoint").read_text().strip()
    assert checkpoint.endswith("iter_5.pth") and Path(checkpoint).is_file()
    assert re.search(r"^test: .*mAP \d", outputs[-1], re.M), outputs[-1][-2000:]
    assert len(outputs[-1].splitlines()) <= 30  # the result, not mmengine's dump
    cv2.imwrite(str(folder / "photo.jpg"), np.full((200, 240, 3), 90, np.uint8))
    ssdkit_bash(installed, f"ssdkit infer {DEMO} {checkpoint} photo.jpg --out-dir shown", folder)
    assert [r["image"] for r in json.loads((folder / "shown/detections.json").read_text())] == ["photo.jpg"]


def ssdkit_bash(installed: tuple[Path, Path], cmd: str, cwd: Path, timeout: int = 600) -> str:
    """``cmd`` in bash with only the venv's bin on the PATH (``$(cat ...)`` as the README writes it)."""
    venv, _ = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    proc = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (cmd, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc.stdout + proc.stderr

"""Every command block of README.md, run as written in a copy of the project on generated data.

The project copy has its own ``configs/`` (so ``cp configs/examples/custom_voc.py configs/my_data.py`` runs as a user
runs it, and the copy finds its ``_base_`` files in ssdkit's ``configs/``) and links to ``tools/`` and ``plugins/``.
Each bash line runs in ``bash`` from the copy's root, ``$(cat ...)`` included; ``#`` comments are dropped, except
the README's edit instruction, which the test carries out (data_root and classes of the copied config).

Overrides, the only changes to what the README shows:

- ``python tools/train.py`` and ``torchrun ... tools/train.py`` get ``--cfg-options`` :data:`SHORT` appended (two
  iterations, validation and a checkpoint at the second, a log line each iteration): the README's trainings take
  hours.
- ``make test`` is not run here: it is the command CI runs, and it runs this file.
- The "Install" block (``pip install`` and ``ssdkit`` lines) runs in tests/test_wheel.py, against the built wheel in
  a fresh venv.
- ``make demo`` runs with ``DEMO_CFG`` set to the demo config with a small set and two iterations
  (``test_make_demo_runs_as_written``, slow): the full demo takes 7-20 minutes.
- The weights block converts files this test writes with random weights in the published files' formats and names.

Time on 2 shared cores: the own-data block and the Python block about a minute (each tool start costs 5-10 s);
the other blocks, marked slow: deploy and analysis about 3 minutes, large images 35 s, weights 30 s, torchrun 30 s,
two machines (the multi-machine torchrun command, twice on loopback) 30 s,
``make demo`` 40 s.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from model_utils import ROOT

SHORT = [
    "train_cfg.max_iters=2",
    "train_cfg.val_interval=2",
    "default_hooks.checkpoint.interval=2",
    "default_hooks.logger.interval=1",
]


def readme_blocks() -> list[tuple[str, str, list[str]]]:
    """``(section, language, commands)`` of each fenced block: bash lines without comments (continuations joined),
    or a python block as one string."""
    out = []
    for section in re.split(r"^## ", (ROOT / "README.md").read_text(), flags=re.M)[1:]:
        title = section.splitlines()[0]
        for lang, body in re.findall(r"^```(\w+)\n(.*?)^```", section, re.M | re.S):
            if lang == "python":
                out.append((title, lang, [body]))
            elif lang == "bash":
                body = body.replace("\\\n", " ")
                lines = [re.sub(r"(^|\s+)#.*$", "", line).strip() for line in body.splitlines()]
                out.append((title, lang, [line for line in lines if line]))
    return out


def readme_commands(section: str | None = None) -> list[str]:
    return [c for title, lang, cmds in readme_blocks() if lang == "bash" and section in (None, title) for c in cmds]


def group(cmd: str) -> str:
    """Which test runs ``cmd``."""
    if cmd.startswith(("pip install ", "ssdkit ")):
        return "install"  # tests/test_wheel.py: the built wheel in a fresh venv
    if cmd.startswith("make "):
        return cmd
    if "tiles_voc" in cmd:
        return "tiles"
    if "small_objects_voc" in cmd:
        return "small objects"
    if "tools/convert_" in cmd:
        return "weights"
    if cmd.startswith("torchrun ") and "HOST0" in cmd:
        return "two machines"
    if cmd.startswith("torchrun "):
        return "torchrun"
    return "own data"


def with_overrides(cmd: str) -> str:
    if "tools/train.py" not in cmd:
        return cmd
    if "--cfg-options" in cmd:
        assert cmd.split("--cfg-options")[1].split()[-1].count("=") == 1, f"--cfg-options must come last: {cmd}"
        return f"{cmd} {' '.join(SHORT)}"
    return f"{cmd} --cfg-options {' '.join(SHORT)}"


OWN_DATA = "Train on your own data"


def run(cmd: str, cwd: Path, timeout: int = 600) -> str:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    proc = subprocess.run(
        ["bash", "-c", with_overrides(cmd)], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (cmd, proc.stdout[-2000:], proc.stderr[-3000:])
    return proc.stdout + proc.stderr


def project(tmp: Path) -> Path:
    """A copy of the project as a user has it: configs/ copied, tools/ and plugins/ linked."""
    root = tmp / "project"
    root.mkdir()
    shutil.copytree(ROOT / "configs", root / "configs")
    for name in ("tools", "plugins"):
        (root / name).symlink_to(ROOT / name)
    return root


def test_every_readme_command_is_run_by_a_test():
    groups = {group(c) for c in readme_commands()}
    assert groups == {
        "install",
        "make demo",
        "make test",
        "own data",
        "tiles",
        "small objects",
        "weights",
        "torchrun",
        "two machines",
    }, groups
    assert any(lang == "python" for _, lang, _ in readme_blocks())
    assert readme_commands(OWN_DATA)[0].startswith("cp configs/examples/custom_voc.py configs/my_data.py")


@pytest.fixture(scope="module")
def own_data(tmp_path_factory):
    """The project copy after the README's "Train on your own data" block: VOC data in data/pets, a photo in
    photos/, then the block's commands (cp, the edit its comment asks for, train, test, infer). ``(root, outputs)``."""
    from test_newcomer import write_tiny_voc

    root = project(tmp_path_factory.mktemp("readme"))
    write_tiny_voc(root / "data/pets")
    (root / "photos").mkdir()
    shutil.copy(root / "data/pets/JPEGImages/im0.jpg", root / "photos/street.jpg")
    outputs = {}
    for cmd in readme_commands(OWN_DATA):
        outputs[cmd] = run(cmd, root)
        if cmd.startswith("cp configs/examples/custom_voc.py configs/my_data.py"):
            cfg = root / "configs/my_data.py"
            text = cfg.read_text()
            edited = text.replace("data_root = 'data/my_voc/'", "data_root = 'data/pets/'")
            assert edited != text and "classes = ('cat', 'dog')" in edited  # the README's edit
            cfg.write_text(edited)
    return root, outputs


@pytest.mark.slow
def test_own_data_block_and_python_as_written(own_data):
    """Copy, edit, train, test, infer as the README says; then the README's Python block on that checkpoint."""
    root, outputs = own_data
    assert (root / "work_dirs/my_data/iter_2.pth").exists()
    tested = [out for cmd, out in outputs.items() if "tools/test.py" in cmd]
    assert len(tested) == 1 and re.search(r"^test: .*mAP \d", tested[0], re.M)
    records = json.loads((root / "work_dirs/my_data/photos/detections.json").read_text())
    assert [r["image"] for r in records] == ["photos/street.jpg"]
    python = [cmds[0] for _, lang, cmds in readme_blocks() if lang == "python"]
    assert len(python) == 1
    env: dict = {}
    cwd = os.getcwd()
    os.chdir(root)
    try:
        exec(python[0], env)
    finally:
        os.chdir(cwd)
    assert len(env["dets"]) == 1 and {"boxes", "scores", "labels", "names"} <= set(env["dets"][0])
    assert len(env["dets"][0]["names"]) == len(env["dets"][0]["labels"])


@pytest.mark.slow
def test_train_test_deploy_analysis_and_plugin_blocks_as_written(own_data):
    """The other blocks that use configs/my_data.py (about 3 minutes: a dozen tool starts), in README order."""
    root, _ = own_data
    checks = {  # a README command -> what it must leave behind
        "--work-dir work_dirs/my_data_amp": lambda out: (root / "work_dirs/my_data_amp/iter_2.pth").exists(),
        "--backend openvino": lambda out: re.search(r"^test: .*mAP \d", out, re.M),
        "--out work_dirs/my_data/dets.json": lambda out: (root / "work_dirs/my_data/dets.json").exists(),
        "--out work_dirs/my_data/model.onnx": lambda out: (root / "work_dirs/my_data/model.onnx").stat().st_size > 0,
        "--out work_dirs/my_data/model_int8.xml": lambda out: (
            re.search(r"^quantize: .*\(int8, openvino", out, re.M)
            and (root / "work_dirs/my_data/model_int8.bin").stat().st_size > 0
        ),
        "--backend onnxruntime": lambda out: (root / "work_dirs/my_data/photos_onnx/detections.json").exists(),
        "--analysis-dir": lambda out: (root / "work_dirs/my_data/analysis/pr_curves.csv").exists(),
        "plot_logs.py": lambda out: (root / "work_dirs/my_data/curves.png").stat().st_size > 0,
        "--suggest": lambda out: "prior_generator=dict(" in out,
        "browse_dataset.py": lambda out: any((root / "work_dirs/my_data/browse").iterdir()),
        "benchmark.py": lambda out: "NMS" in out,
        "list_components.py": lambda out: "SSDHead" in out,
    }
    cmds = [
        c
        for title, lang, block in readme_blocks()
        if lang == "bash" and title != OWN_DATA
        for c in block
        if group(c) == "own data"
    ]
    assert len(cmds) >= 10
    for cmd in cmds:
        out = run(cmd, root)
        for key, check in checks.items():
            if key in cmd:
                assert check(out), (cmd, out[-2000:])


@pytest.mark.slow
def test_torchrun_command_as_written(own_data):
    """Two gloo processes on the CPU, on configs/my_data.py and data/pets."""
    root, _ = own_data
    for cmd in readme_commands():
        if group(cmd) == "torchrun":
            run(cmd, root)
            assert (root / "work_dirs/my_data_ddp/iter_2.pth").exists()


@pytest.mark.slow
def test_two_machine_command_on_loopback(own_data):
    """The command for two machines, started twice on this one as written, except: HOST0:29400 is 127.0.0.1 at a
    free port, one process per "machine" instead of 8, and the shared work dir is a folder of the project."""
    root, _ = own_data
    cmds = [c for c in readme_commands() if group(c) == "two machines"]
    assert len(cmds) == 1 and "--nproc_per_node=8" in cmds[0] and "/shared/work_dirs/my_data" in cmds[0]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = with_overrides(cmds[0]).replace("HOST0:29400", f"127.0.0.1:{port}")
    cmd = cmd.replace("--nproc_per_node=8", "--nproc_per_node=1").replace("/shared/work_dirs/my_data", "two_machines")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    machines = [
        subprocess.Popen(
            ["bash", "-c", cmd],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for _ in range(2)
    ]
    for machine in machines:
        out, err = machine.communicate(timeout=600)
        assert machine.returncode == 0, (cmd, out[-2000:], err[-3000:])
    assert (root / "two_machines/iter_2.pth").exists()


@pytest.mark.slow
def test_large_images_block_as_written(tmp_path):
    """Three tool starts on two generated 600 x 600 images (about 35 s)."""
    from large_images import make_large_voc

    root = project(tmp_path)
    make_large_voc(root / "data/my_large_voc", num_train=1, num_val=1, size=600, objects=6)
    cv2.imwrite(str(root / "big.jpg"), np.full((900, 1200, 3), 40, np.uint8))
    cmds = [c for c in readme_commands() if group(c) == "tiles"]
    assert len(cmds) == 3
    for cmd in cmds:
        out = run(cmd, root)
        if "tools/test.py" in cmd:
            assert re.search(r"^test: .*mAP \d", out, re.M), out[-2000:]
    assert json.loads((root / "work_dirs/tiles_voc/big/detections.json").read_text())[0]["image"] == "big.jpg"


@pytest.mark.slow
def test_small_objects_block_as_written(tmp_path):
    """Train (the prior check and the fit logged before iteration 1) and test tile by tile on a generated set of
    small objects named as the config's classes."""
    from ssdkit.data.small_objects import make_small_objects_dataset

    root = project(tmp_path)
    data = root / "data/my_small_voc"
    make_small_objects_dataset(str(data), num_train=4, num_val=2, max_objects=12, num_classes=2, names=("cat", "dog"))
    cmds = [c for c in readme_commands() if group(c) == "small objects"]
    assert len(cmds) == 2
    trained = run(cmds[0], root)
    assert "prior check:" in trained and "auto priors: coverage" in trained, trained[-3000:]
    assert re.search(r"^test: .*mAP \d", run(cmds[1], root), re.M)


@pytest.mark.slow
def test_weights_block_as_written(tmp_path):
    """The published files' names, written with random weights in their formats (torchvision state dicts, the
    Caffe deploy prototxt and caffemodel); each conversion must write its checkpoint (about 30 s)."""
    import caffe_writer as cw
    import torch
    from test_convert_caffe import BN_EPS, STYLES, detection_params
    from torchvision.models.detection import ssd300_vgg16, ssdlite320_mobilenet_v3_large

    root = project(tmp_path)
    torch.save(ssd300_vgg16(weights=None, weights_backbone=None).state_dict(), root / "ssd300_vgg16_coco-b37ac0ce.pth")
    torch.save(
        ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None).state_dict(),
        root / "ssdlite320_mobilenet_v3_large_coco-a79551df.pth",
    )
    (root / "MobileNetSSD_deploy.prototxt").write_text(cw.mobilenet_ssd_prototxt("deploy", detection_params(), BN_EPS))
    weights = cw.random_weights("deploy", seed=0, bn_eps=BN_EPS)
    (root / "MobileNetSSD_deploy.caffemodel").write_bytes(
        cw.caffemodel_bytes(weights, cw.layer_types("deploy"), STYLES)
    )
    cmds = [c for c in readme_commands() if group(c) == "weights"]
    assert len(cmds) == 3
    for cmd in cmds:
        run(cmd, root)
        out = root / cmd.split()[-1]
        assert "state_dict" in torch.load(out, map_location="cpu", weights_only=True), cmd


@pytest.mark.slow
def test_make_demo_runs_as_written(tmp_path):
    """``make demo`` with ``DEMO_CFG`` (the demo config, 12 train / 4 val images, two iterations) and ``DEMO_DIR``
    set; everything else as ``make demo`` does it."""
    demo_dir = tmp_path / "demo"
    cfg = tmp_path / "demo_small.py"
    cfg.write_text(
        f"_base_ = '{ROOT}/configs/demo/ssdlite224_mobilenet_demo.py'\n"
        f"data_root = '{tmp_path}/data/'\n"
        "demo_dataset = dict(num_train=12, num_val=4)\n"
        f"train_dataloader = dict(dataset=dict(data_root='{tmp_path}/data/'))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{tmp_path}/data/'))\n"
        f"test_dataloader = dict(dataset=dict(data_root='{tmp_path}/data/'))\n"
        "train_cfg = dict(max_iters=2, val_interval=2)\n"
        "default_hooks = dict(checkpoint=dict(interval=2))\n"
    )
    assert "make demo" in readme_commands()
    out = run(f"make demo DEMO_CFG={cfg} DEMO_DIR={demo_dir}", ROOT, timeout=900)
    assert re.search(r"^test: ", out, re.M) and "demo ran on CPU" in out, out[-2000:]
    assert (demo_dir / "val_detections.json").exists()

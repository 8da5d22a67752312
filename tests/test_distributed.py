"""torchrun with 2 CPU processes (gloo): same weights on both ranks, disjoint samples, rank 0 writes,
distributed evaluation equals single-process evaluation of the same checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ssdkit.data.demo import make_demo_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_two_cpu_processes(tmp_path):
    data = str(tmp_path / "demo")
    make_demo_dataset(data, num_train=16, num_val=6)
    work = tmp_path / "ddp"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_port=29541",
            str(ROOT / "tests/ddp_job.py"),
            data,
            str(work),
            "pytorch",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]  # the log says how far each rank got
    a, b = (torch.load(work / f"weights_rank{r}.pt", weights_only=True) for r in (0, 1))
    # parameters are identical; BatchNorm running statistics are per rank (DDP re-broadcasts them from
    # rank 0 at the next forward; SyncBN on GPU synchronises them)
    params = [n for n in a if not n.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert len(params) > 50
    for name in params:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)
    seen0, seen1 = (json.loads((work / f"seen_rank{r}.json").read_text()) for r in (0, 1))
    assert len(seen0) == len(seen1) == 6 and not set(seen0) & set(seen1)  # disjoint halves
    assert [p.name for p in work.glob("*.pth")] == ["iter_3.pth"]
    assert len([d for d in work.iterdir() if d.is_dir()]) == 1  # one log dir: only rank 0 logs
    distributed = json.loads((work / "test_metrics.json").read_text())
    demo_cfg = str(ROOT / "configs/demo/ssdlite224_mobilenet_demo.py")
    single = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools/test.py"),
            demo_cfg,
            str(work / "iter_3.pth"),
            "--work-dir",
            str(tmp_path / "single"),
            "--cfg-options",
            f"test_dataloader.dataset.data_root={data}",
            "test_dataloader.num_workers=0",
            "test_dataloader.persistent_workers=False",
            "test_dataloader.batch_size=2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    line = [ln for ln in single.stderr.splitlines() + single.stdout.splitlines() if "pascal_voc/mAP:" in ln][-1]
    single_map = float(line.split("pascal_voc/mAP:")[1].split()[0])
    assert abs(distributed["pascal_voc/mAP"] - single_map) < 1e-4

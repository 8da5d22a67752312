"""Small, crowded objects: configs/examples/custom_voc.py against configs/examples/small_objects_voc.py.

    python bench/small_objects.py [--iters 800] [--runs custom_nofit,custom,small[,small_tvmatch]] [--threads 1]
                                  [--work-dir D]

Makes the small-objects set (ssdkit.data.small_objects: 400 px images, digits 8-30 px, 1-40 to an image, four
classes; 400 training and 100 validation images), then trains each config for the same iterations, batch and backbone
start, and scores val AP@0.5 on the whole validation images (the tiled recipe through ``tools/test.py --tile``).
Runs: ``custom_nofit`` is custom_voc.py with ``auto_priors=None`` (the configured priors), ``custom`` custom_voc.py as
shipped (priors fitted before training), ``small`` the recipe, ``small_tvmatch`` the recipe with torchvision's
matching. All start from the demo's digit-classifier MobileNetV1 (half width): from scratch none learns in minutes.
Prints, per run: the prior check's coverage, training CPU seconds (this process's children), wall seconds, AP@0.5.
Each run uses ``--threads`` torch threads (default 1), so its CPU seconds barely move with other load.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ssdkit.data.small_objects import make_small_objects_dataset  # noqa: E402
from ssdkit.utils.cpu import describe_cpu  # noqa: E402

#: run name -> (config, extra config lines, tools/test.py arguments, whether its VOCDataset sits in a TiledDataset)
RUNS = {
    "custom_nofit": ("configs/examples/custom_voc.py", "auto_priors = None\n", [], False),
    "custom": ("configs/examples/custom_voc.py", "", [], False),
    "small": ("configs/examples/small_objects_voc.py", "", ["--tile", "200"], True),
    # the recipe with torchvision's matching instead of Caffe's greedy bipartite one
    "small_tvmatch": (
        "configs/examples/small_objects_voc.py",
        "model['matcher'] = dict(_delete_=True, type='SSDMatcher', iou_threshold=0.5)\n",
        ["--tile", "200"],
        True,
    ),
}


def write_config(work: Path, name: str, data: Path, classes: tuple[str, ...], iters: int, batch: int) -> Path:
    """The run's config: the example reading this set, with the common backbone start and schedule."""
    base, extra, _, tiled = RUNS[name]
    voc = f"dict(data_root='{data}/', metainfo=dict(classes={classes!r}))"
    inner = f"dict(dataset={voc})" if tiled else voc
    path, warm = work / f"{name}.py", min(100, iters // 4)
    path.write_text(
        f"_base_ = '{ROOT / base}'\n"
        f"train_dataloader = dict(batch_size={batch}, dataset={inner})\n"
        f"val_dataloader = dict(dataset={inner})\n"
        f"test_dataloader = dict(dataset={voc})\n"
        "model = dict(backbone=dict(pretrained='digits', width_mult=0.5))\n"
        f"train_cfg = dict(max_iters={iters}, val_interval={iters + 1})\n"
        f"default_hooks = dict(checkpoint=dict(interval={iters}))\n"
        "param_scheduler = [\n"
        f"    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end={warm}),\n"
        f"    dict(type='CosineAnnealingLR', by_epoch=False, begin={warm}, end={iters}, eta_min=1e-4),\n"
        "]\n" + extra
    )
    return path


def run(name: str, work: Path, classes: tuple[str, ...], args: argparse.Namespace) -> dict:
    """Train and test one run in subprocesses; its figures."""
    cfg = write_config(work, name, work / "data", classes, args.iters, args.batch)
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    subprocess.run([sys.executable, "tools/train.py", str(cfg), "--work-dir", str(out)], cwd=ROOT, check=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    ckpt = (out / "last_checkpoint").read_text().strip()
    test = subprocess.run(
        [sys.executable, "tools/test.py", str(cfg), ckpt, "--work-dir", str(out / "test"), *RUNS[name][2]],
        cwd=ROOT,
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    log = sorted(out.glob("*/*.log"))[-1].read_text()
    checks = re.findall(r"coverage \(best prior IoU >= [\d.]+\): ([\d.]+%) of all objects; ([\d.]+%)", log)
    coverage, small = checks[-1] if checks else ("-", "-")
    ap = float(re.search(r"pascal_voc/mAP ([\d.]+)", test).group(1))
    print(f"{name}: coverage {coverage} (small {small}), train {cpu:.0f} CPU s / {wall:.0f} s, val AP@0.5 {ap:.3f}")
    return dict(name=name, coverage=coverage, small=small, cpu=cpu, wall=wall, ap=ap)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=800)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads of each run (1: CPU seconds that other load barely moves)"
    )
    ap.add_argument("--runs", default="custom_nofit,custom,small")
    ap.add_argument("--work-dir", default="work_dirs/bench_small_objects")
    args = ap.parse_args()
    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    made = make_small_objects_dataset(str(work / "data"))
    print(f"{describe_cpu()}\nset: {made}")
    rows = [run(name, work, made["classes"], args) for name in args.runs.split(",")]
    print(f"\n{'run':14s}{'coverage':>10s}{'small':>8s}{'train CPU s':>13s}{'train wall s':>14s}{'AP@0.5':>9s}")
    for r in rows:
        print(f"{r['name']:14s}{r['coverage']:>10s}{r['small']:>8s}{r['cpu']:13.0f}{r['wall']:14.0f}{r['ap']:9.3f}")


if __name__ == "__main__":
    main()

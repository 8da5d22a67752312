"""``ssdkit train --vis-backend mlflow|wandb``: mmengine's MLflow and W&B backends get the run's losses, lr and mAP;
a missing tracker package is one line naming the extra."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ssdkit.data.demo import make_demo_dataset
from ssdkit.engine.trackers import VIS_BACKENDS

from model_utils import ROOT, load_tool

train = load_tool("train")
DEMO_CFG = str(ROOT / "configs/demo/ssdlite224_mobilenet_demo.py")


def tiny_run(tmp_path: Path, *flags: str) -> list[dict]:
    """Three iterations of the demo config on four generated images, validation at the end; mmengine's local log
    (scalars.json) as a list of rows."""
    data = tmp_path / "d"
    make_demo_dataset(str(data), seed=3, num_train=4, num_val=2)
    roots = [f"{loader}.dataset.data_root={data}/" for loader in ("train_dataloader", "val_dataloader")]
    options = ["train_dataloader.batch_size=2", "train_cfg.max_iters=3", "train_cfg.val_interval=3"]
    options += ["default_hooks.logger.interval=1", "default_hooks.checkpoint.interval=1000"]
    train.main([DEMO_CFG, "--work-dir", str(tmp_path / "w"), *flags, "--seed", "0", "--cfg-options", *roots, *options])
    (scalars,) = tmp_path.glob("w/*/vis_data/scalars.json")
    return [json.loads(line) for line in scalars.read_text().splitlines()]


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="mlflow is not installed (ssdkit[mlflow])")
def test_mlflow_local_store_holds_the_losses_and_map(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    local = tiny_run(tmp_path, "--vis-backend", "mlflow")
    store = tmp_path / "w/mlruns"
    assert store.is_dir()  # no server: a file store in the work dir
    client = MlflowClient(tracking_uri=store.as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("w").experiment_id])
    for key in ("loss", "loss_cls", "loss_box", "lr"):
        logged = {m.step: m.value for m in client.get_metric_history(run.info.run_id, key)}
        rows = {row["step"]: row[key] for row in local if key in row}
        assert sorted(logged) == sorted(rows) == [1, 2, 3], key
        assert all(logged[s] == pytest.approx(rows[s], rel=1e-6) for s in rows), key
    (val,) = [row for row in local if "pascal_voc/mAP" in row]
    (mAP,) = client.get_metric_history(run.info.run_id, "pascal_voc/mAP")
    assert mAP.value == pytest.approx(val["pascal_voc/mAP"], rel=1e-6)


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb is not installed (ssdkit[wandb])")
def test_wandb_offline_run_gets_the_losses_and_map(tmp_path, monkeypatch):
    """A real offline run (files under the work dir, no network); what reaches ``wandb.log`` is recorded on the way,
    as wandb 0.31 has no reader for its offline run files."""
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    logged: list[dict] = []
    real_log = wandb.Run.log  # wandb.init makes wandb.log the run's bound method

    def record(run, data: dict, *args, **kwargs):
        logged.append(dict(data))
        return real_log(run, data, *args, **kwargs)

    monkeypatch.setattr(wandb.Run, "log", record)
    local = tiny_run(tmp_path, "--vis-backend", "wandb")
    (run_file,) = tmp_path.glob("w/*/vis_data/wandb/offline-run-*/run-*.wandb")
    assert run_file.stat().st_size > 0
    for key in ("loss", "loss_cls", "loss_box", "lr"):
        sent = [row[key] for row in logged if key in row]
        assert sent == pytest.approx([row[key] for row in local if key in row], rel=1e-6), key
    (val,) = [row for row in local if "pascal_voc/mAP" in row]
    sent = [row["pascal_voc/mAP"] for row in logged if "pascal_voc/mAP" in row]
    assert sent == [pytest.approx(val["pascal_voc/mAP"])]


@pytest.mark.parametrize("name", list(VIS_BACKENDS))
def test_a_missing_tracker_package_is_one_line_naming_the_extra(monkeypatch, name):
    package = VIS_BACKENDS[name][1]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda mod, *a: None if mod == package else real(mod, *a))
    with pytest.raises(
        SystemExit, match=rf"^error: --vis-backend {name} needs the {package} package: pip install 'ssdkit\[{name}\]'"
    ):
        train.build_cfg(train.parse_args([DEMO_CFG, "--vis-backend", name]))

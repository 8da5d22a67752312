"""Experiment trackers through mmengine's own visualiser backends (``ssdkit train --vis-backend NAME``).

Each tracker is an optional extra: TensorBoard (``TensorboardVisBackend``, ``<work-dir>/<timestamp>/vis_data``),
MLflow (``MLflowVisBackend``; the server of ``MLFLOW_TRACKING_URI`` when set, else a local store in
``<work-dir>/mlruns``), Weights & Biases (``WandbVisBackend``; ``WANDB_MODE=offline`` keeps it on disk). Each gets
the loss terms, lr and validation metrics mmengine's local log has.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from mmengine.config import Config

#: name -> (mmengine backend, the package it imports, the ssdkit extra that installs it)
VIS_BACKENDS = {
    "tensorboard": ("TensorboardVisBackend", "tensorboard", "tensorboard"),
    "mlflow": ("MLflowVisBackend", "mlflow", "mlflow"),
    "wandb": ("WandbVisBackend", "wandb", "wandb"),
}


def backend_options(name: str, cfg: Config) -> dict:
    """The backend's config entry: MLflow's experiment named after the config and a local store in the work dir
    unless ``MLFLOW_TRACKING_URI`` names one; W&B's project ``ssdkit`` and run named after the config."""
    kind, _, _ = VIS_BACKENDS[name]
    run = Path(str(cfg.work_dir)).name
    if name == "mlflow":
        options = dict(type=kind, exp_name=run)
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            options["tracking_uri"] = Path(str(cfg.work_dir), "mlruns").resolve().as_uri()
            # MLflow 3 refuses a file store unless asked for; a local folder is what a run without a server needs
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        return options
    if name == "wandb":
        return dict(type=kind, init_kwargs=dict(project="ssdkit", name=run))
    return dict(type=kind)


def add_vis_backend(cfg: Config, name: str, flag: str | None = None) -> None:
    """Add tracker ``name`` to ``cfg.visualizer.vis_backends`` (once; mmengine's local backend kept); stop at once
    with one line naming the extra when its package is missing (``flag``: the option the user typed)."""
    if name not in VIS_BACKENDS:
        raise SystemExit(f"error: unknown tracker '{name}'; valid: {', '.join(VIS_BACKENDS)}")
    kind, package, extra = VIS_BACKENDS[name]
    if importlib.util.find_spec(package) is None:
        raise SystemExit(
            f"error: {flag or f'--vis-backend {name}'} needs the {package} package: pip install 'ssdkit[{extra}]' "
            f"(or pip install {package})"
        )
    vis = dict(cfg.get("visualizer") or dict(type="Visualizer"))
    backends = list(vis.get("vis_backends") or [dict(type="LocalVisBackend")])
    if not any(b.get("type") == kind for b in backends):
        backends.append(backend_options(name, cfg))
    cfg.visualizer = dict(vis, vis_backends=backends)

"""Build models from configs for tests."""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from types import ModuleType

import torch
from mmengine import Config
from mmengine.structures import InstanceData

import ssdkit.models  # noqa: F401  (registers the model parts)
from ssdkit.deploy.export import input_size_of
from ssdkit.registry import DETECTORS
from ssdkit.structures import DetSample

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [
    "ssd300_vgg16_voc0712",
    "ssd512_vgg16_voc0712",
    "ssd300_mobilenet",
    "ssd300_mobilenet_caffe",
    "ssdlite300_mobilenet",
    "ffssd300_concat_vgg16_voc0712",
    "ffssd300_sum_vgg16_voc0712",
    "ssd300_vgg16_coco",
    "ssd512_vgg16_coco",
    "ssdlite320_mobilenetv3_coco",
    "ssdlite320_mobilenetv3_voc0712",
]


def load_tool(name: str) -> ModuleType:
    """The module behind ``tools/<name>.py``: ``ssdkit.cli.<name>``, which the script runs (checked here)."""
    script = (ROOT / "tools" / f"{name}.py").read_text()
    assert f'run_tool("{name}")' in script, f"tools/{name}.py does not run ssdkit.cli.{name}"
    return importlib.import_module(f"ssdkit.cli.{name}")


def load_config(name: str) -> Config:
    return Config.fromfile(str(ROOT / "configs" / f"{name}.py"))


def build_model(name_or_cfg, **model_overrides):
    cfg = load_config(name_or_cfg) if isinstance(name_or_cfg, str) else name_or_cfg
    model_cfg = cfg.model
    model_cfg.update(model_overrides)
    return DETECTORS.build(model_cfg)


def demo_config(data: str, work_dir: str, background_prior: bool = True, **loader_options) -> Config:
    """The demo config reading the demo set at ``data`` in all three loaders, writing to ``work_dir``;
    ``loader_options`` (``batch_size=2``, ``num_workers=0`` ...) go to every loader. ``background_prior=False``
    zeroes the head's initial class biases, for tests that need an untrained model's detections: with the demo's
    ``init_background_prob=0.99`` every class scores 0.001 there, under the postprocessor's 0.01."""
    cfg = load_config("demo/ssdlite224_mobilenet_demo")
    if not background_prior:
        cfg.model.head.init_background_prob = None
    cfg.work_dir = work_dir
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[loader].dataset.data_root = str(data)
        cfg[loader].update(loader_options)
    return cfg


def input_size(cfg: Config) -> int:
    """The side of the config's square network input (its test pipeline's ``Resize``)."""
    h, w = input_size_of(cfg)
    assert h == w, f"{cfg.filename}: {h}x{w} input is not square"
    return h


def sample(boxes, labels, size=300, ori=None) -> DetSample:
    s = DetSample(metainfo=dict(img_shape=(size, size), ori_shape=ori or (size, size), img_id=0))
    s.gt_instances = InstanceData(
        bboxes=torch.as_tensor(boxes, dtype=torch.float32).view(-1, 4),
        labels=torch.as_tensor(labels, dtype=torch.long).view(-1),
    )
    return s


def spread_weights(model: torch.nn.Module, seed: int = 0) -> None:
    """Weights whose scores spread out (0.26-0.48 on the demo) instead of the near-uniform 1/(C+1) of a fresh head,
    so that a parity test compares distinct scores."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2 / fan_in))
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.5)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) * 1.5 + 0.5)


def spread_demo_checkpoint(root: Path, num_train: int, num_val: int) -> tuple[Config, Path, torch.nn.Module, Path]:
    """A demo set of ``num_train`` / ``num_val`` images under ``root/data``, the demo config reading it (dumped to
    ``root/demo.py``), and a checkpoint ``root/spread.pth`` of that model with :func:`spread_weights` and the classes
    in its meta: ``(cfg, cfg_path, model, ckpt)``."""
    from ssdkit.apis import init_detector
    from ssdkit.data.demo import make_demo_dataset

    make_demo_dataset(str(root / "data"), num_train=num_train, num_val=num_val)
    cfg = demo_config(str(root / "data"), str(root / "work"))
    cfg_path = root / "demo.py"
    cfg.dump(str(cfg_path))
    model = init_detector(str(cfg_path))
    spread_weights(model)
    ckpt = root / "spread.pth"
    meta = {"dataset_meta": {"classes": list(model.dataset_meta["classes"])}}
    torch.save({"state_dict": model.state_dict(), "meta": meta}, ckpt)
    return cfg, cfg_path, model, ckpt

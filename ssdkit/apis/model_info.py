"""Shape, prior, parameter and FLOP summary of a detector config."""

from __future__ import annotations

import torch
from mmengine import Config
from mmengine.analysis import FlopAnalyzer

import ssdkit.models  # noqa: F401
from ssdkit.deploy.export import input_size_of
from ssdkit.engine import wire_num_classes
from ssdkit.engine.config_bases import resolve_bases
from ssdkit.models.input_norm import backbone_weights
from ssdkit.registry import DETECTORS


def count_flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    """mmengine's FLOP count (multiply-adds) of ``model(x)``, without its per-operator warnings."""
    analyzer = FlopAnalyzer(model, (x,))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analyzer.total()


def weight_source(backbone: dict) -> str:
    """Where the backbone's ``pretrained`` weights come from (short), or ``'none'``."""
    source = backbone_weights(backbone)
    return source.origin.split(": ")[0] if source is not None else "none"


def model_info(config: str) -> dict:
    """Build ``config``'s model and run one image through it at the config's input size (its test ``Resize``)."""
    cfg = Config.fromfile(resolve_bases(config))
    if cfg.model.get("num_classes") is None:
        wire_num_classes(cfg)  # a config that takes the class count from its data
    model = DETECTORS.build(cfg.model).eval()
    size = input_size_of(cfg)[0]
    x = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        feats = model.extract_feats(x)
        cls, _ = model(x, mode="tensor")
    priors = model.priors_for(feats, x)
    return dict(
        config=config,
        input_size=size,
        weights=weight_source(cfg.model.backbone),
        maps=[tuple(f.shape[-2:]) for f in feats],
        channels=list(model.neck.out_channels),
        priors=int(priors.shape[0]),
        head_outputs=int(cls.shape[1]),
        params_m=sum(p.numel() for p in model.parameters()) / 1e6,
        gflops=count_flops(model, x) / 1e9,
    )

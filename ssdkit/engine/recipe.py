"""Numbers a config's data pipeline takes from its model, wired when the config is loaded."""

from __future__ import annotations

import math
from collections.abc import Iterator

from mmengine.config import Config

from ssdkit.models.input_norm import wire_input_norm


def _dicts(node, path: str) -> Iterator[tuple[str, dict]]:
    """Every dict inside ``node`` (depth first) with its config path."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _dicts(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _dicts(value, f"{path}[{i}]")


def _is_expand(d: dict) -> bool:
    kind = d.get("type")
    return kind == "Expand" or getattr(kind, "__name__", None) == "Expand"


def wire_expand_fill(cfg: Config) -> Config:
    """Fill every ``Expand`` of ``cfg`` with the model's normalisation mean (0 after normalisation, as the
    released SSD's ``expand_param``); a stated fill that differs is an error naming its key. No mean: 0."""
    model = cfg.get("model") or {}
    if "backbone" not in model:
        unfilled = [path for path, d in _dicts(cfg._cfg_dict, "") if _is_expand(d) and d.get("mean") is None]
        if unfilled:
            raise ValueError(
                f"{cfg.filename}: {unfilled[0]} has no mean and the config has no model.backbone to take "
                f"it from; state {unfilled[0]}.mean (the model's input mean, RGB 0..255)"
            )
        return cfg
    pre = wire_input_norm(model.get("data_preprocessor"), model["backbone"]) or {}
    mean = [float(v) for v in (pre.get("mean") or (0.0, 0.0, 0.0))]
    rgb = bool(pre.get("bgr_to_rgb", False))
    for path, d in _dicts(cfg._cfg_dict, ""):
        if not _is_expand(d):
            continue
        if d.get("mean") is None:
            d["mean"], d["mean_is_rgb"] = mean, rgb
            continue
        stated_bgr = list(d["mean"])[::-1] if d.get("mean_is_rgb", True) else list(d["mean"])
        wanted_bgr = mean[::-1] if rgb else mean
        if not all(math.isclose(float(a), b, abs_tol=0.5) for a, b in zip(stated_bgr, wanted_bgr, strict=True)):
            raise ValueError(
                f"{path}.mean={list(d['mean'])} (mean_is_rgb={d.get('mean_is_rgb', True)}) differs from "
                f"the model's input mean {mean} ({'RGB' if rgb else 'BGR'}): Expand fills with the "
                f"mean so the canvas is 0 after normalisation; remove {path}.mean (ssdkit fills it)"
            )
    return cfg

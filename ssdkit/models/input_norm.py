"""The detector's input normalisation, taken from its backbone's pretrained weights."""

from __future__ import annotations

import math

from ssdkit.registry import BACKBONES

from .backbones.weights import InputNorm, WeightsSource, weights_of

NORM_KEYS = ("mean", "std", "bgr_to_rgb")


def backbone_weights(backbone: dict) -> WeightsSource | None:
    """The pretrained weights the backbone config loads, without building it: its class says which
    (:func:`~ssdkit.models.backbones.weights.weights_of`: ``weights_for(cfg)``, or its ``WEIGHTS`` table at
    ``pretrained``). ``None`` without weights, or for an unknown type (building the backbone names it)."""
    kind = backbone.get("type")
    cls = BACKBONES.get(kind) if isinstance(kind, str) else kind
    return weights_of(cls, backbone) if isinstance(cls, type) else None


def backbone_input_norm(backbone: dict) -> tuple[InputNorm | None, str]:
    """The normalisation ``backbone``'s pretrained weights were trained on, and a label naming them;
    ``(None, '')`` without weights."""
    source = backbone_weights(backbone)
    if source is None:
        return None, ""
    kind = backbone.get("type")
    return source.norm, (
        f"{getattr(kind, '__name__', kind)}(pretrained={backbone.get('pretrained')!r}) ({source.origin})"
    )


def _agree(stated, wanted) -> bool:
    if isinstance(wanted, bool):
        return bool(stated) == wanted
    return len(stated) == len(wanted) and all(
        math.isclose(float(a), b, rel_tol=1e-3, abs_tol=1e-2) for a, b in zip(stated, wanted, strict=True)
    )


def wire_input_norm(preprocessor: dict | None, backbone: dict, where: str = "model.data_preprocessor") -> dict | None:
    """``preprocessor`` with ``mean``, ``std`` and ``bgr_to_rgb`` from the backbone's weights.

    A config that states a value the weights disagree with is an error naming both and the weights; without
    pretrained weights ``preprocessor`` is returned as the config states it.
    """
    norm, label = backbone_input_norm(backbone)
    if norm is None:
        return preprocessor
    cfg = dict(preprocessor or dict(type="ImgDataPreprocessor"))
    wanted = norm.preprocessor()
    wrong = {k: cfg[k] for k in NORM_KEYS if cfg.get(k) is not None and not _agree(cfg[k], wanted[k])}
    if wrong:
        stated = ", ".join(f"{k}={cfg[k]!r}" for k in NORM_KEYS if cfg.get(k) is not None)
        raise ValueError(
            f"{where} states {stated}, but the backbone weights {label} were trained on "
            f"{norm.describe()} (bgr_to_rgb={norm.rgb}); remove {', '.join(wrong)} from {where} "
            f"(ssdkit takes the normalisation from the weights) or choose weights trained on yours"
        )
    cfg.update(wanted)
    return cfg

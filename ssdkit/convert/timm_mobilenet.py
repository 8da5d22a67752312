"""timm ``mobilenetv1_100`` state dicts -> ssdkit ``MobileNetV1`` keys."""

from __future__ import annotations

import re
from collections.abc import Mapping

from torch import Tensor

_PARTS = (("conv_dw", "0.0"), ("bn1", "0.1"), ("conv_pw", "1.0"), ("bn2", "1.1"))
_DROPPED = ("classifier.", "conv_head.", "norm_head.", "bn2.")  # timm's classifier head (and optional head conv)


def timm_mobilenetv1_to_ssdkit(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """timm ``mobilenetv1_100`` state dict (whole model or ``features_only``) -> ``MobileNetV1`` keys.

    ``conv_stem`` / ``bn1`` -> ``stem.0`` / ``stem.1``; ``blocks.{s}.{j}.conv_dw / bn1 / conv_pw / bn2`` ->
    ``blocks.{i}.0.0 / .0.1 / .1.0 / .1.1``, ``i`` counting timm's blocks in stage order (stages of 1, 2, 2, 6, 2
    blocks -> 0 .. 12). The classifier is dropped; any other key is an error naming it.
    """
    found = sorted(
        {(int(m[1]), int(m[2])) for k in state_dict if (m := re.fullmatch(r"blocks\.(\d+)\.(\d+)\.conv_dw\.weight", k))}
    )
    if "conv_stem.weight" not in state_dict or not found:
        raise KeyError(
            f"timm mobilenetv1 state dict: no conv_stem.weight / blocks.S.J.conv_dw.weight "
            f"(found e.g. {list(state_dict)[:4]})"
        )
    rename = {"conv_stem": "stem.0", "bn1": "stem.1"}
    for i, (s, j) in enumerate(found):
        rename.update({f"blocks.{s}.{j}.{theirs}": f"blocks.{i}.{ours}" for theirs, ours in _PARTS})
    out, unknown = {}, []
    for key, value in state_dict.items():
        module, _, param = key.rpartition(".")
        if module in rename:
            out[f"{rename[module]}.{param}"] = value
        elif not key.startswith(_DROPPED):
            unknown.append(key)
    if unknown:
        raise KeyError(f"timm mobilenetv1 state dict: keys without a place in MobileNetV1: {unknown[:6]}")
    return out

"""Turn torchvision state dicts into ssdkit checkpoints."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor
from torchvision.models._meta import _COCO_CATEGORIES

from .vgg import torchvision_ssd_backbone_to_atrous, vgg16_to_atrous

#: COCO category id of each contiguous class 0..79 (torchvision's 91-way index is the category id).
COCO_CATEGORY_IDS: list[int] = [i for i, n in enumerate(_COCO_CATEGORIES) if n not in ("__background__", "N/A")]
COCO_CLASSES: list[str] = [_COCO_CATEGORIES[i] for i in COCO_CATEGORY_IDS]
NUM_EXTRAS = 4  # torchvision's SSD300 extras after conv7: conv8_2 .. conv11_2


def _coco_class_rows(key: str, t: Tensor, num_priors: int) -> Tensor:
    """Rows of torchvision's ``[A*91, ...]`` COCO classifier ``key``, laid out (prior, class) ->
    ``[A*81, ...]``: background, then the 80 categories in contiguous-label order."""
    if t.shape[0] != num_priors * 91:
        raise ValueError(f"{key}: expected {num_priors} x 91 rows (torchvision's COCO classifier), got {t.shape[0]}")
    columns = [0] + COCO_CATEGORY_IDS
    return t.reshape(num_priors, 91, *t.shape[1:])[:, columns].reshape(num_priors * len(columns), *t.shape[1:])


def convert_torchvision_ssd300_vgg16(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """torchvision ``ssd300_vgg16`` (91-way COCO classifier) -> ``configs/ssd300_vgg16_coco.py`` keys
    (80 classes + background, class rows reordered to contiguous COCO labels)."""
    sd = dict(state_dict)
    out = {f"backbone.{k}": v for k, v in torchvision_ssd_backbone_to_atrous(sd, prefix="backbone.").items()}
    for i in range(NUM_EXTRAS):
        for j in (0, 2):
            for p in ("weight", "bias"):
                out[f"neck.extras.layers.{i}.{j}.{p}"] = sd[f"backbone.extra.{i + 1}.{j}.{p}"]
    k = 0
    while f"head.classification_head.module_list.{k}.weight" in sd:
        reg_w = sd[f"head.regression_head.module_list.{k}.weight"]
        num_priors = reg_w.shape[0] // 4
        for p in ("weight", "bias"):
            key = f"head.classification_head.module_list.{k}.{p}"
            out[f"head.cls_convs.{k}.{p}"] = _coco_class_rows(key, sd[key], num_priors)
            out[f"head.reg_convs.{k}.{p}"] = sd[f"head.regression_head.module_list.{k}.{p}"]
        k += 1
    if k == 0:
        raise KeyError(
            "no 'head.classification_head.module_list.0.weight' in the state dict: is this a torchvision "
            "ssd300_vgg16 state dict?"
        )
    return out


def _ssdlite_backbone_key(key: str, c4: int) -> str:
    """torchvision ``SSDLiteFeatureExtractorMobileNet`` key (``features.0`` up to the C4 expansion, ``features.1`` from
    the C4 depthwise conv on) -> ssdkit ``MobileNetV3.features`` key (torchvision's own MobileNetV3 indices)."""
    part, index, rest = key.split(".", 2)
    if part == "0":
        return f"features.{index}.{rest}" if int(index) < c4 else f"features.{c4}.block.0.{rest}"
    if index == "0":  # the C4 block from its depthwise conv on: block indices kept
        return f"features.{c4}.block.{rest}"
    return f"features.{c4 + int(index)}.{rest}"


def _ssdlite_block(key: str) -> str:
    """``{i}.{b}.{0|1}.rest`` of torchvision's ``Conv2dNormActivation`` triples -> ssdkit's flat
    ``{i}.{3b + j}.rest``."""
    i, b, j, rest = key.split(".", 3)
    return f"{i}.{3 * int(b) + int(j)}.{rest}"


def convert_torchvision_ssdlite320(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """torchvision ``ssdlite320_mobilenet_v3_large`` (91-way COCO classifier) ->
    ``configs/ssdlite320_mobilenetv3_coco.py`` keys: the backbone's C4 split undone, extras and depthwise
    predictors flattened, class rows reordered to the 80 contiguous COCO labels."""
    sd = dict(state_dict)
    stem = [k for k in sd if k.startswith("backbone.features.0.")]
    if not stem or not any(k.startswith("head.classification_head.module_list.") for k in sd):
        raise KeyError(
            "no 'backbone.features.0.*' or 'head.classification_head.module_list.*' keys: is this a "
            "torchvision ssdlite320_mobilenet_v3_large state dict?"
        )
    c4 = max(int(k.split(".")[3]) for k in stem)  # features.0 ends with the C4 block's expansion
    out: dict[str, Tensor] = {}
    for key, value in sd.items():
        if key.startswith("backbone.features."):
            out["backbone." + _ssdlite_backbone_key(key[len("backbone.features.") :], c4)] = value
        elif key.startswith("backbone.extra."):
            out["neck.extras.layers." + _ssdlite_block(key[len("backbone.extra.") :])] = value
        elif key.startswith(("head.classification_head.module_list.", "head.regression_head.module_list.")):
            kind, rest = key[len("head.") :].split(".module_list.", 1)
            k, stage, tail = rest.split(".", 2)
            ours = f"head.{'cls' if kind.startswith('class') else 'reg'}_convs.{k}"
            if stage == "0":  # depthwise 3x3 + BN
                out[f"{ours}.{tail}"] = value
                continue
            if kind.startswith("class"):  # the 1x1: rows (prior, class), 91 classes -> background + 80
                num_priors = sd[f"head.regression_head.module_list.{k}.1.weight"].shape[0] // 4
                value = _coco_class_rows(key, value, num_priors)
            out[f"{ours}.3.{tail}"] = value
        else:
            raise KeyError(f"{key}: not a key of torchvision's ssdlite320_mobilenet_v3_large")
    return out


def convert_torchvision_vgg16(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """torchvision ImageNet ``vgg16`` -> ``VGG16Atrous`` keys (load with the backbone's ``init_cfg``)."""
    return vgg16_to_atrous(dict(state_dict))


def load_state_dict_file(path: str) -> dict[str, Tensor]:
    """A state dict from a ``.pth`` file (tensors only: ``weights_only=True``); unwraps ``state_dict``/``model``."""
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f"{path}: not a state dict (a mapping of names to tensors)")
    return obj

"""The released Caffe MobileNet-SSD (chuanqi305/MobileNet-SSD) -> ``configs/ssd300_mobilenet_caffe.py`` keys.

Both released forms convert: the trained net (``deploy.prototxt`` / ``MobileNetSSD_train.prototxt``: Convolution
without bias, BatchNorm, Scale) and the merged one (``MobileNetSSD_deploy.prototxt``: BN folded into Convolution
with bias). ssdkit's convolutions have no bias and a BatchNorm2d after them, so a merged conv's bias becomes an
identity BatchNorm's bias. Layers are found by name in the prototxt; every shape and parameter is checked against
the released network, and each error names the prototxt or the caffemodel and the layer.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ssdkit.data import VOC_CLASSES

from .caffe_model import CaffeLayer, read_caffemodel
from .prototxt import Message, parse_prototxt, prototxt_layers

__all__ = [
    "CAFFE_MOBILENET_SSD_CLASSES",
    "CaffeConversionError",
    "RELEASED_PRIOR_BOXES",
    "convert_caffe_mobilenet_ssd",
    "detection_output_settings",
]

#: Caffe label k (1..20) is ``VOC_CLASSES[k - 1]``; label 0 is background, as ssdkit's head column 0
CAFFE_MOBILENET_SSD_CLASSES: list[str] = list(VOC_CLASSES)
TORCH_BN_EPS = 1e-5  # nn.BatchNorm2d's default, which ssdkit's conv_bn_act uses
CAFFE_BN_EPS = 1e-5  # BatchNormParameter.eps default

# conv1 .. conv13 (depthwise 3x3 + pointwise 1x1): stride and output channels, ssdkit's MobileNetV1 at width 1.0
BACKBONE_STRIDES = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
BACKBONE_CHANNELS = [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]
# conv14 .. conv17: (in, 1x1 out, 3x3 stride-2 out)
_EXTRAS = [(1024, 256, 512), (512, 128, 256), (256, 128, 256), (256, 64, 128)]
# prediction maps: (Caffe bottom, channels, priors per location)
_MAPS = [
    ("conv11", 512, 3),
    ("conv13", 1024, 6),
    ("conv14_2", 512, 6),
    ("conv15_2", 256, 6),
    ("conv16_2", 256, 6),
    ("conv17_2", 128, 6),
]
_NUM_CLASSES = 21

#: The released PriorBox layers (deploy.prototxt, voc/MobileNetSSD_deploy.prototxt): bottom -> (min_size, max_size
#: or None, aspect ratios); all with flip true, clip false, variances 0.1 0.1 0.2 0.2, offset 0.5, no step.
RELEASED_PRIOR_BOXES: dict[str, tuple[float, float | None, tuple[float, ...]]] = {
    "conv11": (60.0, None, (2.0,)),
    "conv13": (105.0, 150.0, (2.0, 3.0)),
    "conv14_2": (150.0, 195.0, (2.0, 3.0)),
    "conv15_2": (195.0, 240.0, (2.0, 3.0)),
    "conv16_2": (240.0, 285.0, (2.0, 3.0)),
    "conv17_2": (285.0, 300.0, (2.0, 3.0)),
}
_VARIANCES = (0.1, 0.1, 0.2, 0.2)


class CaffeConversionError(ValueError):
    """A prototxt / caffemodel pair that is not the released MobileNet-SSD; the message names file and layer."""


@dataclass(frozen=True)
class _Conv:
    caffe: str  # Caffe layer name
    conv: str  # ssdkit conv key prefix
    bn: str | None  # ssdkit BatchNorm key prefix (None: a prediction conv with its own bias)
    cin: int
    cout: int
    kernel: int
    stride: int = 1
    pad: int = 0
    group: int = 1


def mobilenet_ssd_convs() -> list[_Conv]:
    """Every convolution of the released MobileNet-SSD, in network order, with its ssdkit keys."""
    convs = [_Conv("conv0", "backbone.stem.0", "backbone.stem.1", 3, 32, 3, 2, 1)]
    cin = 32
    for i, (s, c) in enumerate(zip(BACKBONE_STRIDES, BACKBONE_CHANNELS, strict=True)):
        block = f"backbone.blocks.{i}"
        convs.append(_Conv(f"conv{i + 1}/dw", f"{block}.0.0", f"{block}.0.1", cin, cin, 3, s, 1, cin))
        convs.append(_Conv(f"conv{i + 1}", f"{block}.1.0", f"{block}.1.1", cin, c, 1))
        cin = c
    for i, (c_in, mid, out) in enumerate(_EXTRAS):
        layer = f"neck.extras.layers.{i}"
        convs.append(_Conv(f"conv{14 + i}_1", f"{layer}.0", f"{layer}.1", c_in, mid, 1))
        convs.append(_Conv(f"conv{14 + i}_2", f"{layer}.3", f"{layer}.4", mid, out, 3, 2, 1))
    for k, (name, ch, priors) in enumerate(_MAPS):
        convs.append(_Conv(f"{name}_mbox_loc", f"head.reg_convs.{k}", None, ch, priors * 4, 1))
        convs.append(_Conv(f"{name}_mbox_conf", f"head.cls_convs.{k}", None, ch, priors * _NUM_CLASSES, 1))
    return convs


def _one(msg: Message, key: str, default=None):
    values = msg.get(key)
    return values[0] if values else default


def _param(layer: Message, key: str) -> Message:
    return _one(layer, key, {}) or {}


def _conv_geometry(p: Message) -> tuple[int | None, int | None, int, int, int, int]:
    """``(num_output, kernel, stride, pad, group, dilation)`` of a ``convolution_param`` (square only: a
    rectangular kernel/stride/pad gives ``-1`` there)."""

    def square(key: str, h: str, w: str, default: int | None) -> int | None:
        if p.get(h) or p.get(w):
            hv, wv = _one(p, h, default), _one(p, w, default)
            return hv if hv == wv else -1
        vals = p.get(key) or ([] if default is None else [default])
        return vals[0] if vals and all(v == vals[0] for v in vals) else (None if not vals else -1)

    return (
        _one(p, "num_output"),
        square("kernel_size", "kernel_h", "kernel_w", None),
        square("stride", "stride_h", "stride_w", 1) or 1,
        square("pad", "pad_h", "pad_w", 0) or 0,
        _one(p, "group", 1),
        _one(p, "dilation", 1),
    )


def _consumer(layers: list[Message], start: int, blob: str) -> tuple[int, Message] | None:
    """The first layer after index ``start`` that reads ``blob``."""
    for j in range(start + 1, len(layers)):
        if blob in layers[j].get("bottom", []):
            return j, layers[j]
    return None


def _check_prior_boxes(layers: list[Message], where: str) -> None:
    """The prototxt's PriorBox layers must be the released ones: ssdkit's config states them."""
    for layer in layers:
        if _one(layer, "type") != "PriorBox":
            continue
        name, bottom = _one(layer, "name"), _one(layer, "bottom")
        if bottom not in RELEASED_PRIOR_BOXES:
            raise CaffeConversionError(
                f"{where}: PriorBox layer '{name}' reads '{bottom}'; the released MobileNet-SSD "
                f"has PriorBox layers on {list(RELEASED_PRIOR_BOXES)}"
            )
        p = _param(layer, "prior_box_param")
        lo, hi, ratios = RELEASED_PRIOR_BOXES[bottom]
        found = dict(
            min_size=[float(v) for v in p.get("min_size", [])],
            max_size=[float(v) for v in p.get("max_size", [])],
            aspect_ratio=[float(v) for v in p.get("aspect_ratio", [])],
            flip=bool(_one(p, "flip", True)),
            clip=bool(_one(p, "clip", False)),
            variance=[float(v) for v in p.get("variance", [])],
            offset=float(_one(p, "offset", 0.5)),
            step=[float(v) for v in p.get("step", []) + p.get("step_h", []) + p.get("step_w", [])],
        )
        wanted = dict(
            min_size=[lo],
            max_size=[] if hi is None else [hi],
            aspect_ratio=list(ratios),
            flip=True,
            clip=False,
            variance=list(_VARIANCES),
            offset=0.5,
            step=[],
        )
        _require_released(
            found,
            wanted,
            f"{where}: PriorBox layer '{name}'",
            "the released MobileNet-SSD (which configs/ssd300_mobilenet_caffe.py states)",
        )


def _same(a, b) -> bool:
    if isinstance(a, list):
        return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-6) for x, y in zip(a, b, strict=True))
    return a == b


def _require_released(found: dict, wanted: dict, layer: str, released: str) -> None:
    """Raise naming ``layer``'s settings that differ from ``wanted`` and the ``released`` values."""
    wrong = {k: v for k, v in found.items() if not _same(v, wanted[k])}
    if wrong:
        raise CaffeConversionError(
            f"{layer} has "
            + ", ".join(f"{k}={v}" for k, v in wrong.items())
            + f"; {released} has "
            + ", ".join(f"{k}={wanted[k]}" for k in wrong)
        )


def _check_detection_output(layers: list[Message], where: str) -> None:
    for layer in layers:
        if _one(layer, "type") != "DetectionOutput":
            continue
        p = _param(layer, "detection_output_param")
        found = dict(
            num_classes=_one(p, "num_classes"),
            background_label_id=_one(p, "background_label_id", 0),
            share_location=bool(_one(p, "share_location", True)),
            code_type=_one(p, "code_type", "CORNER"),
            variance_encoded_in_target=bool(_one(p, "variance_encoded_in_target", False)),
        )
        wanted = dict(
            num_classes=_NUM_CLASSES,
            background_label_id=0,
            share_location=True,
            code_type="CENTER_SIZE",
            variance_encoded_in_target=False,
        )
        _require_released(
            found, wanted, f"{where}: DetectionOutput layer '{_one(layer, 'name')}'", "the released MobileNet-SSD"
        )


def detection_output_settings(prototxt: str | os.PathLike) -> dict | None:
    """The prototxt's ``DetectionOutput`` as ``SSDPostprocessor`` arguments (``score_thr``, ``pre_nms_topk``,
    ``nms_iou``, ``max_per_img``), or ``None`` without one (a training net)."""
    for layer in prototxt_layers(parse_prototxt(prototxt)):
        if _one(layer, "type") == "DetectionOutput":
            p = _param(layer, "detection_output_param")
            nms = _param(p, "nms_param")
            return dict(
                score_thr=float(_one(p, "confidence_threshold", 0.0)),
                pre_nms_topk=int(_one(nms, "top_k", -1)),
                nms_iou=float(_one(nms, "nms_threshold", 0.3)),
                max_per_img=int(_one(p, "keep_top_k", -1)),
            )
    return None


class _Weights:
    """The caffemodel's layers, taken by name with their blob count and shapes checked; remembers which were used."""

    def __init__(self, caffemodel: str | os.PathLike, where: str) -> None:
        self.layers = read_caffemodel(caffemodel)
        self.file, self.where = f"caffemodel '{caffemodel}'", where
        self.used: set[str] = set()

    def take(self, name: str, kind: str, count: int, why: str) -> CaffeLayer:
        """Layer ``name`` (a ``kind`` in the prototxt), which must hold ``count`` blobs (``why`` says what they are)."""
        if name not in self.layers:
            raise CaffeConversionError(
                f"{self.file}: no layer '{name}' ({kind}, in {self.where}): does the "
                f"caffemodel belong to this prototxt?"
            )
        layer = self.layers[name]
        if len(layer.blobs) != count:
            raise CaffeConversionError(f"{self.file}: layer '{name}' has {len(layer.blobs)} blobs, but {why}")
        self.used.add(name)
        return layer

    def blob(self, name: str, i: int, shape: tuple[int, ...]) -> np.ndarray:
        """Blob ``i`` of layer ``name`` as float64 in ``shape`` (a 1-d shape takes any blob of that many values,
        e.g. legacy ``(1, 1, 1, C)``)."""
        layer = self.layers[name]
        blob = layer.blobs[i]
        if not (blob.size == shape[0] if len(shape) == 1 else tuple(blob.shape) == shape):
            raise CaffeConversionError(
                f"{self.file}: layer '{name}' ({layer.type}) blob {i} has shape {tuple(blob.shape)}, expected {shape}"
            )
        return blob.reshape(shape).astype(np.float64)

    def check_all_used(self) -> None:
        unused = [
            f"'{n}' ({w.type}, blob shapes {[tuple(b.shape) for b in w.blobs]})"
            for n, w in self.layers.items()
            if w.blobs and n not in self.used
        ]
        if unused:
            raise CaffeConversionError(
                f"{self.file}: unexpected layer(s) with weights that {self.where} does not "
                f"use: {', '.join(unused[:5])}{' ...' if len(unused) > 5 else ''}"
            )


def _check_conv(c: _Conv, layer: Message, where: str) -> bool:
    """The prototxt's Convolution ``c.caffe`` has the released geometry; returns its ``bias_term``."""
    if _one(layer, "type") != "Convolution":
        raise CaffeConversionError(f"{where}: layer '{c.caffe}' is a {_one(layer, 'type')}, expected Convolution")
    p = _param(layer, "convolution_param")
    found, wanted = _conv_geometry(p), (c.cout, c.kernel, c.stride, c.pad, c.group, 1)
    if found != wanted:
        raise CaffeConversionError(
            f"{where}: layer '{c.caffe}' has num_output, kernel, stride, pad, group, dilation = {found}; the "
            f"released MobileNet-SSD (configs/ssd300_mobilenet_caffe.py) has {wanted}"
        )
    return bool(_one(p, "bias_term", True))


def _batch_norm(
    c: _Conv, bias: np.ndarray, bn: Message | None, scale: Message | None, src: _Weights
) -> dict[str, np.ndarray]:
    """ssdkit's BatchNorm2d (``weight``, ``bias``, ``running_mean``, ``running_var``, all ``[C]``) equal to conv
    bias ``bias`` then Caffe's BatchNorm ``bn`` and Scale ``scale`` (an identity plus ``bias`` without them)."""
    n = c.cout
    if bn is None:  # merged: (x - 0) / sqrt(1 - eps + eps) * 1 + bias
        return dict(weight=np.ones(n), bias=bias, running_mean=np.zeros(n), running_var=np.full(n, 1 - TORCH_BN_EPS))
    name = _one(bn, "name")
    src.take(name, "BatchNorm", 3, "Caffe's BatchNorm has 3 (mean, variance, moving-average scale factor)")
    s = float(src.blob(name, 2, (1,))[0])
    factor = 0.0 if s == 0 else 1.0 / s  # as Caffe's BatchNormLayer
    eps = float(_one(_param(bn, "batch_norm_param"), "eps", CAFFE_BN_EPS))
    out = dict(
        weight=np.ones(n),
        bias=np.zeros(n),
        running_mean=src.blob(name, 0, (n,)) * factor - bias,  # (x + b) - m = x - (m - b)
        running_var=src.blob(name, 1, (n,)) * factor + eps - TORCH_BN_EPS,
    )
    if scale is not None:
        name = _one(scale, "name")
        has_beta = bool(_one(_param(scale, "scale_param"), "bias_term", False))
        src.take(name, "Scale", 1 + has_beta, f"{src.where} states bias_term: {str(has_beta).lower()}")
        out["weight"] = src.blob(name, 0, (n,))
        if has_beta:
            out["bias"] = src.blob(name, 1, (n,))
    return out


def convert_caffe_mobilenet_ssd(prototxt: str | os.PathLike, caffemodel: str | os.PathLike) -> dict[str, Tensor]:
    """The released MobileNet-SSD's ``prototxt`` and ``caffemodel`` -> a state dict that loads with ``strict=True``
    into ``configs/ssd300_mobilenet_caffe.py``'s model (float32 tensors, conv weights ``[out, in/group, k, k]``).

    Per backbone/extra conv: its weight, and a BatchNorm from the Caffe BatchNorm (blobs ``mean * s``, ``var * s``,
    ``s``: running stats are blob / s, ``s = 0`` meaning 0) and Scale (gamma, beta) that follow it, with Caffe's eps
    carried into ``running_var`` (``var + eps - 1e-5``) and a conv bias into ``running_mean``; a merged conv (bias,
    no BatchNorm) gets an identity BatchNorm (mean 0, var ``1 - 1e-5``, weight 1) whose bias is the conv's bias.
    Prediction convs map 1:1 (Caffe's permute-flatten order is ssdkit's (row, column, box, value) order).
    """
    where = f"prototxt '{prototxt}'"
    layers = prototxt_layers(parse_prototxt(prototxt))
    src = _Weights(caffemodel, where)
    by_name = {_one(layer, "name"): (i, layer) for i, layer in enumerate(layers)}
    _check_prior_boxes(layers, where)
    _check_detection_output(layers, where)
    convs = mobilenet_ssd_convs()
    known = {c.caffe for c in convs}
    extra = [
        _one(layer, "name")
        for layer in layers
        if _one(layer, "name") not in known and _one(layer, "type") in ("Convolution", "Deconvolution", "InnerProduct")
    ]
    if extra:
        raise CaffeConversionError(f"{where}: unexpected layer(s) {extra}: not in the released MobileNet-SSD")
    out: dict[str, Tensor] = {}
    for c in convs:
        if c.caffe not in by_name:
            raise CaffeConversionError(
                f"{where}: no layer '{c.caffe}' (Convolution): is this the MobileNet-SSD prototxt?"
            )
        idx, layer = by_name[c.caffe]
        has_bias = _check_conv(c, layer, where)
        src.take(
            c.caffe,
            "Convolution",
            1 + has_bias,
            f"{where} states bias_term: {str(has_bias).lower()} ({1 + has_bias} blobs): does the caffemodel "
            f"belong to this prototxt (trained net with BatchNorm, or the merged deploy net)?",
        )
        out[f"{c.conv}.weight"] = torch.from_numpy(
            src.blob(c.caffe, 0, (c.cout, c.cin // c.group, c.kernel, c.kernel)).astype(np.float32)
        )
        bias = src.blob(c.caffe, 1, (c.cout,)) if has_bias else np.zeros(c.cout)
        if c.bn is None:
            out[f"{c.conv}.bias"] = torch.from_numpy(bias.astype(np.float32))
            continue
        bn = _batch_norm(c, bias, *_bn_and_scale(layers, idx, layer, where), src)
        out.update({f"{c.bn}.{k}": torch.from_numpy(v.astype(np.float32)) for k, v in bn.items()})
        out[f"{c.bn}.num_batches_tracked"] = torch.tensor(0)
    src.check_all_used()
    return out


def _bn_and_scale(layers: list[Message], idx: int, conv: Message, where: str) -> tuple[Message | None, Message | None]:
    """The BatchNorm reading conv ``idx``'s output and the Scale reading the BatchNorm's, if any."""
    top = _one(conv, "top")
    nxt = _consumer(layers, idx, top)
    if nxt is None or _one(nxt[1], "type") != "BatchNorm":
        if nxt is not None and _one(nxt[1], "type") == "Scale":
            raise CaffeConversionError(
                f"{where}: layer '{_one(nxt[1], 'name')}' (Scale) follows '{_one(conv, 'name')}' without a BatchNorm"
            )
        return None, None
    j, bn = nxt
    after = _consumer(layers, j, _one(bn, "top"))
    scale = after[1] if after is not None and _one(after[1], "type") == "Scale" else None
    return bn, scale

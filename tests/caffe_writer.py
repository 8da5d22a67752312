"""Write Caffe MobileNet-SSD files for tests: the prototxt (text) from the published layer table, and a
``.caffemodel`` (protobuf wire format) with random weights.

Written from caffe.proto (BVLC/caffe) and chuanqi305/MobileNet-SSD's prototxts without any code of
``ssdkit.convert.caffe_model`` / ``prototxt`` / ``caffe``, so the reader is tested against an independent
writer (and OpenCV reads what this writes).
"""

from __future__ import annotations

import numpy as np

NUM_CLASSES = 21
# MobileNetV1 as released: (depthwise stride, pointwise output) of conv1 .. conv13, after conv0 (3 -> 32, stride 2)
BLOCKS = [
    (1, 64),
    (2, 128),
    (1, 128),
    (2, 256),
    (1, 256),
    (2, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (2, 1024),
    (1, 1024),
]
EXTRAS = [("conv14", 256, 512), ("conv15", 128, 256), ("conv16", 128, 256), ("conv17", 64, 128)]
# prediction maps: name, PriorBox min_size, max_size (None: no extra square), aspect ratios (MobileNetSSD_deploy)
MAPS = [
    ("conv11", 60.0, None, [2.0]),
    ("conv13", 105.0, 150.0, [2.0, 3.0]),
    ("conv14_2", 150.0, 195.0, [2.0, 3.0]),
    ("conv15_2", 195.0, 240.0, [2.0, 3.0]),
    ("conv16_2", 240.0, 285.0, [2.0, 3.0]),
    ("conv17_2", 285.0, 300.0, [2.0, 3.0]),
]


def trunk_convs() -> list[dict]:
    """Backbone and extra convolutions in order: name, bottom, cin, cout, kernel, stride, pad, group."""
    convs = [dict(name="conv0", bottom="data", cin=3, cout=32, kernel=3, stride=2, pad=1, group=1)]
    c, prev = 32, "conv0"
    for i, (s, out) in enumerate(BLOCKS, start=1):
        convs.append(dict(name=f"conv{i}/dw", bottom=prev, cin=c, cout=c, kernel=3, stride=s, pad=1, group=c))
        convs.append(dict(name=f"conv{i}", bottom=f"conv{i}/dw", cin=c, cout=out, kernel=1, stride=1, pad=0, group=1))
        c, prev = out, f"conv{i}"
    for name, mid, out in EXTRAS:
        convs.append(dict(name=f"{name}_1", bottom=prev, cin=c, cout=mid, kernel=1, stride=1, pad=0, group=1))
        convs.append(dict(name=f"{name}_2", bottom=f"{name}_1", cin=mid, cout=out, kernel=3, stride=2, pad=1, group=1))
        c, prev = out, f"{name}_2"
    return convs


def map_channels() -> dict[str, int]:
    return {cv["name"]: cv["cout"] for cv in trunk_convs()}


def priors_per_location(max_size: float | None, ratios: list[float]) -> int:
    return 1 + (max_size is not None) + 2 * len(ratios)


def head_convs() -> list[dict]:
    ch = map_channels()
    out = []
    for name, _, hi, ratios in MAPS:
        a = priors_per_location(hi, ratios)
        out.append(dict(name=f"{name}_mbox_loc", bottom=name, cin=ch[name], cout=a * 4, kernel=1))
        out.append(dict(name=f"{name}_mbox_conf", bottom=name, cin=ch[name], cout=a * NUM_CLASSES, kernel=1))
    return out


# ------------------------------------------------------------------------------------------------ prototxt text


def _layer(name: str, kind: str, bottoms: list[str], tops: list[str], body: str = "") -> str:
    lines = [f'  name: "{name}"', f'  type: "{kind}"'] + [f'  bottom: "{b}"' for b in bottoms]
    lines += [f'  top: "{t}"' for t in tops]
    return "layer {\n" + "\n".join(lines) + ("\n" + body if body else "") + "\n}\n"


def mobilenet_ssd_prototxt(form: str, detection: dict, bn_eps: dict[str, float] | None = None) -> str:
    """The MobileNet-SSD net as text. ``form``: ``'train'`` (Convolution without bias + BatchNorm + Scale, as
    deploy.prototxt) or ``'deploy'`` (BN merged: Convolution with bias, as MobileNetSSD_deploy.prototxt).
    ``detection``: DetectionOutput's ``confidence_threshold``, ``top_k``, ``nms_threshold``, ``keep_top_k``.
    ``bn_eps``: per conv name, a ``batch_norm_param { eps }`` for its BatchNorm."""
    assert form in ("train", "deploy"), form
    bn_eps = bn_eps or {}
    text = ['name: "MobileNet-SSD"\ninput: "data"\ninput_shape {\n  dim: 1\n  dim: 3\n  dim: 300\n  dim: 300\n}\n']
    for cv in trunk_convs():
        n = cv["name"]
        params = [f"    num_output: {cv['cout']}"] + (["    bias_term: false"] if form == "train" else [])
        params += [f"    pad: {cv['pad']}", f"    kernel_size: {cv['kernel']}"]
        params += [f"    stride: {cv['stride']}"] if cv["stride"] != 1 else []
        params += [f"    group: {cv['group']}", "    engine: CAFFE"] if cv["group"] != 1 else []
        text.append(
            _layer(
                n,
                "Convolution",
                [cv["bottom"]],
                [n],
                "  convolution_param {\n"
                + "\n".join(params)
                + "\n    weight_filler {\n      type: \"msra\"\n    }\n  }",
            )
        )
        if form == "train":
            eps = f"  batch_norm_param {{\n    eps: {bn_eps[n]!r}\n  }}" if n in bn_eps else ""
            text.append(_layer(f"{n}/bn", "BatchNorm", [n], [n], eps))
            text.append(
                _layer(
                    f"{n}/scale",
                    "Scale",
                    [n],
                    [n],
                    "  scale_param {\n    filler {\n      value: 1\n    }\n"
                    "    bias_term: true\n    bias_filler {\n      value: 0\n    }\n  }",
                )
            )
        text.append(_layer(f"{n}/relu", "ReLU", [n], [n]))
    by_map = {h["name"]: h for h in head_convs()}
    for name, lo, hi, ratios in MAPS:
        for kind in ("loc", "conf"):
            h = by_map[f"{name}_mbox_{kind}"]
            text.append(
                _layer(
                    h["name"],
                    "Convolution",
                    [name],
                    [h["name"]],
                    f"  convolution_param {{\n    num_output: {h['cout']}\n    kernel_size: 1\n  }}",
                )
            )
            text.append(
                _layer(
                    f"{h['name']}_perm",
                    "Permute",
                    [h["name"]],
                    [f"{h['name']}_perm"],
                    "  permute_param {\n    order: 0\n    order: 2\n    order: 3\n    order: 1\n  }",
                )
            )
            text.append(
                _layer(
                    f"{h['name']}_flat",
                    "Flatten",
                    [f"{h['name']}_perm"],
                    [f"{h['name']}_flat"],
                    "  flatten_param {\n    axis: 1\n  }",
                )
            )
        sizes = [f"    min_size: {lo}"] + ([f"    max_size: {hi}"] if hi is not None else [])
        sizes += [f"    aspect_ratio: {r}" for r in ratios]
        sizes += ["    flip: true", "    clip: false"] + [f"    variance: {v}" for v in (0.1, 0.1, 0.2, 0.2)]
        sizes += ["    offset: 0.5"]
        text.append(
            _layer(
                f"{name}_mbox_priorbox",
                "PriorBox",
                [name, "data"],
                [f"{name}_mbox_priorbox"],
                "  prior_box_param {\n" + "\n".join(sizes) + "\n  }",
            )
        )
    for top, suffix, axis in (
        ("mbox_loc", "mbox_loc_flat", 1),
        ("mbox_conf", "mbox_conf_flat", 1),
        ("mbox_priorbox", "mbox_priorbox", 2),
    ):
        text.append(
            _layer(
                top, "Concat", [f"{m[0]}_{suffix}" for m in MAPS], [top], f"  concat_param {{\n    axis: {axis}\n  }}"
            )
        )
    text.append(
        _layer(
            "mbox_conf_reshape",
            "Reshape",
            ["mbox_conf"],
            ["mbox_conf_reshape"],
            f"  reshape_param {{\n    shape {{\n      dim: 0\n      dim: -1\n      dim: {NUM_CLASSES}\n    }}\n  }}",
        )
    )
    text.append(
        _layer(
            "mbox_conf_softmax",
            "Softmax",
            ["mbox_conf_reshape"],
            ["mbox_conf_softmax"],
            "  softmax_param {\n    axis: 2\n  }",
        )
    )
    text.append(
        _layer(
            "mbox_conf_flatten",
            "Flatten",
            ["mbox_conf_softmax"],
            ["mbox_conf_flatten"],
            "  flatten_param {\n    axis: 1\n  }",
        )
    )
    text.append(
        _layer(
            "detection_out",
            "DetectionOutput",
            ["mbox_loc", "mbox_conf_flatten", "mbox_priorbox"],
            ["detection_out"],
            "  include {\n    phase: TEST\n  }\n  detection_output_param {\n"
            f"    num_classes: {NUM_CLASSES}\n    share_location: true\n    background_label_id: 0\n"
            f"    nms_param {{\n      nms_threshold: {detection['nms_threshold']}\n"
            f"      top_k: {detection['top_k']}\n    }}\n    code_type: CENTER_SIZE\n"
            f"    keep_top_k: {detection['keep_top_k']}\n"
            f"    confidence_threshold: {detection['confidence_threshold']}\n  }}",
        )
    )
    return "".join(text)


# ------------------------------------------------------------------------------------------------ random weights


def random_weights(form: str, seed: int = 0, bn_eps: dict[str, float] | None = None) -> dict[str, list[np.ndarray]]:
    """``{Caffe layer: blobs}`` (float32) of a MobileNet-SSD with He-initialised convolutions and trained-like
    BatchNorm (variance in [0.5, 2], Caffe's moving-average scale factor), in ``form`` (``'deploy'``: the same
    network with the BatchNorm merged into the convolutions as merge_bn.py does). The prediction convs are damped
    so that the softmax scores spread (some above DetectionOutput's threshold, none saturated)."""
    rng = np.random.default_rng(seed)
    bn_eps = bn_eps or {}
    out: dict[str, list[np.ndarray]] = {}
    for cv in trunk_convs():
        n, cout = cv["name"], cv["cout"]
        fan_in = cv["cin"] // cv["group"] * cv["kernel"] ** 2
        w = rng.normal(0, np.sqrt(2.0 / fan_in), (cout, cv["cin"] // cv["group"], cv["kernel"], cv["kernel"]))
        mean, var = rng.normal(0, 0.2, cout), rng.uniform(0.5, 2.0, cout)
        gamma, beta = rng.uniform(0.5, 1.5, cout), rng.normal(0, 0.2, cout)
        factor = rng.uniform(10.0, 1000.0)  # Caffe stores mean * s, var * s and s
        if form == "train":
            out[n] = [w.astype(np.float32)]
            out[f"{n}/bn"] = [
                (mean * factor).astype(np.float32),
                (var * factor).astype(np.float32),
                np.array([factor], np.float32),
            ]
            out[f"{n}/scale"] = [gamma.astype(np.float32), beta.astype(np.float32)]
        else:
            rstd = 1.0 / np.sqrt(var + bn_eps.get(n, 1e-5))
            out[n] = [
                (w * (gamma * rstd)[:, None, None, None]).astype(np.float32),
                ((0.0 - mean) * rstd * gamma + beta).astype(np.float32),
            ]
    for h in head_convs():
        w = rng.normal(0, np.sqrt(1.0 / h["cin"]), (h["cout"], h["cin"], 1, 1))
        if h["name"].endswith("_conf"):
            w *= 0.3
            bias = rng.normal(0, 1.2, h["cout"])
            bias.reshape(-1, NUM_CLASSES)[:, 0] += 2.5  # background usually wins, as in a trained net
        else:
            w *= 0.3
            bias = rng.normal(0, 0.3, h["cout"])
        out[h["name"]] = [w.astype(np.float32), bias.astype(np.float32)]
    return out


def layer_types(form: str) -> dict[str, str]:
    types = {cv["name"]: "Convolution" for cv in trunk_convs() + head_convs()}
    if form == "train":
        for cv in trunk_convs():
            types[f"{cv['name']}/bn"], types[f"{cv['name']}/scale"] = "BatchNorm", "Scale"
    return types


# ------------------------------------------------------------------------------------------------ wire format


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def length_delimited(field: int, payload: bytes) -> bytes:
    return key(field, 2) + varint(len(payload)) + payload


def blob_proto(arr: np.ndarray, style: str = "packed") -> bytes:
    """BlobProto: ``style`` ``'packed'`` (BlobShape + packed data, as Caffe writes), ``'unpacked'`` (one field per
    float), ``'legacy'`` (num/channels/height/width, a 1-d blob as (1, 1, 1, C)) or ``'double'`` (double_data)."""
    flat = np.ascontiguousarray(arr, dtype=np.float32).reshape(-1)
    if style == "legacy":
        dims = (1,) * (4 - arr.ndim) + tuple(arr.shape)
        head = b"".join(key(f, 0) + varint(d) for f, d in zip((1, 2, 3, 4), dims, strict=True))
    else:
        head = length_delimited(7, length_delimited(1, b"".join(varint(d) for d in arr.shape)))
    if style == "unpacked":
        records = np.empty((flat.size, 5), np.uint8)
        records[:, 0] = (5 << 3) | 5
        records[:, 1:] = flat.astype("<f4").view(np.uint8).reshape(-1, 4)
        data = records.tobytes()
    elif style == "double":
        data = length_delimited(8, flat.astype("<f8").tobytes())
    else:
        data = length_delimited(5, flat.astype("<f4").tobytes())
    return head + data


def layer_proto(name: str, kind: str, blobs: list[bytes]) -> bytes:
    """LayerParameter: name (1), type (2), blobs (7)."""
    return (
        length_delimited(1, name.encode())
        + length_delimited(2, kind.encode())
        + b"".join(length_delimited(7, b) for b in blobs)
    )


def v1_layer_proto(name: str, type_enum: int, blobs: list[bytes]) -> bytes:
    """V1LayerParameter (the legacy ``layers``): name (4), type (5, enum: CONVOLUTION = 4), blobs (6)."""
    return (
        length_delimited(4, name.encode())
        + key(5, 0)
        + varint(type_enum)
        + b"".join(length_delimited(6, b) for b in blobs)
    )


def net_proto(layers: list[bytes], legacy_layers: list[bytes] = (), name: str = "MobileNet-SSD") -> bytes:
    """NetParameter: name (1), legacy layers (2), layer (100)."""
    return (
        length_delimited(1, name.encode())
        + b"".join(length_delimited(2, v) for v in legacy_layers)
        + b"".join(length_delimited(100, lay) for lay in layers)
    )


def caffemodel_bytes(
    weights: dict[str, list[np.ndarray]], types: dict[str, str], styles: dict[str, str] | None = None
) -> bytes:
    """The caffemodel of ``weights`` (in order), each layer's blobs in ``styles.get(layer, 'packed')``; a data
    layer without blobs first, as a trained net has."""
    styles = styles or {}
    layers = [layer_proto("data", "Input", [])]
    layers += [
        layer_proto(n, types[n], [blob_proto(b, styles.get(n, "packed")) for b in blobs])
        for n, blobs in weights.items()
    ]
    return net_proto(layers)

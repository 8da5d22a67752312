"""The binary ``.caffemodel`` without Caffe: its protobuf wire format read by hand (``.prototxt``: ``prototxt.py``).

Only what weight conversion needs: each layer's name, type and blobs (``NetParameter.layer``, field 100, and the
legacy ``NetParameter.layers``, field 2). No ``caffe.proto``: the field numbers below are caffe.proto's (BVLC/caffe
``src/caffe/proto/caffe.proto``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = ["CaffeFormatError", "CaffeLayer", "read_caffemodel"]

# V1LayerParameter.LayerType -> the type string Caffe's UpgradeV1LayerType gives (the ones with blobs, and a few more)
V1_TYPES = {
    3: "Concat",
    4: "Convolution",
    5: "Data",
    6: "Dropout",
    8: "Flatten",
    14: "InnerProduct",
    15: "LRN",
    17: "Pooling",
    18: "ReLU",
    19: "Sigmoid",
    20: "Softmax",
    21: "SoftmaxWithLoss",
    22: "Split",
    23: "TanH",
    25: "Eltwise",
    39: "Deconvolution",
}
_WIRE_SIZE = {1: 8, 5: 4}  # fixed64 / fixed32
_FLOAT_TAG, _DOUBLE_TAG = (5 << 3) | 5, (8 << 3) | 1  # BlobProto.data unpacked (fixed32), double_data (fixed64)


class CaffeFormatError(ValueError):
    """A caffemodel or prototxt that cannot be read; the message names the file (and the layer)."""


class CaffeLayer(NamedTuple):
    """One caffemodel layer: its ``type`` (``'Convolution'``, ``'BatchNorm'`` ...) and ``blobs``
    (float32 arrays in the blob's shape, e.g. conv weights ``[out, in/group, kh, kw]`` then bias ``[out]``)."""

    type: str
    blobs: list[np.ndarray]


class _Truncated(Exception):
    pass


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    """``(value, next position)`` of the base-128 varint at ``pos``."""
    value = shift = 0
    while True:
        if pos >= end:
            raise _Truncated(f"varint runs past byte {end}")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise CaffeFormatError(f"varint longer than 10 bytes at byte {pos}")


def _field(buf: memoryview, pos: int, end: int) -> tuple[int, int, Any, int]:
    """The field at ``pos``: ``(number, wire type, value, next position)``; ``value`` is an int for varints,
    ``(offset, length)`` for length-delimited and fixed-size fields."""
    key, pos = _varint(buf, pos, end)
    field, wire = key >> 3, key & 7
    if field == 0:
        raise CaffeFormatError(f"field number 0 at byte {pos}")
    if wire == 0:
        value, pos = _varint(buf, pos, end)
        return field, wire, value, pos
    if wire == 2:
        length, pos = _varint(buf, pos, end)
    elif wire in _WIRE_SIZE:
        length = _WIRE_SIZE[wire]
    else:
        raise CaffeFormatError(f"wire type {wire} (field {field}) at byte {pos}: not a protobuf message")
    if pos + length > end:
        raise _Truncated(f"field {field} of {length} bytes at byte {pos} runs past byte {end}")
    return field, wire, (pos, length), pos + length


def _fields(buf: memoryview, start: int, end: int) -> Iterator[tuple[int, int, Any]]:
    """``(number, wire type, value)`` of each field of the message in ``buf[start:end]`` (see :func:`_field`)."""
    pos = start
    while pos < end:
        field, wire, value, pos = _field(buf, pos, end)
        yield field, wire, value


def _packed(buf: memoryview, off: int, n: int, dtype: str) -> np.ndarray:
    size = np.dtype(dtype).itemsize
    if n % size:
        raise CaffeFormatError(f"packed {dtype} field of {n} bytes at byte {off}")
    return np.frombuffer(buf[off : off + n], dtype=dtype)


def _unpacked_run(buf: memoryview, tag_pos: int, end: int, tag: int, size: int) -> tuple[np.ndarray, int]:
    """A run of unpacked fixed-size values (``tag`` byte + ``size`` bytes each) starting at the tag at
    ``tag_pos``: ``(raw bytes [n, size], position after the run)``, vectorised."""
    rec = size + 1
    arr = np.frombuffer(buf[tag_pos:end], dtype=np.uint8)
    n_max = arr.size // rec
    records = arr[: n_max * rec].reshape(n_max, rec)
    bad = np.flatnonzero(records[:, 0] != tag)
    n = int(bad[0]) if bad.size else n_max
    if n == 0:
        raise _Truncated(f"a {size}-byte value at byte {tag_pos + 1} runs past byte {end}")
    return records[:n, 1:], tag_pos + n * rec


def _blob_shape(buf: memoryview, off: int, n: int) -> list[int]:
    """BlobShape's ``dim`` (field 1, packed or not) from the message at ``off`` of ``n`` bytes."""
    dims: list[int] = []
    for f, w, v in _fields(buf, off, off + n):
        if f != 1:
            continue
        if w == 0:
            dims.append(int(v))
        elif w == 2:
            p, stop = v[0], v[0] + v[1]
            while p < stop:
                d, p = _varint(buf, p, stop)
                dims.append(d)
    return dims


def _blob_data(parts: list[np.ndarray], doubles: list[np.ndarray]) -> np.ndarray:
    """A blob's values as one float32 array, from its ``data`` or its ``double_data`` (not both)."""
    if parts and doubles:
        raise CaffeFormatError("blob has both float data and double_data")
    if parts:
        return np.concatenate(parts).astype(np.float32, copy=True)
    if doubles:
        return np.concatenate(doubles).astype(np.float32)
    return np.zeros(0, np.float32)


def _blob(buf: memoryview, start: int, end: int) -> np.ndarray:
    """BlobProto -> float32 array: ``shape`` (7: BlobShape.dim 1) or legacy num/channels/height/width (1-4);
    ``data`` (5, packed or not) or ``double_data`` (8)."""
    dims: list[int] = []
    legacy = [0, 0, 0, 0]
    parts: list[np.ndarray] = []
    doubles: list[np.ndarray] = []
    pos = start
    while pos < end:
        key = _varint(buf, pos, end)[0]
        field, wire = key >> 3, key & 7
        if field == 5 and wire == 5:  # unpacked floats: one run in one step
            raw, pos = _unpacked_run(buf, pos, end, _FLOAT_TAG, 4)
            parts.append(raw.copy().view("<f4").reshape(-1))
            continue
        if field == 8 and wire == 1:
            raw, pos = _unpacked_run(buf, pos, end, _DOUBLE_TAG, 8)
            doubles.append(raw.copy().view("<f8").reshape(-1))
            continue
        field, wire, value, pos = _field(buf, pos, end)
        if field == 7 and wire == 2:
            dims += _blob_shape(buf, *value)
        elif field in (5, 8) and wire == 2:
            (parts if field == 5 else doubles).append(_packed(buf, value[0], value[1], "<f4" if field == 5 else "<f8"))
        elif 1 <= field <= 4 and wire == 0:
            legacy[field - 1] = int(value)
    data = _blob_data(parts, doubles)
    shape = tuple(dims) if dims else tuple(legacy) if any(legacy) else (data.size,)
    if int(np.prod(shape)) != data.size:
        raise CaffeFormatError(f"blob of shape {shape} holds {data.size} values")
    return data.reshape(shape)


def _name_and_type(buf: memoryview, start: int, end: int, legacy: bool) -> tuple[str, str]:
    """The layer's name and type as far as ``buf[start:end]`` holds them (``''`` for what it does not)."""
    f_name, f_type = (4, 5) if legacy else (1, 2)
    name = kind = ""
    try:
        for field, wire, value in _fields(buf, start, end):
            if field == f_name and wire == 2:
                name = bytes(buf[value[0] : value[0] + value[1]]).decode("utf-8", "replace")
            elif field == f_type and wire == 2 and not legacy:
                kind = bytes(buf[value[0] : value[0] + value[1]]).decode("utf-8", "replace")
            elif field == f_type and wire == 0 and legacy:
                kind = V1_TYPES.get(int(value), f"V1LayerType {value}")
            elif field == (6 if legacy else 7):
                break  # Caffe writes name and type before the blobs
    except (CaffeFormatError, _Truncated):
        pass
    return name, kind


def _layer(buf: memoryview, start: int, end: int, legacy: bool) -> tuple[str, str, list[np.ndarray]]:
    """LayerParameter (name 1, type 2, blobs 7) or V1LayerParameter (name 4, type 5 enum, blobs 6)."""
    name, kind = _name_and_type(buf, start, end, legacy)
    f_blobs = 6 if legacy else 7
    blob_spans = [value for field, wire, value in _fields(buf, start, end) if field == f_blobs and wire == 2]
    blobs = []
    for i, (off, n) in enumerate(blob_spans):
        try:
            blobs.append(_blob(buf, off, off + n))
        except (CaffeFormatError, _Truncated) as err:
            raise CaffeFormatError(f"blob {i}: {err}") from None
    return name, kind, blobs


def _describe(name: str, kind: str, off: int) -> str:
    return f"layer '{name}'{f' ({kind})' if kind else ''} at byte {off}" if name else f"the layer at byte {off}"


def read_caffemodel(path: str | os.PathLike) -> dict[str, CaffeLayer]:
    """``{layer name: CaffeLayer(type, blobs)}`` of a binary ``.caffemodel``, in file order.

    Reads ``NetParameter.layer`` (100) and the legacy ``layers`` (2); blobs take ``BlobShape`` dims or the
    legacy 4-d num/channels/height/width, float data packed or not, or ``double_data`` (cast to float32).
    A truncated or corrupt file raises :class:`CaffeFormatError` naming the file and the layer (as far as it can be
    read); so does a name that two layers with blobs share.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"caffemodel '{path}' does not exist") from None
    buf, end = memoryview(data), len(data)
    layers: dict[str, CaffeLayer] = {}
    pos = 0
    while pos < end:
        start = pos
        try:
            key, after = _varint(buf, pos, end)
            field, wire = key >> 3, key & 7
            if field not in (2, 100) or wire != 2:  # the net's name, inputs, state ...
                pos = _field(buf, pos, end)[3]
                continue
            length, off = _varint(buf, after, end)
        except (CaffeFormatError, _Truncated) as err:
            raise CaffeFormatError(
                f"caffemodel '{path}' is truncated or corrupt at byte {start} ({err}): is it a "
                f"Caffe NetParameter (.caffemodel)?"
            ) from None
        if off + length > end:
            name, kind = _name_and_type(buf, off, end, field == 2)
            last = f" (after layer '{next(reversed(layers))}')" if layers and not name else ""
            raise CaffeFormatError(
                f"caffemodel '{path}' is truncated: {_describe(name, kind, off)}{last} needs "
                f"{length} bytes, the file ends after {end - off}"
            )
        pos = off + length
        try:
            name, kind, blobs = _layer(buf, off, off + length, legacy=field == 2)
        except (CaffeFormatError, _Truncated) as err:
            name, kind = _name_and_type(buf, off, off + length, field == 2)
            raise CaffeFormatError(f"caffemodel '{path}' is corrupt: {_describe(name, kind, off)}: {err}") from None
        if name in layers and layers[name].blobs and blobs:
            raise CaffeFormatError(f"caffemodel '{path}': two layers named '{name}' hold blobs")
        if name not in layers or blobs:
            layers[name] = CaffeLayer(kind, blobs)
    if not layers:
        raise CaffeFormatError(f"caffemodel '{path}' holds no layers: is it a Caffe NetParameter (.caffemodel)?")
    return layers

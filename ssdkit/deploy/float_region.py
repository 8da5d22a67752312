"""Which nodes of an exported graph are the network and which stay float32 when it is quantized.

The network is every convolution (or matrix product) and every node on a path into one: input normalisation,
backbone, neck and head. Everything else comes after the last convolution: the head's reshapes and concatenations,
box decoding with the constant priors, clipping, scores, per-class top-k, ``NonMaxSuppression`` and the final top-k
(or, in a raw export, decoding and scores). Found from the graph's edges, not from names, so it holds for every
backbone and head; the post-training quantizers (ONNX Runtime, NNCF) are told to leave those nodes alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

#: ONNX operators whose presence makes a node part of the network
ONNX_NETWORK_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm"})
#: OpenVINO operation types with the same role
OV_NETWORK_OPS = frozenset({"Convolution", "GroupConvolution", "ConvolutionBackpropData", "MatMul"})
#: OpenVINO operations that are not computations (never quantized, not named in an ignored scope)
OV_NOT_OPS = frozenset({"Parameter", "Constant", "Result"})


def _upstream(seeds: Iterable[Any], inputs_of: Callable[[Any], Iterable[Any]], key: Callable[[Any], Any]) -> set:
    """``key`` of every node in ``seeds`` and of every node they depend on, through ``inputs_of(node)``."""
    seen: set = set()
    stack = list(seeds)
    while stack:
        node = stack.pop()
        if key(node) in seen:
            continue
        seen.add(key(node))
        stack.extend(inputs_of(node))
    return seen


def onnx_float_nodes(model: Any) -> list[str]:
    """Names of the nodes of an ONNX ``ModelProto`` that are not the network (see module doc), in graph order.
    A graph whose nodes have no names cannot be told apart this way: an error says so."""
    nodes = list(model.graph.node)
    if not any(n.op_type in ONNX_NETWORK_OPS for n in nodes):
        raise ValueError(f"the graph has no {sorted(ONNX_NETWORK_OPS)} node: nothing to quantize")
    producer = {out: node for node in nodes for out in node.output}
    net = _upstream(
        [n for n in nodes if n.op_type in ONNX_NETWORK_OPS],
        lambda n: [producer[i] for i in n.input if i in producer],
        key=id,
    )
    rest = [n for n in nodes if id(n) not in net]
    rest += [inner for n in rest for inner in subgraph_nodes(n)]  # an If after the network: all of it
    unnamed = [n.op_type for n in rest if not n.name]
    if unnamed:
        raise ValueError(f"the exported graph has unnamed nodes ({unnamed[:5]}): export it with tools/export.py")
    return [n.name for n in rest]


def subgraph_nodes(node: Any) -> list[Any]:
    """The nodes of ``node``'s subgraphs (an ``If``'s branches, a ``Loop``'s body), nested ones included."""
    out = []
    for attr in node.attribute:
        for graph in [attr.g] if attr.HasField("g") else list(attr.graphs):
            for inner in graph.node:
                out += [inner, *subgraph_nodes(inner)]
    return out


def ov_float_nodes(model: Any) -> list[str]:
    """Friendly names of the operations of an OpenVINO ``Model`` that are not the network (see module doc). Nodes
    are compared by unique name: OpenVINO's Python wrappers are new objects on every call."""
    ops = list(model.get_ordered_ops())
    net = _upstream(
        [op for op in ops if op.get_type_name() in OV_NETWORK_OPS],
        lambda op: [v.get_node() for v in op.input_values()],
        key=lambda op: op.get_name(),
    )
    return [op.get_friendly_name() for op in ops if op.get_name() not in net and op.get_type_name() not in OV_NOT_OPS]

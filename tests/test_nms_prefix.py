"""The exported graph's NMS runs on each image's best candidates first, and on all of them (an ONNX ``If``) only
when an image keeps fewer than ``max_per_img`` of that prefix: PyTorch, ONNX Runtime and OpenVINO then give
``SSDPostprocessor``'s detections on crowded, ordinary and sparse scores alike."""

from __future__ import annotations

import copy
import io

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from ssdkit.deploy.graph import DeployGraph
from ssdkit.deploy.onnx_nms import TRANSLATION

from float_tolerance import assert_same_detections
from model_utils import build_model

ort = pytest.importorskip("onnxruntime")
ov = pytest.importorskip("openvino")

SIZE = (224, 224)


class Select(nn.Module):
    """The graph's NMS stage alone: ``boxes [B, P, 4]``, ``scores [B, C, P]`` -> ``dets``, ``labels``, ``num_dets``."""

    def __init__(self, graph: DeployGraph) -> None:
        super().__init__()
        self.deploy = graph

    def forward(self, boxes: torch.Tensor, scores: torch.Tensor):
        return self.deploy.select(boxes, scores)


@pytest.fixture(scope="module")
def stage():
    """The demo model's graph, its postprocessor, and its NMS stage as an ONNX file (bytes)."""
    model = build_model("demo/ssdlite224_mobilenet_demo").eval()
    graph = DeployGraph(model, SIZE)
    select = Select(graph).eval()
    p, c = graph.num_priors, model.num_classes
    example = (torch.zeros(2, p, 4), torch.zeros(2, c, p))
    program = torch.onnx.export(select, example, dynamo=True, custom_translation_table=TRANSLATION)
    buffer = io.BytesIO()
    proto = program.model_proto
    onnx.save(proto, buffer)
    return graph, model.postprocessor, select, proto, buffer.getvalue()


def scores_for(kind: str, graph: DeployGraph, num_classes: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``boxes [2, P, 4]``, ``scores [2, P, C]`` (distinct values).

    - ``crowded``: in image 0 classes 0-2 score the same box on their ``pre_nms_topk`` priors above everything
      else, so the image's best 1000 candidates keep 3 boxes: the graph must widen to all of them;
    - ``ordinary``: random boxes and scores; the prefix suffices;
    - ``sparse``: a few candidates above the threshold.
    """
    g = torch.Generator().manual_seed(seed)
    p, k = graph.num_priors, min(graph.pre_nms_topk, graph.num_priors)
    xy = torch.rand(2, p, 2, generator=g) * 180
    boxes = torch.cat((xy, xy + 8 + torch.rand(2, p, 2, generator=g) * 40), dim=-1)
    scores = torch.rand(2, p, num_classes, generator=g) * 0.5 + 0.02
    if kind == "crowded":
        boxes[0, :k] = torch.tensor([50.0, 50.0, 120.0, 120.0])
        scores[0, :k, :3] = 0.6 + torch.rand(k, 3, generator=g) * 0.39
    elif kind == "sparse":
        scores = torch.where(torch.rand(2, p, num_classes, generator=g) < 0.01, scores, torch.zeros(()))
    return boxes, scores


def reference(post, boxes: torch.Tensor, scores: torch.Tensor) -> list[dict]:
    """``SSDPostprocessor`` on these scores (its softmax replaced by them)."""
    post = copy.copy(post)
    post.scores = lambda logits: scores
    metas = [dict(img_shape=SIZE)] * boxes.shape[0]
    out = post(torch.zeros(*scores.shape[:2], scores.shape[2] + 1), boxes, metas)
    return [dict(d) for d in out]


def as_dets(dets: np.ndarray, labels: np.ndarray, num: np.ndarray) -> list[dict]:
    return [
        dict(boxes=torch.as_tensor(d[:n, :4]), scores=torch.as_tensor(d[:n, 4]), labels=torch.as_tensor(lab[:n]))
        for d, lab, n in zip(dets, labels, num.tolist(), strict=True)
    ]


def run_onnxruntime(model: bytes, boxes: np.ndarray, scores: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, (boxes, scores), strict=True)))


def run_openvino(model: bytes, boxes: np.ndarray, scores: np.ndarray) -> list[np.ndarray]:
    core = ov.Core()
    compiled = core.compile_model(core.read_model(model), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled([boxes, scores])
    return [result[out] for out in compiled.outputs]


def test_the_graph_branches_to_all_candidates(stage):
    """One ``NonMaxSuppression`` on the prefix in the main graph, one on all candidates inside an ``If``; none of
    that with ``nms_prefix=False``."""
    _, _, _, proto, _ = stage
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("NonMaxSuppression") == 1 and ops.count("If") == 1
    branch = next(n for n in proto.graph.node if n.op_type == "If")
    inside = [[n.op_type for n in a.g.node] for a in branch.attribute]
    assert sorted("NonMaxSuppression" in names for names in inside) == [False, True]
    graph = stage[0]
    plain = DeployGraph(graph.model, SIZE, nms_prefix=False)
    example = (torch.zeros(1, graph.num_priors, 4), torch.zeros(1, graph.model.num_classes, graph.num_priors))
    program = torch.onnx.export(Select(plain).eval(), example, dynamo=True, custom_translation_table=TRANSLATION)
    ops = [n.op_type for n in program.model_proto.graph.node]
    assert ops.count("NonMaxSuppression") == 1 and "If" not in ops  # --no-nms-prefix: all candidates at once


@pytest.mark.parametrize("kind", ["crowded", "ordinary", "sparse"])
@pytest.mark.parametrize("runtime", ["pytorch", "onnxruntime", "openvino"])
def test_detections_equal_the_postprocessor(stage, kind, runtime):
    graph, post, select, _, model = stage
    boxes, scores = scores_for(kind, graph, post_classes := graph.model.num_classes)
    ref = reference(post, boxes, scores)
    bcp = scores.transpose(1, 2).contiguous()
    if runtime == "pytorch":
        with torch.no_grad():
            got = as_dets(*(t.numpy() for t in select(boxes, bcp)))
    else:
        run = run_onnxruntime if runtime == "onnxruntime" else run_openvino
        got = as_dets(*run(model, boxes.numpy(), bcp.numpy()))
    for ours, theirs in zip(got, ref, strict=True):
        assert_same_detections(ours, theirs, 1e-6, 1e-4, max_per_img=graph.max_per_img)
    if kind == "crowded":  # the prefix alone falls short: only the widened NMS gives the reference
        m = max(4 * graph.max_per_img, 1000)
        assert len(ref[0]["scores"]) == graph.max_per_img
        flat = scores[0].T.reshape(-1)
        prefix = torch.zeros_like(flat).scatter(0, flat.topk(m).indices, flat.topk(m).values)
        kept = graph.nms_dense(boxes[:1], prefix.view(1, post_classes, -1))
        assert int((kept >= 0).sum()) < graph.max_per_img

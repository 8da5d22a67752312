"""Export to ONNX and the CPU runtimes: ONNX Runtime, OpenVINO (end2end, NMS in the graph) and OpenCV DNN (raw, NMS
by ssdkit) give PyTorch's detections on the same images, as matched sets within tolerances derived from the network.

Tolerances (tests/float_tolerance.py): the runtimes compute the same float32 network in another order (fused
convolutions, other kernels), so logits and box offsets differ by rounding, bounded by ``tol = eps * L * sqrt(n_max)
* max|y|``. A softmax score moves by at most 0.5 max|dz| (|dp_i| <= 2 p_i (1 - p_i) max|dz|), and a decoded corner
by ``side * (0.1 + 0.1 exp(max|d_wh| / 5)) * |d_delta|`` (SSD variances 0.1 / 0.2). Both stay inside the issue's
bounds (scores 1e-4, boxes 0.05 px), which the tests also assert.
"""

from __future__ import annotations

import json
import math
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from ssdkit.apis import detect, init_detector
from ssdkit.deploy.export import export_onnx, input_size_of, read_info

from float_tolerance import assert_same_detections, conv_depth_and_width, float32_tolerance
from model_utils import (
    CONFIGS,
    ROOT,
    build_model,
    load_config,
    load_tool,
    spread_demo_checkpoint,
    spread_weights,
)

CONFIG_DIR = ROOT / "configs"

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")


def unit_activations(model, img: np.ndarray) -> None:
    """Scale each convolution, in order, so that its output on ``img`` has standard deviation 1 (LSUV-style): with
    :func:`spread_weights` alone a network without BatchNorm (VGG16) grows its activations layer by layer until the
    softmax saturates and the derived tolerances lose their meaning."""
    x = model.data_preprocessor(dict(inputs=[torch.from_numpy(img).permute(2, 0, 1)], data_samples=None), False)[
        "inputs"
    ]
    for conv in [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]:
        seen: dict = {}
        hook = conv.register_forward_hook(lambda mod, args, out, seen=seen: seen.setdefault("y", out))
        with torch.no_grad():
            model(x, mode="tensor")
            hook.remove()
            std = seen["y"].float().std().clamp(min=1e-6)
            conv.weight.div_(std)
            if conv.bias is not None:
                conv.bias.div_(std)


def tolerances(model, images: list[np.ndarray], size: tuple[int, int] = (300, 300)) -> tuple[float, float]:
    """``(score_tol, box_tol)`` for ``model`` on ``images`` resized to ``size`` (module docstring)."""
    depth, width = conv_depth_and_width([model.backbone, model.neck], model.head)
    x = torch.stack([torch.from_numpy(cv2.resize(i, (size[1], size[0]))).permute(2, 0, 1) for i in images])
    with torch.no_grad():
        inputs = model.data_preprocessor(dict(inputs=list(x), data_samples=None), False)["inputs"]
        logits, deltas = model(inputs, mode="tensor")
        priors = model.priors_for(model.extract_feats(inputs), inputs, torch.float32)
    side = float((priors[:, 2:] - priors[:, :2]).max())
    clip = getattr(model.box_coder, "clip_log_size", math.inf)  # decode clamps the size offsets there
    growth = 0.1 + 0.1 * math.exp(min(float(deltas[..., 2:].abs().max()) / 5, clip))
    return 0.5 * float32_tolerance(depth, width, logits), side * growth * float32_tolerance(depth, width, deltas)


def as_torch(det: dict) -> dict:
    return {k: torch.as_tensor(det[k]) for k in ("boxes", "scores", "labels")}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo config on a small generated set, a checkpoint with spread weights, and its exports."""
    root = tmp_path_factory.mktemp("deploy")
    _, cfg_path, _, ckpt = spread_demo_checkpoint(root, num_train=4, num_val=6)
    tool = load_tool("export")
    files = {}
    for mode in ("end2end", "raw"):
        files[mode] = root / f"{mode}.onnx"
        tool.main([str(cfg_path), str(ckpt), "--out", str(files[mode]), "--mode", mode, "--batch", "dynamic"])
    files["none"] = root / "none.onnx"  # a fixed batch of 2 and a threshold no score reaches
    tool.main([str(cfg_path), str(ckpt), "--out", str(files["none"]), "--batch", "2", "--score-thr", "0.99"])
    images = sorted((root / "data/val").glob("*.jpg"))[:3]  # three different images, one batch
    return dict(root=root, cfg=str(cfg_path), ckpt=str(ckpt), files=files, images=[str(p) for p in images])


@pytest.mark.parametrize(
    "backend,mode", [("onnxruntime", "end2end"), ("openvino", "end2end"), ("onnxruntime", "raw"), ("opencv", "raw")]
)
@pytest.mark.slow
def test_runtime_gives_pytorchs_detections(demo, backend, mode):
    ref_model = init_detector(demo["cfg"], demo["ckpt"])
    score_tol, box_tol = tolerances(ref_model, [cv2.imread(p) for p in demo["images"]])
    assert score_tol <= 1e-4 and box_tol <= 0.05, (score_tol, box_tol)  # the bounds
    ref = detect(ref_model, demo["images"], score_thr=0.0)
    deployed = init_detector(demo["cfg"], str(demo["files"][mode]), backend=backend)
    got = detect(deployed, demo["images"], score_thr=0.0, batch_size=3)
    assert [len(d["scores"]) for d in ref] == [200, 200, 200]
    for ours, theirs in zip(got, ref, strict=True):
        assert_same_detections(as_torch(ours), as_torch(theirs), score_tol, box_tol, max_per_img=200)
    assert not np.allclose(ref[0]["scores"][:50], ref[1]["scores"][:50])  # the batch's images differ
    # a wrong box fails the comparison
    bad = as_torch(got[0])
    bad["boxes"][0, 0] += 1.0
    with pytest.raises(AssertionError):
        assert_same_detections(bad, as_torch(ref[0]), score_tol, box_tol, max_per_img=200)


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_zero_detections_and_a_fixed_batch(demo, backend):
    info = read_info(demo["files"]["none"])
    assert (info.batch, info.score_thr, info.mode) == (2, 0.99, "end2end")
    deployed = init_detector(demo["cfg"], str(demo["files"]["none"]), backend=backend)
    h, w = info.input_size
    images = np.stack([np.full((h, w, 3), v, np.uint8) for v in (0, 128, 255)])
    dets, labels, num = deployed.run(images)  # 3 images through a batch-2 file: two chunks, the last padded
    assert dets.shape == (3, 200, 5) and labels.shape == (3, 200) and num.tolist() == [0, 0, 0]
    assert (labels == -1).all() and (dets == 0).all()
    assert all(len(d["scores"]) == 0 for d in detect(deployed, demo["images"], score_thr=0.0))


@pytest.mark.slow
def test_tools_infer_and_test_on_an_exported_file(demo, tmp_path, capsys):
    infer, test = load_tool("infer"), load_tool("test")
    ref = infer.main(
        [demo["cfg"], demo["ckpt"], *demo["images"], "--out-dir", str(tmp_path / "pt"), "--score-thr", "0.3"]
    )
    got = infer.main(
        [
            demo["cfg"],
            str(demo["files"]["end2end"]),
            *demo["images"],
            "--out-dir",
            str(tmp_path / "ort"),
            "--score-thr",
            "0.3",
            "--backend",
            "onnxruntime",
        ]
    )
    assert [r["image"] for r in got] == [r["image"] for r in ref]
    assert [len(r["detections"]) for r in got] == [len(r["detections"]) for r in ref]
    saved = json.loads((tmp_path / "ort/detections.json").read_text())
    assert [len(r["detections"]) for r in saved] == [len(r["detections"]) for r in ref]
    work = ["--work-dir", str(tmp_path / "w")]
    m_ref = test.main([demo["cfg"], demo["ckpt"], *work])
    for backend, file in (("onnxruntime", "end2end"), ("openvino", "end2end"), ("opencv", "raw")):
        m_got = test.main([demo["cfg"], str(demo["files"][file]), "--backend", backend, *work])
        assert set(m_got) == set(m_ref)
        for key, value in m_ref.items():  # mAP and every class's AP
            assert round(m_got[key], 3) == round(value, 3), (backend, key, m_got[key], value)


def test_bad_input_is_named(demo, tmp_path, monkeypatch):
    tool = load_tool("export")
    out = tmp_path / "x.onnx"
    with pytest.raises(
        SystemExit,
        match=r"error: checkpoint '.*spread.pth' holds the weights of another model than the config's SSD: "
        r"\d+ missing keys .*shape mismatches",
    ):
        tool.main([str(CONFIG_DIR / "ssd300_mobilenet.py"), demo["ckpt"], "--out", str(out)])
    with pytest.raises(SystemExit, match=r"error: model.colour: SSD takes no argument 'colour'"):
        tool.main([demo["cfg"], demo["ckpt"], "--out", str(out), "--cfg-options", "model.colour=1"])
    cfg = Config.fromfile(demo["cfg"])
    cfg.model.num_classes = 3
    with pytest.raises(ValueError, match=r"was exported with 10 classes but the config has model.num_classes=3"):
        init_detector(cfg, str(demo["files"]["end2end"]), backend="onnxruntime")
    with pytest.raises(ValueError, match=r"backend='opencv' runs raw exports only .* --mode raw"):
        init_detector(demo["cfg"], str(demo["files"]["end2end"]), backend="opencv")
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(ImportError, match=r"pip install 'ssdkit\[deploy\]'"):
        init_detector(demo["cfg"], str(demo["files"]["end2end"]), backend="openvino")


def test_a_failed_export_keeps_the_existing_file(demo, tmp_path, monkeypatch):
    out = tmp_path / "good.onnx"
    out.write_bytes(b"a good file")
    model = init_detector(demo["cfg"], demo["ckpt"])

    def broken(*args, **kwargs):
        raise RuntimeError("exporter crashed half way")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(RuntimeError, match="half way"):
        export_onnx(model, out, (300, 300))
    assert out.read_bytes() == b"a good file" and sorted(p.name for p in tmp_path.iterdir()) == ["good.onnx"]


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_exports_and_onnxruntime_agrees(name, tmp_path):
    """Every config in configs/ (VGG16 300/512 with L2Norm and dilated conv6, Feature-Fused with its deconvolution,
    MobileNet and SSDLite with depthwise convs and ReLU6): end2end through ONNX Runtime equals PyTorch; the raw file
    of the unusual ones (L2Norm, deconvolution, depthwise on a 1x1 map) runs in OpenCV DNN with PyTorch's outputs."""
    import onnxruntime as ort

    torch.manual_seed(0)
    model = build_model(name).eval()
    spread_weights(model)
    cfg = load_config(name)
    size = input_size_of(cfg)
    img = np.random.default_rng(0).integers(0, 256, (size[0], size[1], 3), dtype=np.uint8)
    model.cfg, model.dataset_meta = cfg, dict(classes=tuple(str(i) for i in range(model.num_classes)))
    unit_activations(model, img)
    score_tol, box_tol = tolerances(model, [img], size)
    assert score_tol < 1e-2 and box_tol < 1.0, (score_tol, box_tol)  # tolerances that still tell results apart
    export_onnx(model, tmp_path / "m.onnx", tuple(size))
    dets, labels, num = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"images": img[None]})
    k = int(num[0])
    ours = dict(
        boxes=torch.from_numpy(dets[0, :k, :4]),
        scores=torch.from_numpy(dets[0, :k, 4]),
        labels=torch.from_numpy(labels[0, :k]),
    )
    ref = detect(model, [img], score_thr=0.0)[0]
    assert k == len(ref["scores"]) > 0
    assert_same_detections(ours, as_torch(ref), score_tol, box_tol, max_per_img=k)
    if name in ("ssd300_vgg16_voc0712", "ffssd300_concat_vgg16_voc0712", "ssdlite300_mobilenet"):
        from ssdkit.deploy.graph import DeployGraph

        export_onnx(model, tmp_path / "raw.onnx", tuple(size), mode="raw")
        net = cv2.dnn.readNetFromONNX(str(tmp_path / "raw.onnx"))
        blob = cv2.dnn.blobFromImage(img)
        net.setInput(blob, "images")
        boxes, scores = net.forward(["boxes", "scores"])
        with torch.no_grad():
            ref_boxes, ref_scores = DeployGraph(model, tuple(size), "raw")(torch.from_numpy(blob))
        assert np.abs(scores - ref_scores.numpy()).max() <= score_tol
        assert np.abs(boxes - ref_boxes.numpy()).max() <= box_tol
        print(f"{name}: score_tol {score_tol:.2g}, box_tol {box_tol:.2g}")


def test_centre_tap_rewrite_is_exact_and_opencv_needs_it(tmp_path):
    """A depthwise 3x3 convolution with padding 1 on a 1x1 map: OpenCV DNN 4.14 gets it wrong; the rewrite to its
    centre tap (ssdkit/deploy/rewrite.py) changes no output and OpenCV then computes it right."""
    from ssdkit.deploy.rewrite import replace_centre_tap_convs

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(8, 8, 3, 1, 1, groups=8),
        torch.nn.ReLU6(),
        torch.nn.Conv2d(8, 4, 3, 2, 1),
        torch.nn.Conv2d(4, 4, 3, 1, 1, dilation=1),
    ).eval()
    x = torch.randn(2, 8, 1, 1)
    with torch.no_grad():
        before = net(x)
    rewritten = __import__("copy").deepcopy(net)
    assert replace_centre_tap_convs(rewritten, lambda: rewritten(x)) == 3
    assert all(m.kernel_size == (1, 1) for m in rewritten.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        torch.testing.assert_close(rewritten(x), before, rtol=0, atol=1e-6)
    assert replace_centre_tap_convs(net, lambda: net(torch.randn(1, 8, 4, 4))) == 0  # larger maps: untouched

    def opencv(module) -> np.ndarray:
        torch.onnx.export(module, (x,), str(tmp_path / "m.onnx"), dynamo=True, input_names=["x"], output_names=["y"])
        cvnet = cv2.dnn.readNetFromONNX(str(tmp_path / "m.onnx"))
        cvnet.setInput(x.numpy(), "x")
        return cvnet.forward("y")

    np.testing.assert_allclose(opencv(rewritten), before.numpy(), atol=1e-5)
    try:  # for the record only: what OpenCV does without the rewrite
        error = f"max error {np.abs(opencv(net) - before.numpy()).max():.3g}"
    except cv2.error as err:
        error = f"refused ({[line for line in str(err).splitlines() if 'error' in line][-1][-100:]})"
    print(f"OpenCV {cv2.__version__} without the rewrite: {error}")


@pytest.mark.slow
def test_raw_files_carry_the_postprocessor_settings(demo, tmp_path):
    """A raw file's NMS runs outside the graph: it must use the config's settings, not postprocess_raw's defaults."""
    out = tmp_path / "raw.onnx"
    load_tool("export").main(
        [
            demo["cfg"],
            demo["ckpt"],
            "--out",
            str(out),
            "--mode",
            "raw",
            "--cfg-options",
            "model.postprocessor.nms_iou=0.3",
            "model.postprocessor.pre_nms_topk=50",
        ]
    )
    info = read_info(out)
    assert (info.nms_iou, info.pre_nms_topk, info.max_per_img) == (0.3, 50, 200)
    cfg = Config.fromfile(demo["cfg"])
    cfg.model.postprocessor = dict(type="SSDPostprocessor", nms_iou=0.3, pre_nms_topk=50)
    ref_model = init_detector(cfg, demo["ckpt"])
    score_tol, box_tol = tolerances(ref_model, [cv2.imread(p) for p in demo["images"]])
    ref = detect(ref_model, demo["images"], score_thr=0.0)
    got = detect(init_detector(cfg, str(out), backend="onnxruntime"), demo["images"], score_thr=0.0)
    for ours, theirs in zip(got, ref, strict=True):
        assert_same_detections(as_torch(ours), as_torch(theirs), score_tol, box_tol, max_per_img=200)

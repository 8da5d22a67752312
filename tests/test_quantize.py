"""Int8 post-training quantization (tools/quantize.py): the files run as ``DeployedDetector``s, the network's outputs
stay within the noise int8 rounding predicts, decoding, priors and NMS stay float32, bad calibration input is refused.

Tolerance of the network's outputs: rounding to a uniform grid of step ``s`` adds noise uniform in ``[-s/2, s/2]``
(the additive-noise model of quantization, Widrow & Kollar 2008). The quantizers here use per-tensor uint8 steps
``(max - min) / 255`` over the calibration images' range at every convolution's input and per-channel int8 steps
``max|w_c| / 127`` on the weights. Injecting that noise into the float32 PyTorch model, at every convolution at
once, predicts the relative RMS error of the class logits (softmax is shift-invariant, so logits are compared
centred); the int8 file must stay within 1.5x of that prediction. The margin covers what the model leaves out (a
rounding error is not exactly independent of its signal; the runtimes also quantize the input normalisation and
correct biases). Calibrating on flat grey images instead (ranges far from the data's) exceeds it.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from ssdkit.apis import detect, init_detector
from ssdkit.deploy import quantize as q
from ssdkit.deploy.calibration import choose
from ssdkit.deploy.detector import DeployedDetector
from ssdkit.deploy.export import export_onnx, read_info
from ssdkit.deploy.float_region import onnx_float_nodes, ov_float_nodes, subgraph_nodes
from ssdkit.deploy.graph import DeployGraph

from model_utils import load_tool, spread_demo_checkpoint

onnx = pytest.importorskip("onnx")
ov = pytest.importorskip("openvino")
pytest.importorskip("onnxruntime")
pytest.importorskip("nncf")

SIZE = (224, 224)  # the demo config's input
CALIB = 16
QDQ = ("QuantizeLinear", "DequantizeLinear")
INT8 = ("i8", "u8", "i4", "u4")  # the weights NNCF compresses, decompressed by a Convert
FLOAT_OK = (onnx.TensorProto.FLOAT, onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.BOOL)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The demo config on a small generated set and a checkpoint with spread weights (a few seconds)."""
    root = tmp_path_factory.mktemp("quantize")
    cfg, cfg_path, model, ckpt = spread_demo_checkpoint(root, num_train=CALIB, num_val=4)
    return dict(root=root, cfg=cfg, cfg_path=str(cfg_path), ckpt=str(ckpt), model=model)


@pytest.fixture(scope="module")
def demo(trained):
    """``trained`` with its float32 end2end export and its int8 files from tools/quantize.py (ONNX Runtime and
    OpenVINO; about 20 s)."""
    root, cfg_path, ckpt = trained["root"], trained["cfg_path"], trained["ckpt"]
    files = dict(float=root / "float.onnx", onnxruntime=root / "int8.onnx", openvino=root / "int8.xml")
    files["float_all"] = root / "float_all.onnx"  # what NNCF quantizes: NMS without the prefix's If
    load_tool("export").main([cfg_path, ckpt, "--out", str(files["float"])])
    load_tool("export").main([cfg_path, ckpt, "--out", str(files["float_all"]), "--no-nms-prefix"])
    tool = load_tool("quantize")
    for backend in ("onnxruntime", "openvino"):
        tool.main([cfg_path, ckpt, "--out", str(files[backend]), "--calib", str(CALIB)])
    return dict(trained, files=files)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_int8_file_runs_as_a_deployed_detector(demo, backend):
    file = str(demo["files"][backend])
    info, ref = read_info(file), read_info(demo["files"]["float"])
    assert info.precision == "int8" and ref.precision == "float32"
    assert info.calibration == dict(split="train", images=CALIB, seed=0, of=CALIB, backend=backend, max_drop=None)
    for key in ("mode", "input_size", "classes", "score_thr", "max_per_img", "outputs", "pre_nms_topk", "nms_iou"):
        assert getattr(info, key) == getattr(ref, key), key
    images = sorted(str(p) for p in (demo["root"] / "data/val").glob("*.jpg"))[:2]
    got = detect(init_detector(demo["cfg_path"], file, backend=backend), images, score_thr=0.0)
    assert [len(d["scores"]) for d in got] == [200, 200]
    assert all(np.all(np.diff(d["scores"]) <= 0) and set(d["labels"].tolist()) <= set(range(10)) for d in got)
    metrics = load_tool("test").main(
        [demo["cfg_path"], file, "--backend", backend, "--work-dir", str(demo["root"] / f"w_{backend}")]
    )
    assert 0.0 <= metrics["pascal_voc/mAP"] <= 1.0


def centred_logits(scores: np.ndarray) -> np.ndarray:
    """Softmax scores ``[..., C+1]`` -> the logits minus their mean over classes."""
    z = np.log(np.maximum(scores, 1e-30))
    return z - z.mean(-1, keepdims=True)


def predicted_error(model, calib: list[np.ndarray], images: list[np.ndarray], seed: int = 0) -> float:
    """Mean over ``images`` of the relative RMS change of the centred logits when every convolution's input gets
    uniform noise of its calibration range's uint8 step and its weights that of their per-channel int8 step."""
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    lo_hi: dict = {}

    def record(m, args):
        lo, hi = lo_hi.get(m, (0.0, 0.0))
        lo_hi[m] = (min(lo, float(args[0].min())), max(hi, float(args[0].max())))

    def logits(x: np.ndarray) -> torch.Tensor:
        data = dict(inputs=[torch.from_numpy(x[0]).to(torch.uint8)], data_samples=None)
        with torch.no_grad():
            z = model(model.data_preprocessor(data, False)["inputs"], mode="tensor")[0]
        return z - z.mean(-1, keepdim=True)

    hooks = [c.register_forward_pre_hook(record) for c in convs]
    for x in calib:
        logits(x)
    for h in hooks:
        h.remove()
    gen = torch.Generator().manual_seed(seed)

    def noise(shape, step):
        return (torch.rand(shape, generator=gen) - 0.5) * step

    errors = []
    for x in images:
        ref = logits(x)
        saved = {c: c.weight.detach().clone() for c in convs}
        hooks = [
            c.register_forward_pre_hook(lambda m, a: (a[0] + noise(a[0].shape, (lo_hi[m][1] - lo_hi[m][0]) / 255),))
            for c in convs
        ]
        with torch.no_grad():
            for c in convs:
                c.weight.add_(noise(c.weight.shape, c.weight.abs().flatten(1).amax(1).view(-1, 1, 1, 1) / 127))
        try:
            noisy = logits(x)
        finally:
            for h in hooks:
                h.remove()
            with torch.no_grad():
                for c in convs:
                    c.weight.copy_(saved[c])
        errors.append(float((noisy - ref).pow(2).mean().sqrt() / ref.pow(2).mean().sqrt()))
    return float(np.mean(errors))


def measured_error(float_file: str, int8: DeployedDetector, images: list[np.ndarray]) -> float:
    """Mean over ``images`` of the relative RMS difference of the centred logits of two raw files."""
    ref = DeployedDetector(float_file)
    errors = []
    for x in images:
        zf, zq = centred_logits(ref.run(x)[1]), centred_logits(int8.run(x)[1])
        errors.append(float(np.sqrt(((zq - zf) ** 2).mean()) / np.sqrt((zf**2).mean())))
    return float(np.mean(errors))


@pytest.mark.slow
def test_network_outputs_within_int8_rounding_noise(trained):
    root, cfg, model = trained["root"], trained["cfg"], trained["model"].eval()
    raw = str(root / "raw.onnx")
    export_onnx(model, raw, SIZE, "raw", batch=1)
    calib = choose(cfg, "train", CALIB, 0, SIZE, "raw").batches(SIZE, "raw")
    val = choose(cfg, "val", 4, 0, SIZE, "raw").batches(SIZE, "raw")
    tol = 1.5 * predicted_error(model, calib, val)
    assert 0.005 < tol < 0.1, tol  # int8 noise: well above float32 rounding, well below the signal
    info = q.int8_info(raw, {})
    proto, _ = q.quantize_onnxruntime(raw, calib)
    q.write_onnx(proto, root / "raw8.onnx", info)
    ov_model, _ = q.quantize_openvino(raw, calib)
    q.write_openvino(ov_model, root / "raw8.xml", info)
    for file, backend in ((root / "raw8.onnx", "onnxruntime"), (root / "raw8.xml", "openvino")):
        err = measured_error(raw, DeployedDetector(str(file), backend), val)
        assert err <= tol, (backend, err, tol)
    # calibrated on flat grey images, the ranges miss the data's and the error leaves the tolerance
    flat = [np.full_like(calib[0], 128.0)] * 4
    proto, _ = q.quantize_onnxruntime(raw, flat)
    q.write_onnx(proto, root / "flat8.onnx", info)
    assert measured_error(raw, DeployedDetector(str(root / "flat8.onnx")), val) > tol


def onnx_quantized_float_nodes(proto, float_names: list[str]) -> list[str]:
    """What breaks "decoding and NMS stay float32" in a quantized ONNX graph (its If branches included): a float node
    missing, a Q/DQ node feeding one, a Q/DQ node outside the network, a float node's constant input that is not
    float32."""
    every = [*proto.graph.node, *(inner for n in proto.graph.node for inner in subgraph_nodes(n))]  # If branches
    nodes = {n.name: n for n in every}
    producer = {o: n for n in every for o in n.output}
    consts = {i.name: i for i in proto.graph.initializer}
    wrong = [f"{name} missing" for name in float_names if name not in nodes]
    for name in [n for n in float_names if n in nodes]:
        for i in nodes[name].input:
            if i in producer and producer[i].op_type in QDQ:
                wrong.append(f"{name} <- {producer[i].op_type} {producer[i].name}")
            if i in consts and consts[i].data_type not in FLOAT_OK:
                wrong.append(f"{name} <- constant {i} of type {consts[i].data_type}")
    outside = set(onnx_float_nodes(proto)) - set(float_names)
    return wrong + [f"{n} outside the network" for n in sorted(outside) if nodes[n].op_type in QDQ]


def ov_quantized_float_nodes(model, float_names: list[str]) -> list[str]:
    """The same for an OpenVINO model: a FakeQuantize, or an integer weight's decompression, feeding a float
    operation, or a float operation's constant that is not f32 / i64 / i32."""
    ops = {op.get_friendly_name(): op for op in model.get_ordered_ops()}
    wrong = [f"{name} missing" for name in float_names if name not in ops]
    for name in [n for n in float_names if n in ops]:
        for value in ops[name].input_values():
            src = value.get_node()
            kind = src.get_type_name()
            if kind == "FakeQuantize" or (
                kind == "Convert" and src.input_value(0).get_element_type().get_type_name() in INT8
            ):
                wrong.append(f"{name} <- {kind} {src.get_friendly_name()}")
            if kind == "Constant" and src.get_element_type().get_type_name() not in ("f32", "i64", "i32", "boolean"):
                wrong.append(f"{name} <- constant of type {src.get_element_type()}")
    return wrong


def priors(consts: dict, p: int) -> dict:
    """The constants of shape [1, P, 2] (prior centres and sizes, folded by the exporter) among ``consts`` (numpy
    arrays or OpenVINO Constants)."""
    return {k: v for k, v in consts.items() if tuple(v.shape if hasattr(v, "ndim") else v.get_shape()) == (1, p, 2)}


@pytest.mark.slow
def test_decoding_and_nms_stay_float32_onnxruntime(demo, monkeypatch):
    ref = onnx.load(str(demo["files"]["float"]))
    float_names = onnx_float_nodes(ref)
    kinds = {n.op_type for n in ref.graph.node if n.name in float_names}
    assert {"Exp", "Softmax", "TopK", "NonMaxSuppression", "Mul", "Add"} <= kinds  # decoding and NMS are in it
    assert not kinds & {"Conv", "QuantizeLinear"}
    got = onnx.load(str(demo["files"]["onnxruntime"]))
    assert sum(n.op_type == "QuantizeLinear" for n in got.graph.node) > 10  # the network is quantized
    branch = next(n for n in got.graph.node if n.op_type == "If")  # the NMS prefix's, its nodes among the float ones
    assert {n.name for n in subgraph_nodes(branch)} <= set(float_names)
    assert onnx_quantized_float_nodes(got, float_names) == []
    as_np = {i.name: onnx.numpy_helper.to_array(i) for i in ref.graph.initializer}
    p = DeployGraph(demo["model"], SIZE).num_priors
    ref_priors = priors(as_np, p)
    got_priors = priors({i.name: onnx.numpy_helper.to_array(i) for i in got.graph.initializer}, p)
    assert len(ref_priors) == 2 and set(got_priors) == set(ref_priors)
    assert all(got_priors[k].dtype == np.float32 and np.array_equal(got_priors[k], v) for k, v in ref_priors.items())
    # the check fails when the quantizer is not told to leave the decoding alone
    monkeypatch.setattr(q, "onnx_float_nodes", lambda model: [])
    proto, _ = q.quantize_onnxruntime(demo["files"]["float"], [np.zeros((1, *SIZE, 3), np.uint8)] * 2)
    assert onnx_quantized_float_nodes(proto, float_names)


@pytest.mark.slow
def test_decoding_and_nms_stay_float32_openvino(demo, monkeypatch):
    ref = ov.convert_model(str(demo["files"]["float_all"]))
    float_names = ov_float_nodes(ref)
    got = ov.Core().read_model(str(demo["files"]["openvino"]))
    kinds = {op.get_type_name() for op in got.get_ordered_ops() if op.get_friendly_name() in float_names}
    assert {"Exp", "Softmax", "TopK", "NonMaxSuppression", "Multiply"} <= kinds
    assert sum(op.get_type_name() == "FakeQuantize" for op in got.get_ordered_ops()) > 10
    assert ov_quantized_float_nodes(got, float_names) == []
    p = DeployGraph(demo["model"], SIZE).num_priors
    ref_priors, got_priors = (
        priors({op.get_friendly_name(): op for op in m.get_ordered_ops() if op.get_type_name() == "Constant"}, p)
        for m in (ref, got)
    )
    assert len(ref_priors) >= 2 and len(got_priors) == len(ref_priors)  # OpenVINO names some constants itself
    assert all(c.get_element_type().get_type_name() == "f32" for c in got_priors.values())
    for v in ref_priors.values():
        assert any(np.array_equal(c.get_data(), v.get_data()) for c in got_priors.values())
    # the check fails when NNCF is not told to leave the decoding alone
    monkeypatch.setattr(q, "ov_float_nodes", lambda model: [])
    model, _ = q.quantize_openvino(demo["files"]["float_all"], [np.zeros((1, *SIZE, 3), np.uint8)] * 2)
    assert ov_quantized_float_nodes(model, float_names)


def test_bad_calibration_input_is_refused_before_any_work(trained, tmp_path):
    tool = load_tool("quantize")
    out = tmp_path / "int8.xml"
    base = [trained["cfg_path"], trained["ckpt"], "--out", str(out)]
    with pytest.raises(SystemExit, match=r"error: --calib 0: calibration needs at least one image"):
        tool.main([*base, "--calib", "0"])
    with pytest.raises(SystemExit, match=r"error: --split tran: the config has no tran_dataloader.dataset; valid "):
        tool.main([*base, "--split", "tran"])
    empty = tmp_path / "empty.json"
    empty.write_text('{"images": [], "annotations": [], "categories": [{"id": 1, "name": "0"}]}')
    with pytest.raises(SystemExit, match=r"error: val_dataloader.dataset has no images"):
        tool.main([*base, "--split", "val", "--cfg-options", f"val_dataloader.dataset.ann_file={empty}"])
    cfg = trained["cfg"].copy()
    cfg.test_dataloader.dataset.pipeline = [dict(type="LoadImage"), dict(type="PackInputs")]  # no Resize
    cfg.input_size = SIZE[0]
    unresized = tmp_path / "unresized.py"
    cfg.dump(str(unresized))
    with pytest.raises(SystemExit, match=r"error: calibration image '.*\.jpg' is 320x320 after test_dataloader"):
        tool.main([str(unresized), trained["ckpt"], "--out", str(out)])
    with pytest.raises(SystemExit, match=r"error: --max-drop: accuracy control is NNCF's, for --backend openvino"):
        tool.main([*base[:3], str(tmp_path / "int8.onnx"), "--max-drop", "0.01"])
    with pytest.raises(SystemExit, match=r"error: --out .*int8.bin: a .onnx \(ONNX Runtime\) or .xml \(OpenVINO\)"):
        tool.main([*base[:3], str(tmp_path / "int8.bin")])
    assert sorted(os.listdir(tmp_path)) == ["empty.json", "unresized.py"]  # nothing written

"""bfloat16 mixed precision on CPU: the network runs in bf16; weights, gradients, optimizer state, priors,
matching, loss and decoding stay float32 (equal to a float32 computation from the same head outputs).
That bf16 training reaches the float32 result is checked end to end in test_overfit.py."""

from __future__ import annotations

import pytest
import torch
from mmengine.optim import OptimWrapper

from ssdkit.engine import bf16
from ssdkit.engine.bf16 import BF16OptimWrapper

from model_utils import ROOT, build_model, load_tool, sample


def _batch(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    inputs = [(torch.rand(3, 300, 300, generator=g) * 255).to(torch.uint8) for _ in range(2)]
    return dict(
        inputs=inputs,
        data_samples=[sample([[10, 10, 100, 120], [150, 40, 290, 200]], [1, 3]), sample([[30, 60, 220, 280]], [7])],
    )


def _head_outputs(model) -> list[tuple[torch.Tensor, torch.Tensor]]:
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    model.head.register_forward_hook(lambda m, i, out: seen.append(tuple(t.detach() for t in out)))
    return seen


def _dtypes(seen) -> set[torch.dtype]:
    return {t.dtype for out in seen for t in out}


def _losses(model, wrapper, data=None) -> dict[str, torch.Tensor]:
    with torch.no_grad(), wrapper.optim_context(model):
        data = data or model.data_preprocessor(_batch(), True)
        return model(**data, mode="loss")


def _float32_tail(model, data, head_out, mode: str):
    """What the detector computes after the head, in float32 and outside autocast, from ``head_out``."""
    feats = model.extract_feats(data["inputs"])
    priors = model.priors_for(feats, data["inputs"], torch.float32)
    cls_logits, box_deltas = (t.float() for t in head_out)
    if mode == "loss":
        gt = model.ground_truth(data["data_samples"], data["inputs"].device)
        return model.loss(cls_logits, box_deltas, priors, gt, model.grid_for(feats, data["inputs"]))
    return model.predict(cls_logits, box_deltas, priors, data["inputs"], data["data_samples"])


def test_bf16_step_runs_the_network_in_bf16_and_the_rest_in_float32():
    """On every CPU: without native bf16, ``fallback_fp32=False`` runs the same autocast, emulated."""
    torch.manual_seed(0)
    model = build_model("ssd300_mobilenet")
    seen = _head_outputs(model)
    _losses(model, OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01)))
    assert _dtypes(seen) == {torch.float32}
    seen.clear()
    wrapper = BF16OptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), fallback_fp32=False
    )
    data = model.data_preprocessor(_batch(), True)
    mixed = _losses(model, wrapper, data)
    assert _dtypes(seen) == {torch.bfloat16}
    with torch.no_grad():  # same head outputs, matched and scored in float32 without autocast: same losses
        ref = _float32_tail(model, data, seen[0], "loss")
    for name, value in mixed.items():
        assert value.dtype == torch.float32, name
        torch.testing.assert_close(value, ref[name], rtol=1e-6, atol=0, msg=name)
    with wrapper.optim_context(model):
        loss = sum(model(**model.data_preprocessor(_batch(), True), mode="loss").values())
    wrapper.backward(loss)
    for name, p in model.named_parameters():
        assert p.dtype == torch.float32 and p.grad is not None and p.grad.dtype == torch.float32, name
        assert torch.isfinite(p.grad).all(), name
    wrapper.step()
    assert wrapper.optimizer.state[next(model.parameters())]["momentum_buffer"].dtype == torch.float32


def test_predictions_under_autocast_are_decoded_in_float32():
    torch.manual_seed(0)
    model = build_model("ssd300_mobilenet").eval()
    seen = _head_outputs(model)
    with torch.no_grad():
        data = model.data_preprocessor(_batch(1), False)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = [s.pred_instances for s in model(**data, mode="predict")]
        assert _dtypes(seen) == {torch.bfloat16}
        data = model.data_preprocessor(_batch(1), False)
        ref = [s.pred_instances for s in _float32_tail(model, data, seen[0], "predict")]
    for g, r in zip(got, ref, strict=True):
        assert g.bboxes.dtype == torch.float32 and g.scores.dtype == torch.float32
        torch.testing.assert_close(g.bboxes, r.bboxes, rtol=0, atol=1e-4)
        torch.testing.assert_close(g.scores, r.scores, rtol=0, atol=1e-6)


def test_native_bf16_follows_the_cpu_and_its_isa_caps(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert bf16.native_bf16("cpu") == torch.backends.mkldnn.is_available()
    for cap in ("AVX2", "AVX512_CORE"):  # an emulated AVX2 machine; oneDNN held below bf16
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert not bf16.native_bf16("cpu"), cap
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX")
    assert bf16.native_bf16("cpu") == torch.backends.mkldnn.is_available()
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")  # ATEN_CPU_CAPABILITY=avx2
    assert not bf16.native_bf16("cpu")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not bf16.native_bf16("cpu")


def test_without_native_bf16_the_wrapper_warns_and_trains_in_float32(monkeypatch):
    monkeypatch.setattr(bf16, "native_bf16", lambda device_type: False)
    model = build_model("ssd300_mobilenet")
    seen = _head_outputs(model)
    wrapper = BF16OptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.01))
    with pytest.warns(UserWarning, match="no native bfloat16.*float32"):
        _losses(model, wrapper)
    assert _dtypes(seen) == {torch.float32}
    forced = BF16OptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.01), fallback_fp32=False)
    seen.clear()
    _losses(model, forced)
    assert _dtypes(seen) == {torch.bfloat16}


def test_amp_flag_is_float16_on_gpu_and_bfloat16_on_cpu(monkeypatch):
    train = load_tool("train")

    args = train.parse_args([str(ROOT / "configs/ssd300_mobilenet.py"), "--amp"])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cpu = train.build_cfg(args).optim_wrapper
    assert cpu["type"] == "BF16OptimWrapper" and cpu["optimizer"]["type"] == "RMSprop"  # the released solver, kept
    assert cpu["paramwise_cfg"]["bias_lr_mult"] == 2
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    gpu = train.build_cfg(args).optim_wrapper
    assert gpu["type"] == "AmpOptimWrapper" and gpu["loss_scale"] == "dynamic"
    demo = train.build_cfg(
        train.parse_args(
            [
                str(ROOT / "configs/demo/ssdlite224_mobilenet_demo.py"),
                "--amp",
                "--cfg-options",
                "optim_wrapper.fallback_fp32=False",
            ]
        )
    ).optim_wrapper
    assert demo["type"] == "AmpOptimWrapper" and "fallback_fp32" not in demo  # BF16OptimWrapper's own option

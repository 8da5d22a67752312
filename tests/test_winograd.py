"""WinogradConv2d (NNPACK's Winograd kernels in training) against nn.Conv2d on the same input, and its policy."""

from __future__ import annotations

import copy
import platform

import pytest
import torch
from torch import nn

from ssdkit.models.winograd import MIN_PIXELS, WinogradConv2d, use_winograd, winograd_available, winograd_eligible

from float_tolerance import conv_depth_and_width, float32_tolerance
from model_utils import build_model, load_config

# NNPACK runs on any x86 CPU with AVX2 (its kernels are AVX2 whatever the CPU has beyond), so these checks run on
# AVX2, AVX-512 and AMX machines alike; the 'auto' policy is tested by setting the capability PyTorch reports.
pytestmark = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64") or not torch._nnpack_available(),
    reason="NNPACK not usable on this CPU",
)


@pytest.fixture
def nnpack_calls(monkeypatch):
    calls = []
    real = torch._nnpack_spatial_convolution

    def counting(*args, **kwargs):
        calls.append(tuple(args[0].shape))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", counting)
    return calls


def layer_tolerance(cin: int, ref: torch.Tensor) -> float:
    """One conv layer: rounding of a length-``9 cin`` reduction, ``eps sqrt(n) max|ref|`` (tests/float_tolerance.py),
    times 8 for Winograd's transforms (F(6x6, 3x3) adds and scales each 8x8 tile twice before and after the products;
    measured 0.3-0.4 of ``eps sqrt(n) max|ref|``). A wrong padding, flip or transpose is off by O(max|ref|)."""
    return float32_tolerance(8, 9 * cin, ref)  # eps * 8 * sqrt(9 cin) * max|ref|


@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("bias", [True, False])
def test_forward_and_gradients_equal_conv2d(padding, bias, nnpack_calls):
    torch.manual_seed(padding)
    ref = nn.Conv2d(16, 24, 3, padding=padding, bias=bias)
    ours = copy.deepcopy(ref)
    assert use_winograd(ours) == 1 and type(ours) is WinogradConv2d
    x = torch.randn(2, 16, 40, 36, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    y_ref, y = ref(x), ours(x2)
    assert nnpack_calls == [(1, 16, 40, 36)] * 2  # the forward ran NNPACK, one image at a time
    g = torch.randn_like(y_ref)
    y_ref.backward(g)
    y.backward(g)
    assert nnpack_calls[2:] == [(1, *g.shape[1:])] * 2  # ... and so did the input gradient
    assert y.shape == y_ref.shape
    assert (y - y_ref).abs().max() <= layer_tolerance(16, y_ref)
    assert (x2.grad - x.grad).abs().max() <= layer_tolerance(24, x.grad)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad)  # oneDNN computes both weight gradients
    if bias:
        torch.testing.assert_close(ours.bias.grad, ref.bias.grad)


def test_inference_runs_winograd_too(nnpack_calls):
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 16, 3, padding=1)
    ref = copy.deepcopy(conv).eval()
    use_winograd(conv)
    x = torch.randn(2, 8, 36, 36)
    with torch.no_grad():
        out = conv.eval()(x)
    assert len(nnpack_calls) == 2 and not out.requires_grad
    assert (out - ref(x)).abs().max() <= layer_tolerance(8, out)


def test_frozen_input_and_weights_take_the_matching_branches(nnpack_calls):
    """No input gradient wanted (the first layer): NNPACK runs once; frozen weights: no weight gradient."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, 3, padding=1)
    ref = copy.deepcopy(conv)
    use_winograd(conv)
    x = torch.randn(1, 3, 34, 34)
    conv(x).sum().backward()
    ref(x).sum().backward()
    assert len(nnpack_calls) == 1
    assert (conv.weight.grad - ref.weight.grad).abs().max() <= layer_tolerance(3, ref.weight.grad)
    conv.requires_grad_(False)
    xg = x.clone().requires_grad_()
    conv(xg).sum().backward()
    assert conv.weight.grad is not None and xg.grad is not None and len(nnpack_calls) == 3


def test_plain_conv2d_wherever_winograd_does_not_apply(nnpack_calls):
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 8, 3, padding=1)
    use_winograd(conv)
    big, small = torch.randn(1, 8, 40, 40), torch.randn(1, 8, 19, 19)  # 19x19 < MIN_PIXELS
    assert 19 * 19 < MIN_PIXELS <= 40 * 40
    plain = lambda x: nn.functional.conv2d(x, conv.weight, conv.bias, padding=1)  # noqa: E731
    cases = {
        "small map": lambda: conv(small.requires_grad_()),
        "NHWC": lambda: conv(big.contiguous(memory_format=torch.channels_last)),
        "bfloat16 autocast": lambda: torch.autocast("cpu", dtype=torch.bfloat16)(conv)(big).float(),
        "export": lambda: torch.export.export(conv, (big,)).module()(big),
    }
    for name, run in cases.items():
        out = run()
        assert not nnpack_calls, name
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=name == "bfloat16 autocast"):
            expected = plain(small if name == "small map" else big).float()
        torch.testing.assert_close(out, expected, msg=name)


def test_use_winograd_switches_only_eligible_convs_and_keeps_them():
    convs = nn.Sequential(
        nn.Conv2d(4, 4, 3, padding=1),
        nn.Conv2d(4, 4, 3, stride=2, padding=1),
        nn.Conv2d(4, 4, 3, padding=6, dilation=6),
        nn.Conv2d(4, 4, 3, padding=1, groups=4),
        nn.Conv2d(4, 4, 1),
        nn.Conv2d(4, 4, 3, padding=3),
        nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"),
    )
    params, keys = list(convs.parameters()), list(convs.state_dict())
    assert [winograd_eligible(m) for m in convs] == [True] + [False] * 6
    assert use_winograd(convs) == 1
    assert [type(m).__name__ for m in convs] == ["WinogradConv2d"] + ["Conv2d"] * 6
    assert all(a is b for a, b in zip(params, convs.parameters(), strict=True)) and list(convs.state_dict()) == keys
    assert use_winograd(convs, on=False) == 1 and all(type(m) is nn.Conv2d for m in convs)


def test_auto_follows_the_cpu_and_an_unusable_request_is_refused(monkeypatch):
    for cap, expected in (("AVX2", 27), ("AVX512", 0), ("DEFAULT", 0)):
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda cap=cap: cap)
        assert winograd_available() is (cap == "AVX2")
        assert build_model("ssd300_vgg16_voc0712").winograd_convs == expected, cap
    # on AVX-512 PyTorch still runs NNPACK when asked, but 'auto' leaves it off; True on it is refused
    with pytest.raises(ValueError, match=r"model.winograd=True.*AVX2 \(this one: DEFAULT.*'auto' or False"):
        build_model("ssd300_vgg16_voc0712", winograd=True)
    with pytest.raises(ValueError, match="model.winograd='on': valid values are True, False and 'auto'"):
        build_model("ssd300_vgg16_voc0712", winograd="on")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert build_model("ssdlite300_mobilenet", winograd=True).winograd_convs == 0  # no dense 3x3 stride-1 conv


def smooth_(model: nn.Module) -> nn.Module:
    """ReLU -> GELU and max -> average pooling, in place: a network without kinks, whose gradients change with
    rounding only by rounding (a ReLU or a max-pool tie flipped by a 1e-7 difference reroutes a whole gradient)."""
    for parent in model.modules():
        for name, m in parent.named_children():
            if isinstance(m, nn.ReLU):
                setattr(parent, name, nn.GELU())
            elif isinstance(m, nn.MaxPool2d):
                setattr(parent, name, nn.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode))
    return model


@pytest.mark.slow
def test_ssd300_training_pass_equals_onednn(nnpack_calls, monkeypatch):
    """The SSD300-VGG16 network (its convolutions, paddings and head, with conv1_x and conv2_x frozen so that both
    kinds of layer are covered) in training mode, forward and backward, with and without Winograd, made smooth
    (:func:`smooth_`) so that every gradient is comparable."""
    monkeypatch.setattr(nn.functional, "relu", lambda x, inplace=False: nn.functional.gelu(x))  # conv6, conv7
    torch.manual_seed(0)
    cfg = load_config("ssd300_vgg16_voc0712")
    cfg.model.backbone.frozen_stages = 2
    ref = smooth_(build_model(cfg, winograd=False, channels_last=False)).train()
    ours = copy.deepcopy(ref)
    assert use_winograd(ours) == 27
    x = torch.rand(1, 3, 300, 300) * 2 - 1
    out_ref, out = ref(x, mode="tensor"), ours(x, mode="tensor")
    assert len(nnpack_calls) == 12  # the convs on maps of 38x38 and more: conv1_1 .. conv4_3, the 38x38 predictors
    # (conv1_x and conv2_x are frozen, so in eval mode without weight gradients: their forward runs NNPACK too)
    depth, width = conv_depth_and_width([ref.backbone, ref.neck], ref.head)
    for a, b in zip(out, out_ref, strict=True):
        assert (a - b).abs().max() <= float32_tolerance(depth, width, b)
    cot = [torch.randn_like(t) for t in out_ref]
    torch.autograd.backward(out_ref, cot)
    torch.autograd.backward(out, cot)
    assert len(nnpack_calls) == 12 + 7  # input gradients of conv3_1 .. conv4_3 and the two predictors
    grads = [
        (n, p.grad, q.grad)
        for (n, p), q in zip(ours.named_parameters(), ref.parameters(), strict=True)
        if q.grad is not None
    ]
    assert len(grads) == len(list(ref.parameters())) - 8  # conv1_x, conv2_x frozen
    for name, g, g_ref in grads:
        assert (g - g_ref).abs().max() <= float32_tolerance(depth, width, g_ref), name


def test_training_log_names_the_layout_and_the_winograd_convs():
    from ssdkit.engine.runner import memory_and_kernels

    model = build_model("ssd300_vgg16_voc0712", winograd=False, channels_last=False)
    assert memory_and_kernels(model) == "; NCHW in training; no Winograd convs (oneDNN)"
    model.winograd_convs = use_winograd(model)
    wrapped = nn.Module()  # as DDP holds it
    wrapped.module = model
    assert memory_and_kernels(wrapped) == "; NCHW in training; 27 Winograd 3x3 convs (NNPACK)"
    assert memory_and_kernels(nn.Linear(2, 2)) == ""

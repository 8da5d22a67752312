"""Backbones and necks: sizes, options, bilinear deconvolution, error messages."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import ssdkit.models  # noqa: F401
from ssdkit.convert import vgg16_to_atrous
from ssdkit.models.backbones import MobileNetV1, VGG16Atrous
from ssdkit.models.necks import FeatureFusedNeck, SSDExtraLayers, bilinear_kernel
from ssdkit.registry import BACKBONES, NECKS


@pytest.mark.slow
def test_vgg_outputs_and_conv5_3():
    net = BACKBONES.build(dict(type="VGG16Atrous", out_features=("conv7", "conv5_3", "conv4_3"), l2_norm_scale=None))
    outs = net(torch.randn(1, 3, 300, 300))
    assert [tuple(o.shape[1:]) for o in outs] == [(512, 38, 38), (512, 19, 19), (1024, 19, 19)]
    assert net.out_channels == [512, 512, 1024]
    with pytest.raises(ValueError, match="conv4_3"):
        VGG16Atrous(out_features=("conv6",))
    assert_equals_torchvisions_vgg16(net)


def assert_equals_torchvisions_vgg16(net: VGG16Atrous) -> None:
    """With torchvision's VGG16 weights (random, converted): conv4_3 and conv5_3 are torchvision's ``features[:23]``
    and ``features[:30]``, conv7 the paper's head written out here (pool5 3x3 stride 1, conv6 3x3 dilation 6,
    ReLU, conv7 1x1, ReLU) on the subsampled fc6/fc7; on a 64x64 input every pooling divides evenly, so pool3's
    ceil mode changes nothing."""
    import torchvision

    torch.manual_seed(0)
    tv = torchvision.models.vgg16().eval()
    net.eval()
    missing = net.load_state_dict(vgg16_to_atrous(tv.state_dict()), strict=False).missing_keys
    assert missing == ["l2_norm.weight"] or missing == []
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        conv4_3, conv5_3, conv7 = net(x)
        want4, want5 = tv.features[:23](x), tv.features[:30](x)
        pool5 = F.max_pool2d(want5, 3, 1, 1)
        fc6_w, fc7_w = tv.classifier[0].weight.view(4096, 512, 7, 7), tv.classifier[3].weight.view(4096, 4096, 1, 1)
        conv6 = F.relu(F.conv2d(pool5, fc6_w[::4, :, ::3, ::3], tv.classifier[0].bias[::4], padding=6, dilation=6))
        want7 = F.relu(F.conv2d(conv6, fc7_w[::4, ::4], tv.classifier[3].bias[::4]))
    torch.testing.assert_close(conv4_3, want4, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(conv5_3, want5, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(conv7, want7, rtol=1e-4, atol=1e-5)


def test_vgg_l2norm_scale_20():
    net = VGG16Atrous(out_features=("conv4_3",))
    norms = net(torch.rand(1, 3, 64, 64))[0].norm(dim=1)
    torch.testing.assert_close(norms, torch.full_like(norms, 20.0), rtol=1e-4, atol=1e-3)


def test_vgg_frozen_stages():
    net = VGG16Atrous(frozen_stages=2).train()
    assert not net.layers[0].weight.requires_grad and not net.layers[7].weight.requires_grad
    assert net.layers[10].weight.requires_grad and net.conv7.weight.requires_grad


def test_mobilenet_taps_width_activation_freeze_norm_eval():
    net = BACKBONES.build(dict(type="MobileNetV1"))
    outs = net(torch.randn(1, 3, 300, 300))
    assert [tuple(o.shape[1:]) for o in outs] == [(512, 19, 19), (1024, 10, 10)] and net.out_channels == [512, 1024]
    half = MobileNetV1(width_mult=0.5, activation="relu")
    assert half.out_channels == [256, 512] and not any(isinstance(m, nn.ReLU6) for m in half.modules())
    assert any(isinstance(m, nn.ReLU6) for m in net.modules())
    frozen = MobileNetV1(frozen_stages=2).train()
    assert not frozen.stem[0].weight.requires_grad and not frozen.blocks[1][1][0].weight.requires_grad
    assert frozen.blocks[2][0][0].weight.requires_grad and not frozen.stem[1].training
    ne = MobileNetV1(norm_eval=True).train()
    assert all(not m.training for m in ne.modules() if isinstance(m, nn.BatchNorm2d))
    with pytest.raises(ValueError, match="relu6"):
        MobileNetV1(activation="gelu")


def test_extra_layers_ssd512_sizes_and_depthwise():
    neck = NECKS.build(
        dict(
            type="SSDExtraLayers",
            in_channels=[512, 1024],
            extra_channels=((256, 512), (128, 256), (128, 256), (128, 256), (128, 256)),
            strides=(2, 2, 2, 2, 1),
            paddings=(1, 1, 1, 1, 1),
            kernel_sizes=(3, 3, 3, 3, 4),
        )
    )
    outs = neck([torch.randn(1, 512, 64, 64), torch.randn(1, 1024, 32, 32)])
    assert [o.shape[-1] for o in outs] == [64, 32, 16, 8, 4, 2, 1]
    plain = SSDExtraLayers([512, 1024])
    dw = SSDExtraLayers([512, 1024], depthwise=True)
    assert any(isinstance(m, nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels for m in dw.modules())
    assert sum(p.numel() for p in dw.parameters()) < sum(p.numel() for p in plain.parameters()) / 2
    with pytest.raises(ValueError, match="strides"):
        SSDExtraLayers([1024], strides=(2,))
    with pytest.raises(ValueError, match="extra layer 2: input 2x2 is too small"):
        plain([torch.randn(1, 512, 16, 16), torch.randn(1, 1024, 8, 8)])


def test_bilinear_deconvolution():
    neck = FeatureFusedNeck([8, 8, 16], extra_channels=((8, 8),), strides=(2,), paddings=(1,), kernel_sizes=(3,))
    ramp = torch.arange(5.0).view(1, 1, 1, 5).expand(1, 8, 5, 5)
    up = neck.deconv(ramp)
    assert up.shape[-1] == 10
    torch.testing.assert_close(up[0, 0, 3, 1:-1], 0.25 + 0.5 * torch.arange(8.0))  # linear interpolation
    k4 = bilinear_kernel(1, 4)[0, 0]
    torch.testing.assert_close(k4[1], torch.tensor([0.1875, 0.5625, 0.5625, 0.1875]))
    const = nn.functional.conv_transpose2d(torch.ones(1, 1, 6, 6), k4.view(1, 1, 4, 4), stride=2, padding=1)
    torch.testing.assert_close(const[0, 0, 1:-1, 1:-1], torch.ones(10, 10))


@pytest.mark.parametrize("mode,width", [("concat", 512), ("sum", 384)])
def test_feature_fused_neck(mode, width):
    neck = NECKS.build(dict(type="FeatureFusedNeck", in_channels=[512, 512, 1024], mode=mode))
    feats = [torch.randn(1, 512, 38, 38), torch.randn(1, 512, 19, 19), torch.randn(1, 1024, 19, 19)]
    outs = neck(feats)
    assert [o.shape[-1] for o in outs] == [38, 19, 10, 5, 3, 1] and neck.out_channels[0] == width == outs[0].shape[1]
    outs[0].sum().backward()
    assert neck.conv4_3.weight.grad.abs().sum() > 0 and neck.conv5_3.weight.grad.abs().sum() > 0
    assert FeatureFusedNeck([512, 512, 1024], mode=mode, fused_channels=128).out_channels[0] == 128
    with pytest.raises(ValueError, match="mode='max'.*concat"):
        FeatureFusedNeck([512, 512, 1024], mode="max")

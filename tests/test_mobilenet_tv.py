"""MobileNetV2 / V3 on torchvision's modules: its ImageNet weights land 1:1, the SSDLite taps are torchvision's."""

from __future__ import annotations

import pytest
import torch
from torchvision.models import (
    MobileNet_V3_Large_Weights,
    get_model_weights,
    mobilenet_v2,
    mobilenet_v3_large,
    mobilenet_v3_small,
)

from ssdkit.models.backbones import MobileNetV2, MobileNetV3

from float_tolerance import EPS32
from model_utils import build_model

BUILDERS = {
    "v2": (mobilenet_v2, MobileNetV2, {}),
    "v3_large": (mobilenet_v3_large, MobileNetV3, {}),
    "v3_small": (mobilenet_v3_small, MobileNetV3, {"arch": "small"}),
}


def _randomised(model: torch.nn.Module) -> torch.nn.Module:
    """Random BN statistics and affine parameters, so a BN loaded into the wrong layer changes the output."""
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)
    return model.eval()


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_imagenet_weights_land_and_the_taps_are_torchvisions(kind, monkeypatch):
    """The weights go through ``pretrained=`` (torchvision's loader, patched to a random model: no download); the
    stride-32 map is torchvision's ``features`` output and the expansion tap is what torchvision's SSDLite
    extractor computes (``features[:c4]`` then the C4 block's first layer)."""
    build_tv, ours_cls, kw = BUILDERS[kind]
    tv = _randomised(build_tv(weights=None))
    monkeypatch.setattr(get_model_weights(build_tv), "get_state_dict", lambda self, progress=True: tv.state_dict())
    ours = ours_cls(
        **kw, out_features=("stride8", "stride16", "stride16_expand", "stride32"), pretrained="IMAGENET1K_V1"
    )
    ours.init_weights()
    ours.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        s8, s16, expand, s32 = ours(x)
        ref32 = tv.features(x)
        c4 = max(i for i, b in enumerate(tv.features) if getattr(b, "_is_cn", False))
        layers = tv.features[c4].block if hasattr(tv.features[c4], "block") else tv.features[c4].conv
        ref16 = tv.features[:c4](x)
        ref_expand = layers[0](ref16)
    assert s8.shape[-1] == 28 and s16.shape[-1] == 14 and expand.shape[-1] == 14 and s32.shape[-1] == 7
    for ours_map, ref in ((s16, ref16), (expand, ref_expand), (s32, ref32)):
        # a reordering of the same float32 sums: ~eps per layer; a wrong weight would be O(1)
        assert (ours_map - ref).abs().max() <= 100 * EPS32 * len(tv.features) * ref.abs().max()
    assert ours.out_channels == [s8.shape[1], s16.shape[1], expand.shape[1], s32.shape[1]]


def test_ssdlite_taps_match_torchvision_channels():
    assert MobileNetV2().out_channels == [576, 1280]  # MobileNetV2 §6.2: expansion of layer 15, the last layer
    assert MobileNetV3().out_channels == [672, 960]
    assert MobileNetV3(reduced_tail=True).out_channels == [672, 480]


def test_normalisation_is_torchvisions_and_reaches_the_detector():
    model = build_model("ssdlite320_mobilenetv3_voc0712")
    tv = MobileNet_V3_Large_Weights.IMAGENET1K_V1.transforms()
    torch.testing.assert_close(model.data_preprocessor.mean.flatten(), torch.tensor(tv.mean) * 255)
    torch.testing.assert_close(model.data_preprocessor.std.flatten(), torch.tensor(tv.std) * 255)


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="reduced_tail=False"):
        MobileNetV3(reduced_tail=True, pretrained="IMAGENET1K_V1")
    with pytest.raises(ValueError, match=r"pretrained='IMAGENET1K_V2'; valid: None, 'IMAGENET1K_V1'"):
        MobileNetV3(arch="small", pretrained="IMAGENET1K_V2")
    with pytest.raises(ValueError, match=r"out_features \['c4'\] invalid; choose from"):
        MobileNetV2(out_features=("c4",))
    with pytest.raises(ValueError, match="arch='tiny'"):
        MobileNetV3(arch="tiny")


def test_offline_loader_names_the_file_and_the_cache(monkeypatch):
    def offline(self, progress=True):
        raise OSError("no network")

    monkeypatch.setattr(MobileNet_V3_Large_Weights, "get_state_dict", offline)
    with pytest.raises(RuntimeError, match=r"mobilenet_v3_large-8738ca79.pth into .*/checkpoints.*init_cfg"):
        MobileNetV3(pretrained="IMAGENET1K_V1").init_weights()


def test_the_small_networks_weights_give_the_detector_their_normalisation():
    from ssdkit.models.input_norm import backbone_input_norm

    norm, label = backbone_input_norm(dict(type="MobileNetV3", arch="small", pretrained="IMAGENET1K_V1"))
    assert norm is not None and "mobilenet_v3_small" in label
    with pytest.raises(ValueError, match="valid: None, 'IMAGENET1K_V1'"):
        backbone_input_norm(dict(type="MobileNetV3", arch="small", pretrained="IMAGENET1K_V2"))

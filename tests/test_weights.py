"""Pretrained weights carry their input normalisation: the detector and Expand take it; a config cannot disagree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine import Config
from torchvision.models import VGG16_Weights, vgg16

from ssdkit.convert import vgg16_to_atrous
from ssdkit.engine import wire_expand_fill
from ssdkit.models.backbones import VGG16_WEIGHTS, VGG16Atrous
from ssdkit.registry import TRANSFORMS

from model_utils import CONFIGS, ROOT, build_model, load_config, load_tool


@pytest.mark.parametrize("name", list(VGG16_WEIGHTS))
def test_attached_normalisation_is_what_torchvision_documents(name):
    """torchvision's ``weights.transforms()`` (no download): x/255 - mean, / std; ssdkit's on 0..255 pixels."""
    tv = VGG16_Weights[name].transforms()
    model = build_model("ssd300_vgg16_voc0712", backbone=dict(type="VGG16Atrous", pretrained=name))
    pre = model.data_preprocessor
    torch.testing.assert_close(pre.mean.flatten(), torch.tensor(tv.mean) * 255)
    torch.testing.assert_close(pre.std.flatten(), torch.tensor(tv.std) * 255)
    assert pre._channel_conversion  # torchvision's weights take RGB; OpenCV loads BGR
    x = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)  # one pixel map through both
    ours = pre(dict(inputs=[x.flip(0)], data_samples=None))["inputs"][0]  # BGR in, as OpenCV gives it
    ref = tv.__class__(crop_size=8, resize_size=8, mean=tv.mean, std=tv.std)(x)
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_normalisation_that_disagrees_with_the_weights_names_both():
    cfg = load_config("ssd300_vgg16_voc0712")
    cfg.model.backbone.pretrained = "IMAGENET1K_V1"
    cfg.model.data_preprocessor.update(mean=[123.0, 117.0, 104.0], std=[1.0, 1.0, 1.0])
    with pytest.raises(
        ValueError,
        match=r"model\.data_preprocessor states mean=\[123.0, 117.0, 104.0\], std=\[1.0, "
        r"1.0, 1.0\].*IMAGENET1K_V1.*std=\[58.395, 57.12, 57.375\]",
    ):
        build_model(cfg)
    cfg.model.data_preprocessor.update(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])  # agrees
    assert build_model(cfg).data_preprocessor.std.flatten()[0] == pytest.approx(58.395)
    cfg.model.data_preprocessor.update(bgr_to_rgb=False)
    with pytest.raises(ValueError, match="remove bgr_to_rgb"):
        build_model(cfg)
    with pytest.raises(
        ValueError,
        match=r"pretrained='torchvision'; valid: None, 'IMAGENET1K_FEATURES', "
        r"'IMAGENET1K_V1'",
    ):
        VGG16Atrous(pretrained="torchvision")


def test_an_unknown_backbone_type_gets_the_registrys_error():
    cfg = load_config("ssd300_vgg16_voc0712")
    cfg.model.backbone.type = "VGG16Atrus"
    with pytest.raises(
        KeyError,
        match=r"'VGG16Atrus' is not in the ssdkit BACKBONES registry.*"
        r"Did you mean 'VGG16Atrous'",
    ):
        build_model(cfg)


def fake_vgg16() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return vgg16().state_dict()


def test_imagenet1k_v1_lands_with_fc6_fc7_subsampled(monkeypatch):
    src = fake_vgg16()
    monkeypatch.setattr(VGG16_Weights, "get_state_dict", lambda self, progress=True: src)
    net = VGG16Atrous(pretrained="IMAGENET1K_V1")
    net.init_weights()
    for i in (0, 2, 5, 28):
        torch.testing.assert_close(net.layers[i].weight, src[f"features.{i}.weight"])
        torch.testing.assert_close(net.layers[i].bias, src[f"features.{i}.bias"])
    torch.testing.assert_close(net.conv6.weight, src["classifier.0.weight"].view(4096, 512, 7, 7)[::4, :, ::3, ::3])
    torch.testing.assert_close(net.conv7.bias, src["classifier.3.bias"][::4])
    assert float(net.l2_norm.weight.detach().mean()) == 20.0


def test_imagenet1k_features_lands_convs_and_xavier_conv6_conv7(monkeypatch):
    src = fake_vgg16()
    for k in [k for k in src if k.startswith("classifier")]:
        src[k] = torch.full_like(src[k], float("nan"))  # torchvision's FEATURES file: NaN classifier
    asked = []
    monkeypatch.setattr(VGG16_Weights, "get_state_dict", lambda self, progress=True: asked.append(self.name) or src)
    net = VGG16Atrous(pretrained="IMAGENET1K_FEATURES")
    net.init_weights()
    assert asked == ["IMAGENET1K_FEATURES"]
    for i in (0, 10, 21, 28):
        torch.testing.assert_close(net.layers[i].weight, src[f"features.{i}.weight"])
    for conv in (net.conv6, net.conv7):  # torchvision's _xavier_init: U(+-sqrt(6 / (fan_in + fan_out))), zero bias
        fan_in, fan_out = conv.weight[0].numel(), conv.weight.shape[0] * conv.weight[0, 0].numel()
        bound = (6 / (fan_in + fan_out)) ** 0.5
        w = conv.weight.detach().abs()
        # PyTorch's default init reaches only 1/sqrt(fan_in)
        assert torch.isfinite(w).all() and 0.95 * bound < float(w.max()) <= bound * (1 + 1e-6)
        assert float(conv.bias.detach().abs().max()) == 0.0


@pytest.mark.slow
def test_the_features_file_is_not_converted_as_v1(tmp_path):
    """The FEATURES file through the fc6/fc7 conversion would put NaNs into conv6/conv7: refused, naming the fix."""
    src = fake_vgg16()
    src["classifier.0.weight"] = torch.full_like(src["classifier.0.weight"], float("nan"))
    with pytest.raises(ValueError, match=r"NaN or infinite.*convert it as 'vgg16_features'"):
        vgg16_to_atrous(src)
    torch.save(src, tmp_path / "features.pth")
    tool = load_tool("convert_torchvision")
    tool.main(["vgg16_features", str(tmp_path / "features.pth"), str(tmp_path / "out.pth")])
    out = torch.load(tmp_path / "out.pth", weights_only=True)["state_dict"]
    assert set(out) == {
        f"layers.{i}.{p}" for i in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28) for p in ("weight", "bias")
    }
    torch.testing.assert_close(out["layers.28.weight"], src["features.28.weight"])


def test_offline_loader_names_the_file(monkeypatch):
    def offline(self, progress=True):
        raise OSError("no network")

    monkeypatch.setattr(VGG16_Weights, "get_state_dict", offline)
    with pytest.raises(
        RuntimeError,
        match=r"vgg16_features-amdegroot-88682ab5.pth.*"
        r"tools/convert_torchvision.py vgg16_features SRC",
    ):
        VGG16Atrous(pretrained="IMAGENET1K_FEATURES").init_weights()


def expand_fills(cfg: Config) -> list[tuple[list[float], bool]]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "Expand":
                found.append((list(node["mean"]), node["mean_is_rgb"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)

    walk(cfg._cfg_dict)
    return found


def test_expand_fills_with_the_models_input_mean():
    vgg = wire_expand_fill(load_config("ssd300_vgg16_voc0712"))
    fills = expand_fills(vgg)
    assert len(fills) >= 3  # the two VOC sets' pipelines and the base pipeline variables
    for mean, rgb in fills:
        assert rgb and mean == pytest.approx([0.48235 * 255, 0.45882 * 255, 0.40784 * 255])
    mobilenet = wire_expand_fill(load_config("ssd300_mobilenet"))
    # timm's ImageNet MobileNetV1: RGB (x / 255 - 0.5) / 0.5
    assert {(tuple(m), rgb) for m, rgb in expand_fills(mobilenet)} == {((127.5, 127.5, 127.5), True)}
    cfg = load_config("ssd300_vgg16_voc0712")
    cfg.train_dataloader.dataset.datasets[1].pipeline[2].mean = [104, 117, 123]  # BGR written as RGB
    with pytest.raises(ValueError, match=r"train_dataloader\.dataset\.datasets\[1\]\.pipeline\[2\]\.mean"):
        wire_expand_fill(cfg)


def test_wired_expand_fills_its_canvas_with_the_mean():
    cfg = wire_expand_fill(Config.fromfile(str(ROOT / "configs/ssd300_mobilenet.py")))
    expand = TRANSFORMS.build(dict(next(t for t in cfg.train_pipeline_300 if t["type"] == "Expand"), prob=1.0, seed=0))
    out = expand(dict(img=np.zeros((10, 10, 3), np.uint8), gt_bboxes=np.zeros((0, 4), np.float32)))
    assert out["img"].shape[0] > 10 and set(np.unique(out["img"]).tolist()) == {0, 128}  # 127.5 rounded


@pytest.mark.parametrize("name", CONFIGS + ["demo/ssdlite224_mobilenet_demo"])
def test_every_config_agrees_with_itself(name):
    """Each config builds (its normalisation agrees with its weights) and every Expand fills with its model's mean."""
    cfg = wire_expand_fill(load_config(name))
    pre = build_model(cfg).data_preprocessor
    mean = pre.mean.flatten().tolist() if pre._enable_normalize else [0.0, 0.0, 0.0]
    for fill, rgb in expand_fills(cfg):
        assert rgb == pre._channel_conversion and fill == pytest.approx(mean, abs=1e-3)

"""timm's ImageNet MobileNetV1 in ssdkit's MobileNetV1, TimmBackbone for any timm model, timm optional.

Nothing here touches the network: the hub is offline (``HF_HUB_OFFLINE``) and its cache an empty folder per test;
weights are random timm models saved by the tests, in the places timm's loader reads.
"""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper
from torch import nn

from ssdkit.convert import timm_mobilenetv1_to_ssdkit
from ssdkit.models.backbones import MobileNetV1, TimmBackbone

from float_tolerance import float32_tolerance
from model_utils import ROOT, build_model, load_config, sample

timm = pytest.importorskip("timm")
safetensors_torch = pytest.importorskip("safetensors.torch")
hub_constants = pytest.importorskip("huggingface_hub.constants")

HUB_REPO = "models--timm--mobilenetv1_100.ra4_e3600_r224_in1k"  # timm's hf_hub_id in the hub cache's naming
V4 = "mobilenetv4_conv_small"  # small and quick on CPU: the TimmBackbone tests' model


@pytest.fixture(autouse=True)
def offline_hub(tmp_path, monkeypatch):
    """The Hugging Face hub offline (a lookup fails at once) and its cache an empty folder of this test's."""
    cache = tmp_path / "hf_hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)  # read by huggingface_hub at import
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    logger = MMLogger.get_current_instance()  # init_weights' per-parameter report
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield cache
    logger.setLevel(level)


def random_timm_mobilenetv1(seed: int = 0) -> nn.Module:
    """timm's mobilenetv1_100 with random weights and random BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    net = timm.create_model("mobilenetv1_100", pretrained=False)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def assert_holds(net: nn.Module, timm_sd: dict[str, torch.Tensor]) -> None:
    """Every parameter and buffer of ``net`` (ssdkit's MobileNetV1) equals timm's, through the key mapping."""
    ours, mapped = net.state_dict(), timm_mobilenetv1_to_ssdkit(timm_sd)
    assert set(ours) == set(mapped)
    assert all(torch.equal(ours[k], mapped[k]) for k in ours)


def test_key_mapping_gives_timms_features_at_conv11_and_conv13():
    """ssdkit's conv11 / conv13 with timm's weights == timm's ``features_only`` out_indices (3, 4), same input."""
    src = random_timm_mobilenetv1()
    ref = timm.create_model("mobilenetv1_100", pretrained=False, features_only=True, out_indices=(3, 4)).eval()
    ref.load_state_dict({k: v for k, v in src.state_dict().items() if not k.startswith("classifier.")})
    net = MobileNetV1(out_indices=(11, 13), activation="relu6").eval()
    mapped = timm_mobilenetv1_to_ssdkit(src.state_dict())
    assert set(mapped) == set(net.state_dict())  # every key lands, none is left over
    net.load_state_dict(mapped)
    x = torch.randn(2, 3, 300, 300, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs, ours = ref(x), net(x)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    depth, width = len(convs), max(m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1] for m in convs)
    for name, a, b in zip(("conv11", "conv13"), ours, theirs, strict=True):
        assert a.shape == b.shape
        assert (b > 0).float().mean() > 0.1  # the maps carry signal, not a dead ReLU
        tol = float32_tolerance(depth, width, b)
        diff = float((a - b).abs().max())
        print(
            f"{name} {tuple(a.shape)}: max |ssdkit - timm| = {diff:.3g} (tolerance {tol:.3g}, max |y| "
            f"{float(b.abs().max()):.3g})"
        )
        assert diff <= tol
    with torch.no_grad():  # the test can fail: ReLU instead of ReLU6 on the same weights is far off
        relu = MobileNetV1(activation="relu").eval()
        relu.load_state_dict(mapped)
        assert float((relu(x)[1] - theirs[1]).abs().max()) > 100 * tol


def test_pretrained_timm_reads_a_local_file_through_timms_loader(tmp_path):
    """``weights_file``: timm's own format (``model.safetensors`` as on the hub, or a torch.save-d state dict)."""
    src = random_timm_mobilenetv1(seed=2)
    safe, pth = tmp_path / "model.safetensors", tmp_path / "mobilenetv1.pth"
    safetensors_torch.save_file(src.state_dict(), str(safe))
    torch.save(src.state_dict(), pth)
    for file in (safe, pth):
        net = MobileNetV1(pretrained="timm", weights_file=str(file))
        net.init_weights()
        assert_holds(net, src.state_dict())
    with pytest.raises(FileNotFoundError, match=r"weights_file='.*missing.safetensors' does not exist"):
        MobileNetV1(pretrained="timm", weights_file=str(tmp_path / "missing.safetensors")).init_weights()
    with pytest.raises(ValueError, match=r"weights_file=.* is read only with pretrained='timm'"):
        MobileNetV1(weights_file=str(safe))


def test_pretrained_timm_reads_the_hub_cache_where_the_message_says(offline_hub):
    """A missing file: the error names the file, the cache folder and weights_file. Placed there, it loads offline."""
    with pytest.raises(
        RuntimeError,
        match=rf"Hugging Face hub cache, {offline_hub}/{HUB_REPO} .*"
        r"hf download timm/mobilenetv1_100.ra4_e3600_r224_in1k model.safetensors"
        r".*backbone.weights_file=PATH",
    ):
        MobileNetV1(pretrained="timm").init_weights()
    src = random_timm_mobilenetv1(seed=3)
    commit = "0" * 40  # the cache's layout: refs/main names a snapshot holding the file
    snapshot = offline_hub / HUB_REPO / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (offline_hub / HUB_REPO / "refs").mkdir()
    (offline_hub / HUB_REPO / "refs" / "main").write_text(commit)
    safetensors_torch.save_file(src.state_dict(), str(snapshot / "model.safetensors"))
    net = MobileNetV1(pretrained="timm")
    net.init_weights()
    assert_holds(net, src.state_dict())


def test_timm_weights_require_relu6_and_width_1():
    with pytest.raises(
        ValueError,
        match=r"pretrained='timm' \(timm hf-hub:timm/mobilenetv1_100.*\) were trained "
        r"with activation='relu6', not activation='relu'; set "
        r"backbone.activation='relu6', or backbone.pretrained=None",
    ):
        MobileNetV1(pretrained="timm", activation="relu")
    with pytest.raises(ValueError, match=r"width_mult=1.0, not width_mult=0.5"):
        MobileNetV1(pretrained="timm", width_mult=0.5)
    with pytest.raises(ValueError, match=r"pretrained='imagenet'; valid: None, 'timm'"):
        MobileNetV1(pretrained="imagenet")


def test_mobilenet_configs_take_timms_normalisation():
    """ssd300 / ssdlite300 MobileNet: the preprocessor is timm's pretrained_cfg (x / 255 - 0.5) / 0.5 on RGB; a
    config stating the Caffe release's BGR input is refused; with pretrained=None (the Caffe config) it is kept."""
    pcfg = timm.models.get_pretrained_cfg("mobilenetv1_100")
    for name in ("ssd300_mobilenet", "ssdlite300_mobilenet"):
        cfg = load_config(name)
        assert cfg.model.backbone.pretrained == "timm" and "mean" not in cfg.model.data_preprocessor
        pre = build_model(cfg).data_preprocessor
        torch.testing.assert_close(pre.mean.flatten(), torch.tensor(pcfg.mean) * 255)
        torch.testing.assert_close(pre.std.flatten(), torch.tensor(pcfg.std) * 255)
        x = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)  # RGB
        ours = pre(dict(inputs=[x.flip(0)], data_samples=None))["inputs"][0]  # BGR in, as OpenCV loads
        ref = (x.float() / 255 - torch.tensor(pcfg.mean).view(3, 1, 1)) / torch.tensor(pcfg.std).view(3, 1, 1)
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    caffe = dict(mean=[127.5, 127.5, 127.5], std=[1 / 0.007843] * 3, bgr_to_rgb=False)
    cfg = load_config("ssd300_mobilenet")
    cfg.model.data_preprocessor.update(caffe)
    with pytest.raises(ValueError, match=r"MobileNetV1\(pretrained='timm'\).*remove bgr_to_rgb"):
        build_model(cfg)
    cfg.model.backbone = dict(type="MobileNetV1", out_indices=(11, 13), activation="relu", pretrained=None)
    pre = build_model(cfg).data_preprocessor
    assert not pre._channel_conversion and pre.std.flatten()[0] == pytest.approx(1 / 0.007843)


def test_timm_backbone_is_timms_features_model():
    """Channels, strides and maps are timm's ``features_only`` model's; the normalisation its pretrained_cfg's."""
    net = TimmBackbone(V4, out_indices=(3, 4)).eval()
    ref = timm.create_model(V4, features_only=True, out_indices=(3, 4)).eval()
    ref.load_state_dict(net.model.state_dict())
    assert net.out_channels == ref.feature_info.channels() == [96, 960] and net.strides == [16, 32]
    x = torch.randn(1, 3, 300, 300)
    with torch.no_grad():
        ours, theirs = net(x), ref(x)
    assert [o.shape[-1] for o in ours] == [19, 10]
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    with pytest.raises(
        ValueError,
        match=r"out_indices=\(3, 5\); timm's feature levels 0 .. 4 have strides "
        r"\[2, 4, 8, 16, 32\]",
    ):
        TimmBackbone(V4, out_indices=(3, 5))
    assert TimmBackbone.weights_for(dict(model_name=V4)) is None
    weights = TimmBackbone.weights_for(dict(model_name=V4, pretrained=True))
    pcfg = timm.models.get_pretrained_cfg(V4)
    assert (
        weights is not None
        and weights.norm.rgb
        and weights.norm.mean_255 == pytest.approx([v * 255 for v in pcfg.mean])
        and weights.norm.std_255 == pytest.approx([v * 255 for v in pcfg.std])
    )
    tagged = TimmBackbone.weights_for(dict(model_name="efficientnet_b0.ra_in1k", pretrained=True))
    assert tagged is not None and "timm/efficientnet_b0.ra_in1k" in tagged.origin


def test_timm_backbone_weights_from_a_file_and_the_missing_hub_message(tmp_path, offline_hub):
    torch.manual_seed(4)
    src = timm.create_model(V4)  # the whole classifier, as the hub's file: the features model takes its part
    safetensors_torch.save_file(src.state_dict(), str(tmp_path / "model.safetensors"))
    net = TimmBackbone(V4, pretrained=True, weights_file=str(tmp_path / "model.safetensors"))
    net.init_weights()
    ref = src.state_dict()
    assert all(torch.equal(v, ref[k.removeprefix("model.")]) for k, v in net.state_dict().items())
    with pytest.raises(RuntimeError, match=rf"{offline_hub}/models--timm--{V4}.e2400_r224_in1k .*weights_file"):
        TimmBackbone(V4, pretrained=True).init_weights()
    with pytest.raises(ValueError, match=r"weights_file=.* is read only with pretrained=True"):
        TimmBackbone(V4, weights_file=str(tmp_path / "model.safetensors"))


def test_timm_backbone_frozen_stages_and_norm_eval():
    """frozen_stages=2 freezes what computes timm's first two feature levels (stem, blocks.0); BN there stays in
    eval mode; norm_eval keeps every BN in eval mode."""
    net = TimmBackbone(V4, frozen_stages=2).train()
    frozen = {n for n, p in net.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith(("model.conv_stem.", "model.bn1.", "model.blocks.0.")) for n in frozen)
    assert {n for n, _ in net.named_parameters() if n.startswith("model.blocks.0.")} <= frozen
    bns = {n: m for n, m in net.named_modules() if isinstance(m, nn.BatchNorm2d)}
    assert not bns["model.bn1"].training and not bns["model.blocks.0.0.bn1"].training
    assert bns["model.blocks.1.0.bn1"].training and net.model.training
    assert not any(
        m.training for m in TimmBackbone(V4, norm_eval=True).train().modules() if isinstance(m, nn.BatchNorm2d)
    )
    with pytest.raises(ValueError, match=r"frozen_stages=6, but timm lists 5 feature levels"):
        TimmBackbone(V4, frozen_stages=6)


def test_timm_example_config_builds_and_trains_a_step():
    """configs/examples/ssd_timm_*: SSDLite on MobileNetV4 (pretrained=False here: nothing to download); the
    priors match the head's outputs; one optimizer step changes the backbone's weights."""
    cfg = load_config("examples/ssd_timm_mobilenetv4_conv_small_voc")
    assert cfg.model.backbone.type == "TimmBackbone" and cfg.model.backbone.pretrained is True
    pre = build_model(cfg).data_preprocessor  # the weights' normalisation, from timm (no download to build)
    torch.testing.assert_close(pre.mean.flatten(), torch.tensor(timm.models.get_pretrained_cfg(V4).mean) * 255)
    cfg.model.backbone.pretrained = False
    model = build_model(cfg)
    model.init_weights()
    inputs = [torch.randint(0, 256, (3, 300, 300), dtype=torch.uint8) for _ in range(2)]
    samples = [sample([[20, 30, 140, 200]], [4]), sample([[100, 100, 280, 290], [5, 5, 60, 60]], [1, 19])]
    model.eval()
    with torch.no_grad():
        x = torch.randn(1, 3, 300, 300)
        feats = model.extract_feats(x)
        cls, box = model(x, mode="tensor")
    assert [f.shape[-1] for f in feats] == [19, 10, 5, 3, 2, 1]
    priors = model.priors_for(feats, x)
    assert cls.shape == (1, priors.shape[0], 21) and box.shape == (1, priors.shape[0], 4)
    assert priors.shape[0] == 19**2 * 4 + (10**2 + 5**2 + 3**2) * 6 + (2**2 + 1) * 4
    model.train()
    stem = model.backbone.model.conv_stem.weight
    before = stem.detach().clone()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    losses = model.train_step(dict(inputs=inputs, data_samples=samples), optim)
    assert set(losses) == {"loss_cls", "loss_box", "loss"} and all(torch.isfinite(v) for v in losses.values())
    assert not torch.equal(stem.detach(), before)


@pytest.mark.slow
def test_ssdkit_imports_and_builds_without_timm():
    """timm blocked: ssdkit and its non-timm configs build; a config or backbone that needs timm names the extra."""
    code = f"""
import sys
sys.modules['timm'] = None  # as if not installed: `import timm` raises ImportError
sys.path.insert(0, {str(ROOT / 'tests')!r})
import ssdkit, ssdkit.models
from model_utils import build_model, load_config
for name in ('ssd300_vgg16_voc0712', 'demo/ssdlite224_mobilenet_demo'):
    build_model(load_config(name))
for make in (lambda: build_model(load_config('ssd300_mobilenet')),
             lambda: ssdkit.models.backbones.TimmBackbone('resnet18')):
    try:
        make()
    except ImportError as err:
        print('ImportError:', err)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("ImportError")]
    assert len(lines) == 2 and all("pip install 'ssdkit[timm]'" in ln for ln in lines), proc.stdout
    assert "MobileNetV1(pretrained='timm') needs timm" in lines[0] and "TimmBackbone('resnet18')" in lines[1]

"""Every config builds; maps, prior counts and head outputs agree; loss and predict run; wiring errors."""

from __future__ import annotations

import re

import pytest
import torch
from torch import Tensor

from ssdkit.apis.model_info import count_flops, weight_source

from float_tolerance import conv_depth_and_width, float32_tolerance
from model_utils import CONFIGS, ROOT, build_model, input_size, load_config, sample

EXPECTED = {  # prediction-map sizes and prior counts (the paper: 8732 at 300, 24564 at 512)
    "ssd300_vgg16_voc0712": ([38, 19, 10, 5, 3, 1], 8732),
    "ssd512_vgg16_voc0712": ([64, 32, 16, 8, 4, 2, 1], 24564),
    # MobileNet-SSD as released: 19^2 x 3 + (10^2 + 5^2 + 3^2 + 2^2 + 1) x 6 (conv11 has no extra square box)
    "ssd300_mobilenet": ([19, 10, 5, 3, 2, 1], 1917),
    "ssd300_mobilenet_caffe": ([19, 10, 5, 3, 2, 1], 1917),
    "ssdlite300_mobilenet": ([19, 10, 5, 3, 2, 1], 19**2 * 4 + (10**2 + 5**2 + 3**2) * 6 + (2**2 + 1) * 4),
    "ffssd300_concat_vgg16_voc0712": ([38, 19, 10, 5, 3, 1], 8732),
    "ffssd300_sum_vgg16_voc0712": ([38, 19, 10, 5, 3, 1], 8732),
    "ssd300_vgg16_coco": ([38, 19, 10, 5, 3, 1], 8732),
    "ssd512_vgg16_coco": ([64, 32, 16, 8, 4, 2, 1], 24564),
    # torchvision's SSDLite320: (20^2 + 10^2 + 5^2 + 3^2 + 2^2 + 1) x 6 = 3234
    "ssdlite320_mobilenetv3_coco": ([20, 10, 5, 3, 2, 1], 3234),
    "ssdlite320_mobilenetv3_voc0712": ([20, 10, 5, 3, 2, 1], 3234),
}


def readme_config_rows() -> dict[str, tuple[int, float, float]]:
    """configs/README.md's model table: ``{config name: (priors, params M, GFLOPs)}``."""
    return {name: row[:3] for name, row in readme_config_table().items()}


def readme_config_table() -> dict[str, tuple[int, float, float, str]]:
    """configs/README.md's model table: ``{config name: (priors, params M, GFLOPs, starts from)}``."""
    rows = {}
    for line in (ROOT / "configs/README.md").read_text().splitlines():
        m = re.match(r"\| `configs/(\S+)\.py` \|[^|]*\| \d+ \| (\d+) \| ([\d.]+) M \| ([\d.]+) \| ([^|]+) \|$", line)
        if m:
            rows[m[1]] = (int(m[2]), float(m[3]), float(m[4]), m[5])
    return rows


def test_readme_lists_every_config():
    assert set(readme_config_rows()) == set(CONFIGS)


@pytest.mark.slow
def test_model_info_tool_prints_what_configs_readme_says():
    """``python tools/model_info.py`` (every config, about 50 s) and configs/README.md's table: the same priors,
    parameters and GFLOPs (the table rounds to 0.1) and the same weights."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "tools/model_info.py"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=True
    ).stdout
    table = readme_config_table()
    printed = {}
    for line in out.splitlines()[1:]:
        name, _, _, priors, _, params, gflops, *weights = line.split(None, 7)
        printed[name] = (int(priors), round(float(params), 1), round(float(gflops), 1), weights[0])
    assert set(printed) == set(table)
    for name, (priors, params, gflops, weights) in printed.items():
        assert (priors, params, gflops) == table[name][:3], name
        assert table[name][3].startswith(weights), name


@pytest.mark.parametrize("name", CONFIGS)
def test_readme_names_each_configs_weights(name):
    """configs/README.md's "starts from" is what the config's backbone loads (``tools/model_info.py``'s weights)."""
    source = weight_source(load_config(name).model.backbone)
    assert readme_config_table()[name][3].startswith(source)


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_config_builds_and_agrees(name):
    cfg = load_config(name)
    model = build_model(cfg).eval()
    size = input_size(cfg)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        feats = model.extract_feats(x)
        cls, box = model(x, mode="tensor")
    sizes, count = EXPECTED[name]
    assert [f.shape[-1] for f in feats] == sizes
    assert [f.shape[1] for f in feats] == model.neck.out_channels == model.head.in_channels
    priors = model.priors_for(feats, x)
    assert cls.shape == (1, priors.shape[0], cfg.model.num_classes + 1) and box.shape == (1, priors.shape[0], 4)
    if count is not None:
        assert priors.shape[0] == count
    params = sum(p.numel() for p in model.parameters())
    flops = count_flops(model, x)
    print(
        f"{name}: input {size}, maps {sizes}, {priors.shape[0]} priors, {params / 1e6:.2f} M params, "
        f"{flops / 1e9:.2f} GFLOPs"
    )
    assert (priors.shape[0], round(params / 1e6, 1), round(flops / 1e9, 1)) == readme_config_rows()[name], (
        "configs/README.md's model table is stale (python tools/model_info.py prints it)"
    )


@pytest.mark.parametrize("name", ["ssd300_mobilenet", "ssdlite300_mobilenet", "ssdlite320_mobilenetv3_coco"])
def test_loss_and_predict_on_mobilenet(name):
    cfg = load_config(name)
    cfg.model.backbone.pop("pretrained", None)  # no ImageNet download in tests
    model = build_model(cfg)
    size = input_size(cfg)
    x = torch.randn(2, 3, size, size)
    samples = [sample([[10, 20, 110, 220], [150, 150, 290, 280]], [3, 7], size), sample([[50, 50, 90, 120]], [0], size)]
    losses = model(x, samples, mode="loss")
    assert set(losses) == {"loss_cls", "loss_box"} and all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert next(model.head.cls_convs[0].parameters()).grad.abs().sum() > 0
    assert next(model.backbone.parameters()).grad.abs().sum() > 0
    model.eval()
    model.postprocessor.score_thr = 0.0  # random weights: keep every candidate, so the list is full
    with torch.no_grad():
        out = model(x, [sample([], [], size, ori=(600, 450)), sample([], [], size)], mode="predict")
    det = out[0].pred_instances
    full = model.postprocessor.max_per_img
    assert det.bboxes.shape == (full, 4) and det.scores.shape == (full,)
    assert float(det.bboxes[:, 0::2].max()) <= 450 and float(det.bboxes[:, 1::2].max()) <= 600
    assert float(det.bboxes.min()) >= 0 and (det.bboxes[:, 2:] >= det.bboxes[:, :2]).all()
    with torch.no_grad():
        cls_logits, box_deltas = model(x, mode="tensor")
        priors = model.priors_for(model.extract_feats(x), x, torch.float32)
    assert_detections_come_from_the_head(det, cls_logits[0], box_deltas[0], priors, size, ori=(600, 450))
    model.train()
    assert_the_loss_pulls_matched_priors_to_their_boxes(model, x, samples)


def hand_decode(deltas: Tensor, priors: Tensor) -> Tensor:
    """SSD's decoding written out (variances 0.1, 0.2): ``deltas [P, 4]``, ``priors [P, 4]`` xyxy -> xyxy."""
    wh = priors[:, 2:] - priors[:, :2]
    centre = (priors[:, :2] + priors[:, 2:]) / 2 + deltas[:, :2] * 0.1 * wh
    half = wh * torch.exp(deltas[:, 2:] * 0.2) / 2
    return torch.cat([centre - half, centre + half], dim=1)


def assert_detections_come_from_the_head(det, cls_logits: Tensor, box_deltas: Tensor, priors: Tensor, size, ori):
    """Every detection is some prior's softmax score for class ``label + 1`` (column 0 is background) with that
    prior's decoded box, clipped to the input and scaled to the original image (``ori`` (H, W))."""
    probs = cls_logits.float().softmax(-1)  # [P, C+1]
    boxes = hand_decode(box_deltas.float(), priors).clamp(0, size) * torch.tensor([ori[1], ori[0]] * 2) / size
    for box, score, label in zip(det.bboxes, det.scores, det.labels, strict=True):
        same = (probs[:, int(label) + 1] - score).abs() < 1e-6
        assert same.any(), f"score {float(score)} of class {int(label)} is no prior's"
        assert (boxes[same] - box).abs().amax(dim=1).min() < 1e-2, f"box {box.tolist()} is not its prior's"


def hand_encode(gt: Tensor, priors: Tensor) -> Tensor:
    """SSD's encoding written out (variances 0.1, 0.2): ``gt [P, 4]``, ``priors [P, 4]`` xyxy -> deltas."""
    pwh, gwh = priors[:, 2:] - priors[:, :2], gt[:, 2:] - gt[:, :2]
    offset = ((gt[:, :2] + gt[:, 2:]) - (priors[:, :2] + priors[:, 2:])) / 2 / pwh / 0.1
    return torch.cat([offset, torch.log(gwh / pwh) / 0.2], dim=1)


def assert_the_loss_pulls_matched_priors_to_their_boxes(model, x: Tensor, samples: list) -> None:
    """The loss's gradient at the head's outputs, against the paper's matching done here with torchvision's IoU:
    box gradients exactly at the priors matched to a ground-truth box (IoU >= 0.5, or the box's best prior), each
    pointing its deltas towards that box's encoding, and each such prior's class score for ``label + 1`` pushed up."""
    from torchvision.ops import box_iou

    assert type(model.matcher).__name__ == "SSDMatcher" and model.matcher.iou_threshold == 0.5
    outputs = []
    handle = model.head.register_forward_hook(lambda m, i, out: outputs.extend(t.retain_grad() or t for t in out))
    try:
        sum(model(x, samples, mode="loss").values()).backward()
    finally:
        handle.remove()
    cls_logits, box_deltas = outputs
    with torch.no_grad():
        priors = model.priors_for(model.extract_feats(x), x, torch.float32)
    for i, s in enumerate(samples):
        gt = s.gt_instances
        iou = box_iou(gt.bboxes, priors)  # [G, P]
        best_iou, match = iou.max(0)
        positive = best_iou >= 0.5
        positive[iou.argmax(1)] = True
        match[iou.argmax(1)] = torch.arange(len(gt.bboxes))
        moved = box_deltas.grad[i].abs().sum(1) > 0
        assert torch.equal(moved, positive), (int(moved.sum()), int(positive.sum()))
        away = box_deltas[i, positive].detach() - hand_encode(gt.bboxes[match[positive]], priors[positive])
        clear = away.abs() > 1e-3
        assert torch.equal(box_deltas.grad[i, positive].sign()[clear], away.sign()[clear])
        label_grad = cls_logits.grad[i, positive].gather(1, (gt.labels[match[positive]] + 1)[:, None])
        assert (label_grad < 0).all()


def test_level_mismatch_names_the_keys():
    cfg = load_config("ssd300_vgg16_voc0712")
    cfg.model.prior_generator.aspect_ratios = [[2], [2, 3], [2, 3], [2, 3], [2]]
    cfg.model.prior_generator.pop("scales")
    cfg.model.prior_generator.pop("steps")
    with pytest.raises(ValueError, match=r"model\.neck gives 6 .*model\.prior_generator has 5 levels"):
        build_model(cfg)


def test_contradicting_channel_key_is_rejected():
    cfg = load_config("ssd300_vgg16_voc0712")
    cfg.model.head.in_channels = [512, 512, 512, 256, 256, 256]
    with pytest.raises(ValueError, match=r"model\.head\.in_channels"):
        build_model(cfg)


def test_bad_ground_truth_names_the_batch_images():
    model = build_model("ssd300_mobilenet")
    with pytest.raises(ValueError, match=r"image 0.*out of range.*image ids"):
        model(torch.randn(1, 3, 300, 300), [sample([[10, 10, 50, 50]], [25])], mode="loss")


def test_ignore_flagged_objects_are_not_trained_on():
    model = build_model("ssd300_mobilenet")
    x = torch.randn(2, 3, 300, 300)
    plain = [sample([[10, 20, 110, 220]], [3]), sample([[50, 50, 90, 120]], [0])]
    crowd = [sample([[10, 20, 110, 220], [150, 150, 290, 280]], [3, 7]), sample([[50, 50, 90, 120]], [0])]
    crowd[0].gt_instances.ignore_flags = torch.tensor([False, True])
    for s in plain:
        s.gt_instances.ignore_flags = torch.zeros(1, dtype=torch.bool)
    torch.manual_seed(0)
    with torch.no_grad():
        a, b = model(x, plain, mode="loss"), model(x, crowd, mode="loss")
    torch.testing.assert_close(a["loss_cls"], b["loss_cls"])
    torch.testing.assert_close(a["loss_box"], b["loss_box"])


def test_channels_last_auto_follows_the_cpu_and_the_network(monkeypatch):
    """'auto': NHWC on AVX-512 CPUs; on AVX2-only CPUs NHWC for depthwise (MobileNet), NCHW for dense (VGG), which
    predicts in NHWC unless it runs Winograd convs (NNPACK takes NCHW)."""
    import ssdkit.models.machine_policy as ssd_module

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    got = {}
    for cap in ("AVX512", "AVX2"):
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda cap=cap: cap)
        for name in ("ssd300_mobilenet", "ssd300_vgg16_voc0712"):
            model = build_model(name)
            got[cap, name] = model.channels_last
            conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
            nhwc = conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
            assert nhwc == model.channels_last, (cap, name)
    assert got == {
        ("AVX512", "ssd300_mobilenet"): True,
        ("AVX512", "ssd300_vgg16_voc0712"): True,
        ("AVX2", "ssd300_mobilenet"): True,
        ("AVX2", "ssd300_vgg16_voc0712"): False,
    }
    # still AVX2: with Winograd convs ('auto' there) a dense network stays NCHW; without, it predicts in NHWC and
    # trains in NCHW, with the same Parameter objects
    from ssdkit.models.winograd import winograd_available

    assert build_model("ssd300_vgg16_voc0712").eval().channels_last is not winograd_available()
    vgg = build_model("ssd300_vgg16_voc0712", winograd=False)
    params = list(vgg.parameters())
    x = torch.rand(1, 3, 300, 300)
    with torch.no_grad():
        train_out = vgg(x, mode="tensor")
        assert vgg.eval().channels_last and params[0].is_contiguous(memory_format=torch.channels_last)
        eval_out = vgg(x, mode="tensor")
    assert not vgg.train().channels_last and params[0].is_contiguous()
    assert all(a is b for a, b in zip(params, vgg.parameters(), strict=True))
    depth, width = conv_depth_and_width([vgg.backbone, vgg.neck], vgg.head)
    for a, b in zip(train_out, eval_out, strict=True):  # no batch norm in VGG: the mode changes only the layout
        assert (a - b).abs().max() <= float32_tolerance(depth, width, b)
    assert build_model("ssd300_vgg16_voc0712", channels_last=True).channels_last is True
    with pytest.raises(ValueError, match="model.channels_last='yes'.*True, False and 'auto'"):
        build_model("ssd300_mobilenet", channels_last="yes")
    assert ssd_module.prefer_channels_last(torch.nn.Conv2d(3, 3, 3, groups=3))


@pytest.mark.parametrize(
    "name, size, min_sizes, max_sizes",
    [
        ("ssd300_vgg16_voc0712", 300, [30, 60, 111, 162, 213, 264], [60, 111, 162, 213, 264, 315]),  # ssd_pascal.py
        (
            "ssd512_vgg16_voc0712",
            512,
            [35.84, 76.8, 153.6, 230.4, 307.2, 384.0, 460.8],
            [76.8, 153.6, 230.4, 307.2, 384.0, 460.8, 537.6],
        ),
        (
            "ssd512_vgg16_coco",
            512,
            [20.48, 51.2, 133.12, 215.04, 296.96, 378.88, 460.8],
            [51.2, 133.12, 215.04, 296.96, 378.88, 460.8, 542.72],
        ),
    ],
)
def test_config_scales_give_the_released_prior_sizes(name, size, min_sizes, max_sizes):
    from ssdkit.core import SSDPriorGenerator

    gen = build_model(name).prior_generator
    maps = (
        [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
        if size == 300
        else [(64, 64), (32, 32), (16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    )
    released = SSDPriorGenerator(
        aspect_ratios=gen.aspect_ratios, min_sizes=min_sizes, max_sizes=max_sizes, steps=gen.steps
    )
    torch.testing.assert_close(gen(maps, (size, size)), released(maps, (size, size)), atol=1e-3, rtol=0)

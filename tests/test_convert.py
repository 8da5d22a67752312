"""torchvision weights converted: same head outputs and detections as torchvision on the same input."""

from __future__ import annotations

import subprocess
import sys
from typing import NamedTuple

import pytest
import torch
from torchvision.models import vgg16
from torchvision.models.detection import ssd300_vgg16, ssdlite320_mobilenet_v3_large

from ssdkit.convert import COCO_CATEGORY_IDS, vgg16_to_atrous
from ssdkit.models.backbones import VGG16Atrous

from float_tolerance import assert_same_detections, conv_depth_and_width, float32_tolerance
from model_utils import ROOT, build_model, sample


class Case(NamedTuple):
    config: str  # the ssdkit config its converted weights load into
    size: int  # input side
    depth_width: tuple[int, int]  # conv_depth_and_width of the converted model
    voc_config: str  # the same architecture with 20 classes
    input_scale: float  # network inputs as its training normalisation gives them: ~N(0, 50) or [-1, 1]
    classifier_gain: float  # scores distinct: VGG's random init saturates the softmax (ties at 1.0)


MODELS = {
    # 15 VGG + 8 extra convs + one head conv in sequence; widest reduction a 3x3 over conv7's 1024 channels
    "ssd300_vgg16": Case("ssd300_vgg16_coco", 300, (24, 9216), "ssd300_vgg16_voc0712", 50.0, 0.1),
    # 62 backbone convs (SE fcs included), 12 extra convs, one head conv; widest: a 1x1 over the C4 expansion's 672
    "ssdlite320_mobilenet_v3_large": Case(
        "ssdlite320_mobilenetv3_coco", 320, (75, 672), "ssdlite320_mobilenetv3_voc0712", 1.0, 1.0
    ),
}


def _build_torchvision(name: str) -> torch.nn.Module:
    if name == "ssd300_vgg16":
        return ssd300_vgg16(weights=None, weights_backbone=None)
    model = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)
    # trained-like BN: random affine parameters, statistics measured on images (random statistics would let the
    # features collapse to the same value everywhere), so a BN mapped to the wrong layer shows
    gen = torch.Generator().manual_seed(1)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
        m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
        m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(2):
            x = (torch.rand(4, 3, 320, 320, generator=gen) - 0.5) / 0.5
            model.backbone(x)
            model.head(list(model.backbone(x).values()))
    return model


@pytest.fixture(scope="module", params=list(MODELS))
def tv_model(request):
    torch.manual_seed(0)
    model = _build_torchvision(request.param).eval()
    # scale the classifier so scores are distinct, and silence the 11 unused category ids (N/A) as a trained COCO
    # classifier does
    unused = [i for i in range(91) if i != 0 and i not in COCO_CATEGORY_IDS]
    with torch.no_grad():
        for block in model.head.classification_head.module_list:
            conv = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)][-1]
            conv.weight.mul_(MODELS[request.param].classifier_gain)
            conv.bias.view(-1, 91)[:, unused] = -1e4
    model.ssdkit_name = request.param
    return model


@pytest.fixture(scope="module")
def converted(tv_model, tmp_path_factory):
    """``tools/convert_torchvision.py`` run once per model; the ssdkit model with the checkpoint loaded (strict),
    and the checkpoint's path as ``model.checkpoint_path``."""
    tmp_path = tmp_path_factory.mktemp(tv_model.ssdkit_name)
    src, dst = tmp_path / "tv.pth", tmp_path / "ssdkit.pth"
    torch.save(tv_model.state_dict(), src)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "convert_torchvision.py"), tv_model.ssdkit_name, str(src), str(dst)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    ckpt = torch.load(dst, weights_only=True)
    model = build_model(MODELS[tv_model.ssdkit_name].config).eval()
    model.load_state_dict(ckpt["state_dict"], strict=True)
    assert ckpt["meta"]["classes"][0] == "person" and len(ckpt["meta"]["classes"]) == 80
    model.checkpoint_path = str(dst)
    return model


@pytest.mark.slow
def test_tensor_outputs_equal_torchvision(tv_model, converted):
    model = converted
    case = MODELS[tv_model.ssdkit_name]
    x = torch.randn(2, 3, case.size, case.size) * case.input_scale
    with torch.no_grad():
        cls, box = model(x, mode="tensor")
        feats = list(tv_model.backbone(x).values())
        ref = tv_model.head(feats)
    columns = [0] + COCO_CATEGORY_IDS
    depth, width = conv_depth_and_width([model.backbone, model.neck], model.head)
    assert (depth, width) == case.depth_width
    ref_box, ref_cls = ref["bbox_regression"], ref["cls_logits"][..., columns]
    assert (box - ref_box).abs().max() <= float32_tolerance(depth, width, ref_box)
    assert (cls - ref_cls).abs().max() <= float32_tolerance(depth, width, ref_cls)


def test_predict_equals_torchvision_detections(tv_model, converted):
    model = converted
    size = MODELS[tv_model.ssdkit_name].size
    gen = torch.Generator().manual_seed(3)
    images = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=gen) for _ in range(2)]
    with torch.no_grad():
        ref = tv_model([im.float() / 255 for im in images])
        bgr = [im.flip(0) for im in images]  # ssdkit's pipeline loads BGR (OpenCV); the preprocessor makes RGB
        samples = [sample([], [], size), sample([], [], size)]
        data = model.data_preprocessor(dict(inputs=bgr, data_samples=samples), False)
        ours = model(**data, mode="predict")
    # scores are softmax (Lipschitz 1 in the logits) and at most 1; boxes are clipped to the input:
    # each within the float32 tolerance of the network's outputs scaled to its range
    depth, width = conv_depth_and_width([model.backbone, model.neck], model.head)
    score_tol = float32_tolerance(depth, width, torch.ones(1))
    box_tol = float32_tolerance(depth, width, torch.full((1,), float(size)))
    for o, r in zip(ours, ref, strict=True):
        det = o.pred_instances
        assert det.bboxes.shape[0] == r["boxes"].shape[0] > 10
        mine = dict(boxes=det.bboxes, scores=det.scores, labels=torch.tensor(COCO_CATEGORY_IDS)[det.labels])
        assert_same_detections(mine, r, score_tol, box_tol, max_per_img=tv_model.detections_per_img)


def test_matched_sets_still_fail_on_a_real_difference():
    boxes = torch.tensor([[10.0, 10.0, 50.0, 50.0], [20.0, 20.0, 80.0, 90.0], [0.0, 0.0, 5.0, 5.0]])
    ref = dict(boxes=boxes, scores=torch.tensor([0.9, 0.5, 0.3]), labels=torch.tensor([1, 2, 3]))
    swapped = dict(boxes=boxes[[1, 0, 2]], scores=torch.tensor([0.5, 0.9, 0.3]), labels=torch.tensor([2, 1, 3]))
    assert_same_detections(swapped, ref, 1e-4, 1e-2)  # order is free
    for key, value in (
        ("labels", torch.tensor([1, 2, 4])),
        ("scores", torch.tensor([0.9, 0.5, 0.31])),
        ("boxes", boxes + torch.tensor([0.0, 0.0, 0.0, 0.1])),
    ):
        with pytest.raises(AssertionError, match="no partner"):
            assert_same_detections(dict(ref, **{key: value}), ref, 1e-4, 1e-2)
    with pytest.raises(AssertionError, match="no partner"):  # a lost detection above the cut-off
        assert_same_detections({k: v[[0, 2]] for k, v in ref.items()}, ref, 1e-4, 1e-2, max_per_img=3)
    near_tie = dict(ref, scores=torch.tensor([0.9, 0.5, 0.30005]), labels=torch.tensor([1, 2, 3]))
    other = dict(boxes=boxes[[0, 1]].clone(), scores=torch.tensor([0.9, 0.5]), labels=torch.tensor([1, 2]))
    other = {
        k: torch.cat([v, w])
        for (k, v), w in zip(
            other.items(), (torch.tensor([[1.0, 1, 6, 6]]), torch.tensor([0.30004]), torch.tensor([4])), strict=True
        )
    }
    assert_same_detections(other, near_tie, 1e-4, 1e-2, max_per_img=3)  # the last place taken by a near tie


def test_vgg16_imagenet_conversion():
    tv = vgg16()
    sd = tv.state_dict()
    out = vgg16_to_atrous(sd)
    torch.testing.assert_close(out["conv6.weight"], sd["classifier.0.weight"].view(4096, 512, 7, 7)[::4, :, ::3, ::3])
    torch.testing.assert_close(out["conv7.weight"], sd["classifier.3.weight"].view(4096, 4096, 1, 1)[::4, ::4])
    torch.testing.assert_close(out["layers.28.weight"], sd["features.28.weight"])
    backbone = VGG16Atrous()
    result = backbone.load_state_dict(out, strict=False)
    assert result.missing_keys == ["l2_norm.weight"] and not result.unexpected_keys
    with pytest.raises(KeyError, match="classifier.0.weight"):
        vgg16_to_atrous({k: v for k, v in sd.items() if not k.startswith("classifier")})


def test_checkpoint_with_other_class_count_is_refused(tv_model, converted):
    model = converted
    voc = build_model(MODELS[tv_model.ssdkit_name].voc_config)
    with pytest.raises(ValueError, match=r"head.cls_convs.0.(3.)?weight' holds 80 classes.*model.num_classes=20"):
        voc.load_state_dict(model.state_dict())


def test_init_cfg_loads_a_local_checkpoint(tv_model, converted):
    model = converted
    fresh = build_model(
        MODELS[tv_model.ssdkit_name].config, init_cfg=dict(type="Pretrained", checkpoint=model.checkpoint_path)
    )
    fresh.backbone.weights = None  # no ImageNet download here; the checkpoint covers the backbone
    fresh.init_weights()
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)

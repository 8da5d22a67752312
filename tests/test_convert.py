"""torchvision weights converted: same head outputs and detections as torchvision on the same input."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torchvision.models import vgg16
from torchvision.models.detection import ssd300_vgg16

from ssdkit.apis.convert import COCO_CATEGORY_IDS
from ssdkit.models.backbones import VGG16Atrous, vgg16_to_atrous

from float_tolerance import assert_same_detections, conv_depth_and_width, float32_tolerance
from model_utils import ROOT, build_model, sample


@pytest.fixture(scope="module")
def tv_model():
    torch.manual_seed(0)
    model = ssd300_vgg16(weights=None, weights_backbone=None).eval()
    # random init saturates the softmax (ties at 1.0): damp the classifier so scores are distinct,
    # and silence the 11 unused category ids (N/A) as a trained COCO classifier does
    unused = [i for i in range(91) if i != 0 and i not in COCO_CATEGORY_IDS]
    with torch.no_grad():
        for conv in model.head.classification_head.module_list:
            conv.weight.mul_(0.1)
            conv.bias.view(-1, 91)[:, unused] = -1e4
    return model


def converted(tv_model, tmp_path):
    src, dst = tmp_path / "tv.pth", tmp_path / "ssdkit.pth"
    torch.save(tv_model.state_dict(), src)
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "convert_torchvision.py"), "ssd300_vgg16", str(src),
                           str(dst)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    ckpt = torch.load(dst, weights_only=True)
    model = build_model("ssd300_vgg16_coco").eval()
    model.load_state_dict(ckpt["state_dict"], strict=True)
    assert ckpt["meta"]["classes"][0] == "person" and len(ckpt["meta"]["classes"]) == 80
    return model


def test_tensor_outputs_equal_torchvision(tv_model, tmp_path):
    model = converted(tv_model, tmp_path)
    x = torch.randn(2, 3, 300, 300) * 50
    with torch.no_grad():
        cls, box = model(x, mode="tensor")
        feats = list(tv_model.backbone(x).values())
        ref = tv_model.head(feats)
    columns = [0] + COCO_CATEGORY_IDS
    depth, width = conv_depth_and_width([model.backbone, model.neck], model.head)
    assert (depth, width) == (24, 9216)  # 15 VGG + 8 extra convs, one head conv; 3x3 over conv7's 1024 channels
    ref_box, ref_cls = ref["bbox_regression"], ref["cls_logits"][..., columns]
    assert (box - ref_box).abs().max() <= float32_tolerance(depth, width, ref_box)
    assert (cls - ref_cls).abs().max() <= float32_tolerance(depth, width, ref_cls)


def test_predict_equals_torchvision_detections(tv_model, tmp_path):
    model = converted(tv_model, tmp_path)
    gen = torch.Generator().manual_seed(3)
    images = [torch.randint(0, 256, (3, 300, 300), dtype=torch.uint8, generator=gen) for _ in range(2)]
    with torch.no_grad():
        ref = tv_model([im.float() / 255 for im in images])
        bgr = [im.flip(0) for im in images]  # ssdkit's pipeline loads BGR (OpenCV); the preprocessor makes RGB
        data = model.data_preprocessor(dict(inputs=bgr, data_samples=[sample([], []), sample([], [])]), False)
        ours = model(**data, mode="predict")
    # scores are softmax (Lipschitz 1 in the logits) and at most 1; boxes are clipped to the 300 px input:
    # each within the float32 tolerance of the network's outputs scaled to its range
    depth, width = conv_depth_and_width([model.backbone, model.neck], model.head)
    score_tol = float32_tolerance(depth, width, torch.ones(1))
    box_tol = float32_tolerance(depth, width, torch.full((1,), 300.0))
    for o, r in zip(ours, ref):
        det = o.pred_instances
        assert det.bboxes.shape[0] == r["boxes"].shape[0] > 10
        mine = dict(boxes=det.bboxes, scores=det.scores, labels=torch.tensor(COCO_CATEGORY_IDS)[det.labels])
        assert_same_detections(mine, r, score_tol, box_tol, max_per_img=tv_model.detections_per_img)


def test_matched_sets_still_fail_on_a_real_difference():
    boxes = torch.tensor([[10.0, 10.0, 50.0, 50.0], [20.0, 20.0, 80.0, 90.0], [0.0, 0.0, 5.0, 5.0]])
    ref = dict(boxes=boxes, scores=torch.tensor([0.9, 0.5, 0.3]), labels=torch.tensor([1, 2, 3]))
    swapped = dict(boxes=boxes[[1, 0, 2]], scores=torch.tensor([0.5, 0.9, 0.3]), labels=torch.tensor([2, 1, 3]))
    assert_same_detections(swapped, ref, 1e-4, 1e-2)  # order is free
    for key, value in (("labels", torch.tensor([1, 2, 4])), ("scores", torch.tensor([0.9, 0.5, 0.31])),
                       ("boxes", boxes + torch.tensor([0.0, 0.0, 0.0, 0.1]))):
        with pytest.raises(AssertionError, match="no partner"):
            assert_same_detections(dict(ref, **{key: value}), ref, 1e-4, 1e-2)
    with pytest.raises(AssertionError, match="no partner"):  # a lost detection above the cut-off
        assert_same_detections({k: v[[0, 2]] for k, v in ref.items()}, ref, 1e-4, 1e-2, max_per_img=3)
    near_tie = dict(ref, scores=torch.tensor([0.9, 0.5, 0.30005]), labels=torch.tensor([1, 2, 3]))
    other = dict(boxes=boxes[[0, 1]].clone(), scores=torch.tensor([0.9, 0.5]), labels=torch.tensor([1, 2]))
    other = {k: torch.cat([v, w]) for (k, v), w in zip(other.items(), (torch.tensor([[1.0, 1, 6, 6]]),
                                                                        torch.tensor([0.30004]), torch.tensor([4])))}
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


def test_checkpoint_with_other_class_count_is_refused(tv_model, tmp_path):
    model = converted(tv_model, tmp_path)
    voc = build_model("ssd300_vgg16_voc0712")
    with pytest.raises(ValueError, match=r"head.cls_convs.0.weight' holds 80 classes.*model.num_classes=20"):
        voc.load_state_dict(model.state_dict())


def test_init_cfg_loads_a_local_checkpoint(tv_model, tmp_path):
    model = converted(tv_model, tmp_path)
    fresh = build_model("ssd300_vgg16_coco", init_cfg=dict(type="Pretrained", checkpoint=str(tmp_path / "ssdkit.pth")))
    fresh.backbone.weights = None  # no ImageNet download here; the checkpoint covers the backbone
    fresh.init_weights()
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)

"""SSDPostprocessor against torchvision's SSD.postprocess_detections; scaling; options."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import nms

from ssdkit.core import SSDBoxCoder, SSDPostprocessor
from ssdkit.registry import POSTPROCESSORS

from torchvision_ref import tv_postprocess


def canonical(det: dict, label_offset: int = 0) -> dict:
    """Order detections by score, then label, then x1 (equal scores may come in either order)."""
    order = torch.argsort(det["boxes"][:, 0], stable=True)
    order = order[torch.argsort(det["labels"][order], stable=True)]
    order = order[torch.argsort(det["scores"][order], descending=True, stable=True)]
    return dict(boxes=det["boxes"][order], scores=det["scores"][order], labels=det["labels"][order] + label_offset)


def head_outputs(b, p, c, seed, peaky=True):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, p, c + 1, generator=gen) * (4 if peaky else 1)
    deltas = torch.randn(b, p, 4, generator=gen)
    return logits, deltas


@pytest.mark.parametrize("seed,peaky", [(0, True), (1, False), (2, True)])
def test_equals_torchvision_postprocess(tv_priors, seed, peaky):
    logits, deltas = head_outputs(4, tv_priors.shape[0], 20, seed, peaky)
    ref = tv_postprocess(logits, deltas, tv_priors, [(300, 300)] * 4)
    boxes = SSDBoxCoder().decode(deltas, tv_priors.unsqueeze(0))
    ours = POSTPROCESSORS.build(dict(type="SSDPostprocessor"))(logits, boxes, [dict(img_shape=(300, 300))] * 4)
    for i, (o, r) in enumerate(zip(ours, ref, strict=True)):
        o, r = canonical(o, label_offset=1), canonical(r)
        assert o["boxes"].shape[0] == r["boxes"].shape[0] > 0, f"image {i}"
        torch.testing.assert_close(o["scores"], r["scores"], rtol=0, atol=1e-6)
        torch.testing.assert_close(o["labels"], r["labels"])
        torch.testing.assert_close(o["boxes"], r["boxes"], rtol=1e-5, atol=1e-4)


def test_scaled_to_original_pixels_and_clipped():
    priors = torch.tensor([[0.0, 0.0, 150.0, 150.0], [100.0, 100.0, 400.0, 400.0]])
    logits = torch.tensor([[[0.0, 5.0, 0.0], [0.0, 0.0, 5.0]]])
    boxes = priors.unsqueeze(0)
    out = SSDPostprocessor()(logits, boxes, [dict(img_shape=(300, 300), ori_shape=(600, 900))])[0]
    # second box clipped to 300 then scaled: x by 3, y by 2
    assert out["labels"].tolist() == [0, 1] or out["labels"].tolist() == [1, 0]
    got = {int(lab): b.tolist() for lab, b in zip(out["labels"], out["boxes"], strict=True)}
    assert got[0] == pytest.approx([0, 0, 450, 300])
    assert got[1] == pytest.approx([300, 200, 900, 600])


def test_max_per_image_and_score_order():
    logits, deltas = head_outputs(3, 2000, 5, seed=3)
    priors = torch.rand(2000, 2) * 250
    priors = torch.cat((priors, priors + 30), 1)
    boxes = SSDBoxCoder().decode(deltas, priors.unsqueeze(0))
    outs = SSDPostprocessor(max_per_img=50)(logits, boxes, [dict(img_shape=(300, 300))] * 3)
    for o in outs:
        assert o["scores"].shape[0] == 50
        assert torch.all(o["scores"][:-1] >= o["scores"][1:])


def test_class_agnostic_nms_suppresses_across_classes():
    boxes = torch.tensor([[[10.0, 10.0, 50.0, 50.0], [11.0, 11.0, 51.0, 51.0]]])
    logits = torch.tensor([[[0.0, 4.0, 0.0], [0.0, 0.0, 3.0]]])
    meta = [dict(img_shape=(100, 100))]
    assert SSDPostprocessor()(logits, boxes, meta)[0]["labels"].tolist() == [0, 1]  # one survivor per class
    agnostic = SSDPostprocessor(class_agnostic=True)(logits, boxes, meta)[0]
    assert agnostic["labels"].numel() == 1 and int(agnostic["labels"][0]) == 0


def test_sigmoid_scores():
    logits = torch.tensor([[[9.0, 0.0, -9.0]]])
    out = SSDPostprocessor(use_sigmoid=True)(logits, torch.tensor([[[0.0, 0.0, 5.0, 5.0]]]), [dict(img_shape=(9, 9))])[
        0
    ]
    torch.testing.assert_close(out["scores"], torch.sigmoid(torch.tensor([0.0])))


def test_no_detection_above_threshold_gives_empty_results():
    logits = torch.zeros(2, 10, 4)
    logits[..., 0] = 20
    outs = SSDPostprocessor()(logits, torch.rand(2, 10, 4), [dict(img_shape=(9, 9))] * 2)
    assert [o["boxes"].shape for o in outs] == [(0, 4), (0, 4)]


def test_nms_matches_reference_within_one_class():
    gen = torch.Generator().manual_seed(5)
    xy = torch.rand(300, 2, generator=gen) * 200
    boxes = torch.cat((xy, xy + 60), 1).unsqueeze(0)
    logits = torch.zeros(1, 300, 2)
    logits[0, :, 1] = torch.randn(300, generator=gen) * 3
    out = SSDPostprocessor(score_thr=0.0, pre_nms_topk=300, max_per_img=300)(
        logits, boxes, [dict(img_shape=(300, 300))]
    )[0]
    scores = logits[0].softmax(-1)[:, 1]
    keep = nms(boxes[0], scores, 0.45)
    torch.testing.assert_close(out["boxes"], boxes[0, keep])


def test_heavy_suppression_widens_the_candidate_prefix():
    # 3 clusters of near-identical boxes: each class keeps only a handful, far fewer than max_per_img,
    # so NMS must widen from each image's best candidates to all of them and still equal torchvision
    gen = torch.Generator().manual_seed(11)
    centres = torch.tensor([[60.0, 60.0], [150.0, 150.0], [240.0, 90.0]]).repeat_interleave(700, 0)
    jitter = torch.rand(2100, 4, generator=gen) * 6
    priors = torch.cat((centres - 40, centres + 40), 1) + jitter
    logits, deltas = head_outputs(2, 2100, 3, seed=12, peaky=False)
    deltas.zero_()
    ref = tv_postprocess(logits, deltas, priors, [(300, 300)] * 2)
    boxes = SSDBoxCoder().decode(deltas, priors.unsqueeze(0))
    post = SSDPostprocessor(max_per_img=50)
    ours = post(logits, boxes, [dict(img_shape=(300, 300))] * 2)
    for o, r in zip(ours, ref, strict=True):
        o, r = canonical(o, label_offset=1), canonical(r)
        assert 3 <= o["boxes"].shape[0] == r["boxes"].shape[0] < 50
        torch.testing.assert_close(o["scores"], r["scores"])
        torch.testing.assert_close(o["boxes"], r["boxes"])

"""SSDMatcher(bipartite='greedy') against a plain transcription of the released Caffe SSD's MatchBBox."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine import Config
from torchvision.ops import box_iou

from ssdkit.core import SSDBoxCoder, SSDMatcher, SSDPriorGenerator, assign_targets, pad_ground_truth
from ssdkit.registry import MATCHERS

from caffe_match_ref import caffe_match_bbox
from conftest import SSD300_FEATURES, random_boxes
from torchvision_ref import tv_match

# a small Caffe-style layout (min/max sizes, steps), so the reference's nested loops stay quick, and ssd_pascal.py's
SMALL = dict(min_sizes=[8, 20, 36, 52], max_sizes=[20, 36, 52, 64], steps=[8, 16, 32, 64], aspect_ratios=[[2]] * 4)
SMALL_FEATURES, SMALL_SIZE = [(8, 8), (4, 4), (2, 2), (1, 1)], (64, 64)
LAYOUTS = {
    "small": (SMALL, SMALL_FEATURES, SMALL_SIZE),
    "caffe-300": (
        dict(
            min_sizes=[30, 60, 111, 162, 213, 264],
            max_sizes=[60, 111, 162, 213, 264, 315],
            steps=[8, 16, 32, 64, 100, 300],
        ),
        SSD300_FEATURES,
        (300, 300),
    ),
}

# hand-worked case. IoU of each gt with each prior:
#          P0 [0,0,10,10]  P1 [4,0,14,10]  P2 [0,0,10,20]  P3 [100,100,110,110]
# A [0,0,10,10]    1.0         60/140          0.5 exactly        0
# B [0,0,9,10]     0.9         50/140          0.45               0
# C [50,50,60,60]  0           0               0                  0
HAND_PRIORS = torch.tensor([[0.0, 0, 10, 10], [4, 0, 14, 10], [0, 0, 10, 20], [100, 100, 110, 110]])
A, B, C = [0.0, 0, 10, 10], [0.0, 0, 9, 10], [50.0, 50, 60, 60]
HAND_GT = torch.tensor([[A, B, C], [A, A, A], [A, A, A]])  # the padded slots hold copies of A
HAND_VALID = torch.tensor([[True, True, True], [True, True, False], [True, False, False]])


def test_hand_worked_case_every_gt_gets_a_prior():
    # image 0: all three gts have P0 as their best prior (C as an argmax over zeros); torchvision forces all three
    # there and C, the last, keeps it, so A and B have no forced prior and B none at all (A gets P2 by the 0.5 rule).
    # Greedy: (P0, A) at 1.0, then B's best free prior P2 at 0.45; C overlaps nothing and stays unmatched.
    # image 1: two copies of A tie on P0; Caffe's scan takes the first gt there, the second takes P2 (0.5).
    # image 2: one gt: P0 bipartite, then P2 by the threshold pass, 0.5 >= 0.5.
    greedy = SSDMatcher(0.5, bipartite="greedy")(HAND_GT, HAND_PRIORS, HAND_VALID)
    assert greedy.tolist() == [[0, -1, 1, -1], [0, -1, 1, -1], [0, -1, 0, -1]]
    tv = SSDMatcher(0.5)(HAND_GT, HAND_PRIORS, HAND_VALID)
    assert tv.tolist() == [[2, -1, 0, -1], [1, -1, 0, -1], [0, -1, 0, -1]]
    for i in range(3):
        g = HAND_GT[i][HAND_VALID[i]]
        assert torch.equal(tv[i], tv_match(g, HAND_PRIORS))
        assert torch.equal(greedy[i], caffe_match_bbox(box_iou(g, HAND_PRIORS)))


def crowded_batch(priors: torch.Tensor, size: int, gen: torch.Generator) -> list[torch.Tensor]:
    """Images of many gts sharing priors: random boxes, exact duplicates (IoU ties between gts), prior copies
    (ties between priors), boxes overlapping no prior, tiny boxes, and an empty image."""
    images = []
    for _ in range(6):
        n = int(torch.randint(10, 31, (1,), generator=gen))
        boxes = random_boxes(n, size, gen) * torch.empty(n, 1).uniform_(0.3, 1.0, generator=gen)
        dup = boxes[torch.randint(0, n, (n // 3,), generator=gen)]
        copies = priors[torch.randint(0, priors.shape[0], (4,), generator=gen)]
        nowhere = torch.tensor([[10 * size, 10 * size, 10 * size + 5.0, 10 * size + 5.0]])
        tiny = random_boxes(3, size, gen)[:, :2].repeat(1, 2) + torch.tensor([0.0, 0.0, 0.5, 0.5])
        parts = torch.cat((boxes, dup, copies, copies[:2], nowhere, tiny))
        images.append(parts[torch.randperm(parts.shape[0], generator=gen)])
    return images + [torch.zeros(0, 4)]


@pytest.mark.parametrize(("layout", "seed"), [("small", 0), ("small", 1), ("small", 2), ("caffe-300", 3)])
def test_equals_caffe_match_bbox_dense_and_on_the_grid(layout, seed):
    kwargs, features, size = LAYOUTS[layout]
    gen_priors = SSDPriorGenerator(**kwargs)
    priors, grid = gen_priors(features, size), gen_priors.grid(features, size)
    gen = torch.Generator().manual_seed(seed)
    gts = crowded_batch(priors, size[0], gen)
    boxes, _, valid = pad_ground_truth(gts, [torch.zeros(len(g), dtype=torch.long) for g in gts], 1, check=False)
    boxes[~valid] = torch.tensor([0.0, 0.0, 20.0, 20.0])  # padding that would match, were it not masked
    matcher = SSDMatcher(0.5, bipartite="greedy")
    dense, on_grid = matcher(boxes, priors, valid), matcher(boxes, priors, valid, grid=grid)
    unmatched_by_tv = 0
    for i, g in enumerate(gts):
        ref = caffe_match_bbox(box_iou(g, priors))
        assert torch.equal(dense[i], ref), f"seed {seed} image {i}: {(dense[i] != ref).nonzero()[:5].tolist()}"
        assert torch.equal(on_grid[i], ref), f"seed {seed} image {i} (grid): {(on_grid[i] != ref).nonzero()[:5]}"
        unmatched_by_tv += len(g) - len(set(tv_match(g, priors).tolist()) - {-1})
    assert unmatched_by_tv > 0  # the inputs are crowded enough for torchvision's rule to leave gts without priors


def test_builds_from_the_registry_and_trains_targets():
    matcher = MATCHERS.build(dict(type="SSDMatcher", iou_threshold=0.5, bipartite="greedy"))
    gen_priors = SSDPriorGenerator(**SMALL)
    priors, grid = gen_priors(SMALL_FEATURES, SMALL_SIZE), gen_priors.grid(SMALL_FEATURES, SMALL_SIZE)
    gen = torch.Generator().manual_seed(5)
    gts = crowded_batch(priors, SMALL_SIZE[0], gen)
    labels = [torch.randint(0, 5, (len(g),), generator=gen) for g in gts]
    padded = pad_ground_truth(gts, labels, 5, check=False)
    target_labels, deltas = assign_targets(matcher, SSDBoxCoder(), priors, *padded, grid=grid)
    for i, (g, lab) in enumerate(zip(gts, labels, strict=True)):
        ref = caffe_match_bbox(box_iou(g, priors))
        want = torch.where(ref >= 0, lab[ref.clamp(min=0)] + 1, 0) if len(g) else torch.zeros_like(ref)
        assert torch.equal(target_labels[i], want), f"image {i}"
        pos = ref >= 0
        torch.testing.assert_close(deltas[i][pos], SSDBoxCoder().encode(g[ref[pos]], priors[pos]))


def test_bipartite_names_the_valid_rules():
    assert SSDMatcher(bipartite=None).bipartite == SSDMatcher().bipartite == "torchvision"
    with pytest.raises(ValueError, match="'torchvision', 'greedy'"):
        SSDMatcher(0.5, bipartite="caffe")


def test_the_config_of_the_caffe_release_matches_as_caffe():
    cfg = Config.fromfile(Path(__file__).resolve().parents[1] / "configs" / "ssd300_mobilenet_caffe.py")
    assert MATCHERS.build(cfg.model.matcher).bipartite == "greedy"

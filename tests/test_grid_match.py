"""Matching on the prior grid gives exactly the dense result (and torchvision's), ties included, greedy bipartite
matching too."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import box_iou

from ssdkit.core import ArgMaxMatcher, SSDMatcher, SSDPriorGenerator, pad_ground_truth
from ssdkit.core.grid_match import grid_candidates

from conftest import SSD300_FEATURES, SSD512_FEATURES, TV_SSD300, random_boxes
from torchvision_ref import tv_match

LAYOUTS = {
    "torchvision-300": (TV_SSD300, SSD300_FEATURES, (300, 300)),
    "paper-512": (
        dict(
            aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2, 3], [2], [2]],
            s_min=0.15,
            s_max=0.9,
            first_scale=0.07,
            steps=[8, 16, 32, 64, 128, 256, 512],
        ),
        SSD512_FEATURES,
        (512, 512),
    ),
    "caffe-300": (
        dict(
            min_sizes=[30, 60, 111, 162, 213, 264],
            max_sizes=[60, 111, 162, 213, 264, 315],
            steps=[8, 16, 32, 64, 100, 300],
        ),
        SSD300_FEATURES,
        (300, 300),
    ),
    "mobilenet-wide": (
        dict(s_min=0.1, s_max=0.8, clip="wh"),
        [(19, 24), (10, 12), (5, 6), (3, 3), (2, 2), (1, 1)],
        (300, 380),
    ),
}


def hard_boxes(priors: torch.Tensor, size: tuple[int, int], gen: torch.Generator) -> list[torch.Tensor]:
    """Images of boxes that stress a windowed search: exact prior copies (exact ties across cells and
    gts), duplicates, tiny, thin, huge and partly outside the image."""
    h, w = size
    pick = priors[torch.randint(0, priors.shape[0], (6,), generator=gen)]
    tiny = (
        random_boxes(5, min(h, w), gen)[:, :2].repeat(1, 2)
        + torch.rand(5, 4, generator=gen) * 3
        + torch.tensor([0.0, 0.0, 0.5, 0.5])
    )
    thin = random_boxes(4, min(h, w), gen) * torch.tensor([1.0, 1.0, 1.0, 1.0])
    thin[:, 2] = thin[:, 0] + 1.5
    huge = torch.tensor(
        [[-40.0, -30.0, w + 50.0, h + 20.0], [0.0, 0.0, float(w), float(h)], [-100.0, 10.0, 30.0, 60.0]]
    )
    shifted = pick + torch.tensor([4.0, -4.0, 4.0, -4.0])  # same size as a prior, between cells
    return [
        pick,
        torch.cat((pick[:3], pick[:3])),
        tiny,
        thin,
        huge,
        shifted,
        random_boxes(20, min(h, w), gen),
        torch.zeros(0, 4),
    ]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_grid_matching_equals_dense_and_torchvision(layout):
    kwargs, features, size = LAYOUTS[layout]
    gen_priors = SSDPriorGenerator(**kwargs)
    priors, grid = gen_priors(features, size), gen_priors.grid(features, size)
    gen = torch.Generator().manual_seed(1)
    for trial in range(3):
        gts = hard_boxes(priors, size, gen) + [
            random_boxes(int(n), min(size), gen) for n in torch.randint(0, 21, (6,), generator=gen)
        ]
        boxes, _, valid = pad_ground_truth(gts, [torch.zeros(len(g), dtype=torch.long) for g in gts], 1, check=False)
        for matcher in (
            SSDMatcher(0.5),
            SSDMatcher(0.5, bipartite="greedy"),
            ArgMaxMatcher(0.5, 0.4),
            ArgMaxMatcher(0.6, 0.3, force_match=False),
        ):
            dense = matcher(boxes, priors, valid)
            sparse = matcher(boxes, priors, valid, grid=grid)
            assert torch.equal(sparse, dense), (
                f"{layout} trial {trial} {matcher}: {(sparse != dense).nonzero()[:5].tolist()}"
            )
        if kwargs is TV_SSD300:
            for i, g in enumerate(gts):
                assert torch.equal(
                    sparse_tv := SSDMatcher(0.5)(boxes[i : i + 1], priors, valid[i : i + 1], grid=grid)[0],
                    tv_match(g, priors),
                ), f"image {i}: {(sparse_tv != tv_match(g, priors)).sum()}"


def test_candidates_hold_every_pair_above_the_threshold_and_every_best_prior(tv_priors):
    grid = SSDPriorGenerator(**TV_SSD300).grid(SSD300_FEATURES, (300, 300))
    gt = random_boxes(50, generator=torch.Generator().manual_seed(3))
    gt_index, prior, iou = grid_candidates(gt, tv_priors, grid, 0.5)
    full = box_iou(gt, tv_priors)
    assert torch.equal(iou, full[gt_index, prior])  # bit-for-bit the dense values
    found = torch.zeros_like(full, dtype=torch.bool)
    found[gt_index, prior] = True
    assert found[full >= 0.5].all()
    assert found[torch.arange(50), full.argmax(1)].all()
    assert found.sum() < 0.05 * full.numel()  # a small fraction of the dense matrix is visited


def test_clipped_corners_have_no_grid():
    assert SSDPriorGenerator(clip="xyxy").grid(SSD300_FEATURES, (300, 300)) is None


def test_assign_targets_same_on_grid_dense_and_dense_only_plugin_matcher(tv_priors):
    from ssdkit.core import SSDBoxCoder, assign_targets

    grid = SSDPriorGenerator(**TV_SSD300).grid(SSD300_FEATURES, (300, 300))
    gen = torch.Generator().manual_seed(7)
    gts = [random_boxes(int(n), generator=gen) for n in torch.randint(0, 12, (6,), generator=gen)]
    labels = [torch.randint(0, 5, (len(g),), generator=gen) for g in gts]
    padded = pad_ground_truth(gts, labels, 5)
    matcher, coder = ArgMaxMatcher(0.5, 0.4), SSDBoxCoder()

    class DenseOnly:  # a plugin matcher that only implements the documented dense contract
        def __call__(self, gt_boxes, priors, gt_valid):
            return matcher(gt_boxes, priors, gt_valid)

    on_grid = assign_targets(matcher, coder, tv_priors, *padded, grid=grid)
    for other in (
        assign_targets(matcher, coder, tv_priors, *padded),
        assign_targets(DenseOnly(), coder, tv_priors, *padded, grid=grid),
    ):
        assert torch.equal(on_grid[0], other[0]) and torch.equal(on_grid[1], other[1])
    assert (on_grid[0] == -1).any() and (on_grid[0] > 0).any()  # the ignore band and positives both occur

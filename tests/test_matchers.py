"""SSDMatcher against torchvision's SSDMatcher image by image; ArgMaxMatcher's ignore band."""

from __future__ import annotations

import torch

from ssdkit.core import ArgMaxMatcher, SSDMatcher, pad_ground_truth

from conftest import random_boxes
from torchvision_ref import tv_match


def test_equals_torchvision_on_random_batches(tv_priors):
    gen = torch.Generator().manual_seed(0)
    for trial in range(5):
        gts = [random_boxes(int(n), generator=gen) for n in torch.randint(0, 21, (8,), generator=gen)]
        boxes, _, valid = pad_ground_truth(gts, [torch.zeros(len(g), dtype=torch.long) for g in gts], 1)
        ours = SSDMatcher(0.5)(boxes, tv_priors, valid)
        for i, g in enumerate(gts):
            torch.testing.assert_close(ours[i], tv_match(g, tv_priors), msg=f"trial {trial} image {i}")


def test_ties_and_shared_best_prior_are_deterministic():
    priors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    # two identical gts: both have prior 0 as best (first on ties); the later gt keeps it, as torchvision
    gt = torch.tensor([[[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]]])
    ours = SSDMatcher()(gt, priors)
    torch.testing.assert_close(ours[0], tv_match(gt[0], priors))
    assert ours[0].tolist() == [1, 0, -1]


def test_forced_match_below_threshold_and_empty_images():
    priors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [100.0, 100.0, 200.0, 200.0]])
    gt = torch.tensor([[[0.0, 0.0, 30.0, 30.0]], [[0.0, 0.0, 1.0, 1.0]]])  # IoU 1/9 with prior 0: forced anyway
    valid = torch.tensor([[True], [False]])
    out = SSDMatcher()(gt, priors, valid)
    assert out.tolist() == [[0, -1], [-1, -1]]
    assert SSDMatcher()(torch.zeros(3, 0, 4), priors).tolist() == [[-1, -1]] * 3


def test_argmax_matcher_ignore_band():
    priors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 8.0], [0.0, 0.0, 10.0, 4.5], [0.0, 0.0, 10.0, 3.0]])
    gt = torch.tensor([[[0.0, 0.0, 10.0, 10.0]]])  # IoUs 1.0, 0.8, 0.45, 0.3
    assert ArgMaxMatcher(0.5, 0.4, force_match=False)(gt, priors).tolist() == [[0, 0, -2, -1]]
    far = torch.tensor([[[50.0, 50.0, 60.0, 60.0]]])
    assert ArgMaxMatcher(0.5, 0.4, force_match=True)(far, priors).tolist() == [[0, -1, -1, -1]]
    assert ArgMaxMatcher(0.5, 0.4, force_match=False)(far, priors).tolist() == [[-1, -1, -1, -1]]

"""Bad ground truth fails with a message naming the image and box; empty ground truth is handled."""

from __future__ import annotations

import math

import pytest
import torch

from ssdkit.core import MultiBoxLoss, SSDBoxCoder, SSDMatcher, assign_targets, pad_ground_truth
from ssdkit.structures import batched_pairwise_iou, pairwise_iou, validate_boxes

GOOD = torch.tensor([[10.0, 10.0, 50.0, 60.0]])


@pytest.mark.parametrize(
    "bad,needle",
    [
        ([[10.0, 10.0, 5.0, 60.0]], "zero or negative size"),
        ([[10.0, 10.0, 10.0, 60.0]], "zero or negative size"),
        ([[10.0, math.nan, 50.0, 60.0]], "NaN or infinite"),
        ([[10.0, 10.0, math.inf, 60.0]], "NaN or infinite"),
    ],
)
def test_bad_boxes_raise_naming_image_and_box(bad, needle):
    with pytest.raises(ValueError, match=needle) as info:
        pad_ground_truth([GOOD, torch.tensor(bad)], [torch.tensor([0]), torch.tensor([1])], num_classes=3)
    assert "image 1" in str(info.value) and "box 0" in str(info.value)


@pytest.mark.parametrize("label", [-1, 3])
def test_labels_out_of_range(label):
    with pytest.raises(ValueError, match=r"label .* out of range; valid labels are 0 \.\. 2"):
        pad_ground_truth([GOOD], [torch.tensor([label])], num_classes=3)


def test_shape_mismatch():
    with pytest.raises(ValueError, match="image 0"):
        pad_ground_truth([GOOD], [torch.tensor([0, 1])], num_classes=3)


def test_empty_ground_truth_gives_background_and_finite_loss(tv_priors):
    boxes, labels, valid = pad_ground_truth(
        [torch.zeros(0, 4), torch.zeros(0, 4)], [torch.zeros(0, dtype=torch.long)] * 2, num_classes=3
    )
    t_labels, t_deltas = assign_targets(SSDMatcher(), SSDBoxCoder(), tv_priors, boxes, labels, valid)
    assert t_labels.eq(0).all() and torch.isfinite(t_deltas).all()
    loss = MultiBoxLoss(min_negatives_per_image=8)(
        torch.randn(2, tv_priors.shape[0], 4), torch.randn(2, tv_priors.shape[0], 4), t_labels, t_deltas
    )
    assert all(torch.isfinite(v) for v in loss.values()) and loss["loss_cls"] > 0


def test_padded_rows_never_produce_nan_targets(tv_priors):
    boxes, labels, valid = pad_ground_truth(
        [GOOD, torch.zeros(0, 4)], [torch.tensor([0]), torch.zeros(0, dtype=torch.long)], num_classes=3
    )
    _, deltas = assign_targets(SSDMatcher(), SSDBoxCoder(), tv_priors, boxes, labels, valid)
    assert torch.isfinite(deltas).all()


def test_batched_iou_equals_torchvision(tv_priors):
    gt = torch.tensor([[[10.0, 10.0, 50.0, 60.0], [0.0, 0.0, 300.0, 300.0]]])
    torch.testing.assert_close(batched_pairwise_iou(gt, tv_priors)[0], pairwise_iou(gt[0], tv_priors))


def test_validate_accepts_empty_and_good():
    validate_boxes(torch.zeros(0, 4))
    validate_boxes(GOOD)

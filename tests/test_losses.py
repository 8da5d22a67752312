"""MultiBoxLoss against torchvision's SSD.compute_loss; N = 0; min_negatives_per_image."""

from __future__ import annotations

import torch

from ssdkit.core import MultiBoxLoss, SSDBoxCoder, SSDMatcher, assign_targets, pad_ground_truth
from ssdkit.registry import LOSSES

from conftest import random_boxes
from torchvision_ref import tv_compute_loss

NUM_CLASSES = 20


def make_batch(priors, counts, seed=0):
    gen = torch.Generator().manual_seed(seed)
    gts = [random_boxes(n, generator=gen) for n in counts]
    labels = [torch.randint(0, NUM_CLASSES, (n,), generator=gen) for n in counts]
    b, p = len(counts), priors.shape[0]
    logits = torch.randn(b, p, NUM_CLASSES + 1, generator=gen)
    deltas = torch.randn(b, p, 4, generator=gen)
    return gts, labels, logits, deltas


def our_loss(loss, priors, gts, labels, logits, deltas):
    boxes, lab, valid = pad_ground_truth(gts, labels, NUM_CLASSES)
    t_labels, t_deltas = assign_targets(SSDMatcher(), SSDBoxCoder(), priors, boxes, lab, valid)
    return loss(logits, deltas, t_labels, t_deltas)


def test_equals_torchvision_compute_loss(tv_priors):
    for seed, counts in enumerate([[3, 1, 20, 7], [1], [12, 5]]):
        gts, labels, logits, deltas = make_batch(tv_priors, counts, seed)
        ours = our_loss(LOSSES.build(dict(type="MultiBoxLoss")), tv_priors, gts, labels, logits, deltas)
        ref = tv_compute_loss(logits, deltas, gts, [lab + 1 for lab in labels], tv_priors)
        torch.testing.assert_close(ours["loss_cls"], ref["classification"], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ours["loss_box"], ref["bbox_regression"], rtol=1e-5, atol=1e-5)


def test_gradients_match_torchvision(tv_priors):
    gts, labels, logits, deltas = make_batch(tv_priors, [4, 2], seed=7)
    a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    da, db = deltas.clone().requires_grad_(), deltas.clone().requires_grad_()
    ours = our_loss(MultiBoxLoss(), tv_priors, gts, labels, a, da)
    ref = tv_compute_loss(b, db, gts, [lab + 1 for lab in labels], tv_priors)
    sum(ours.values()).backward()
    sum(ref.values()).backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(da.grad, db.grad, rtol=1e-5, atol=1e-7)


def test_no_positive_gives_finite_zero(tv_priors):
    gts, labels, logits, deltas = make_batch(tv_priors, [0, 0])
    logits.requires_grad_()
    out = our_loss(MultiBoxLoss(), tv_priors, gts, labels, logits, deltas)
    assert out["loss_cls"].item() == 0.0 and out["loss_box"].item() == 0.0
    sum(out.values()).backward()
    assert torch.isfinite(logits.grad).all()


def test_min_negatives_teach_background_in_empty_images(tv_priors):
    gts, labels, logits, deltas = make_batch(tv_priors, [0, 2])
    out = our_loss(MultiBoxLoss(min_negatives_per_image=16), tv_priors, gts, labels, logits, deltas)
    plain = our_loss(MultiBoxLoss(), tv_priors, gts, labels, logits, deltas)
    assert out["loss_cls"] > plain["loss_cls"]
    # image 0 adds exactly its 16 hardest background priors (N = positives of image 1)
    ce0 = torch.nn.functional.cross_entropy(
        logits[0], torch.zeros(tv_priors.shape[0], dtype=torch.long), reduction="none"
    )
    b1 = our_loss(MultiBoxLoss(min_negatives_per_image=16), tv_priors, gts[1:], labels[1:], logits[1:], deltas[1:])
    n = (
        assign_targets(SSDMatcher(), SSDBoxCoder(), tv_priors, *pad_ground_truth(gts[1:], labels[1:], NUM_CLASSES))[0]
        .gt(0)
        .sum()
    )
    torch.testing.assert_close(out["loss_cls"], b1["loss_cls"] + ce0.topk(16).values.sum() / n)


def test_hard_negative_ratio_hand_worked():
    # one image, 1 positive, 5 negatives with known losses: exactly the 3 hardest negatives count
    logits = torch.zeros(1, 6, 2)
    logits[0, :, 1] = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])  # background CE grows with the class-1 logit
    labels = torch.tensor([[1, 0, 0, 0, 0, 0]])
    out = MultiBoxLoss()(logits, torch.zeros(1, 6, 4), labels, torch.zeros(1, 6, 4))
    ce = torch.nn.functional.cross_entropy(logits[0], torch.tensor([1, 0, 0, 0, 0, 0]), reduction="none")
    torch.testing.assert_close(out["loss_cls"], ce[0] + ce[3:].sum())


def test_ignored_priors_do_not_count():
    logits = torch.randn(1, 5, 3)
    labels = torch.tensor([[2, -1, -1, 0, 0]])
    out = MultiBoxLoss(neg_pos_ratio=10)(logits, torch.zeros(1, 5, 4), labels, torch.zeros(1, 5, 4))
    ce = torch.nn.functional.cross_entropy(logits[0], torch.tensor([2, 0, 0, 0, 0]), reduction="none")
    torch.testing.assert_close(out["loss_cls"], ce[0] + ce[3] + ce[4])

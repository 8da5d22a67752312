"""SSDBoxCoder against torchvision's BoxCoder(10, 10, 5, 5); round trip; overflow clamp."""

from __future__ import annotations

import math

import torch
from torchvision.models.detection import _utils as tv_utils

from ssdkit.core import SSDBoxCoder
from ssdkit.registry import BOX_CODERS

from conftest import random_boxes


def test_encode_decode_equal_torchvision(tv_priors):
    gen = torch.Generator().manual_seed(1)
    gt = random_boxes(tv_priors.shape[0], generator=gen)
    ours = BOX_CODERS.build(dict(type="SSDBoxCoder"))
    tv = tv_utils.BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
    deltas = ours.encode(gt, tv_priors)
    torch.testing.assert_close(deltas, tv.encode_single(gt, tv_priors), rtol=1e-5, atol=1e-5)
    wild = torch.randn(tv_priors.shape[0], 4, generator=gen) * 3
    torch.testing.assert_close(ours.decode(wild, tv_priors), tv.decode_single(wild, tv_priors), rtol=1e-5, atol=1e-5)


def test_round_trip_batched(tv_priors):
    gt = random_boxes(4 * tv_priors.shape[0], generator=torch.Generator().manual_seed(2)).view(4, -1, 4)
    coder = SSDBoxCoder()
    back = coder.decode(coder.encode(gt, tv_priors.unsqueeze(0)), tv_priors.unsqueeze(0))
    torch.testing.assert_close(back, gt, rtol=1e-4, atol=1e-3)


def test_hand_worked_offsets_and_variances():
    prior = torch.tensor([10.0, 10.0, 30.0, 50.0])  # centre (20, 30), 20 x 40
    gt = torch.tensor([15.0, 10.0, 35.0, 90.0])  # centre (25, 50), 20 x 80
    d = SSDBoxCoder().encode(gt, prior)
    expected = [(25 - 20) / 20 / 0.1, (50 - 30) / 40 / 0.1, math.log(1.0) / 0.2, math.log(2.0) / 0.2]
    torch.testing.assert_close(d, torch.tensor(expected))


def test_decode_clamps_exponent():
    prior = torch.tensor([[0.0, 0.0, 16.0, 16.0]])
    out = SSDBoxCoder().decode(torch.tensor([[0.0, 0.0, 1e4, 1e4]]), prior)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[0, 2] - out[0, 0], torch.tensor(1000.0))

"""SSDHead's flattened outputs equal torchvision's SSDHead with the same weights."""

from __future__ import annotations

import torch
from torchvision.models.detection.ssd import SSDHead as TVHead

from ssdkit.models.heads import SSDHead


def test_equals_torchvision_head():
    chans, priors, c = [512, 1024, 256], [4, 6, 4], 5
    ours, tv = SSDHead(chans, priors, c), TVHead(chans, priors, c + 1)
    for k in range(3):
        ours.cls_convs[k].load_state_dict(tv.classification_head.module_list[k].state_dict())
        ours.reg_convs[k].load_state_dict(tv.regression_head.module_list[k].state_dict())
    feats = [torch.randn(2, ch, s, s) for ch, s in zip(chans, [7, 4, 1], strict=True)]
    cls, box = ours(feats)
    ref = tv(feats)
    torch.testing.assert_close(cls, ref["cls_logits"])
    torch.testing.assert_close(box, ref["bbox_regression"])
    assert cls.shape == (2, 7 * 7 * 4 + 16 * 6 + 4, c + 1)


def test_xavier_init_and_depthwise_option():
    head = SSDHead([64], [4], 3)
    assert head.cls_convs[0].bias.abs().sum() == 0
    bound = (6 / (64 * 9 + 16 * 9)) ** 0.5
    top = float(head.cls_convs[0].weight.detach().abs().max())  # PyTorch's default reaches only 1/sqrt(576) = 0.042
    assert 0.9 * bound < top <= bound * (1 + 1e-6)
    dw = SSDHead([64], [4], 3, depthwise=True)
    assert dw.cls_convs[0][0].groups == 64
    cls, box = dw([torch.randn(1, 64, 5, 5)])
    assert cls.shape == (1, 100, 4) and box.shape == (1, 100, 4)


def test_depthwise_head_refuses_other_class_count():
    import pytest

    a, b = SSDHead([64, 32], [4, 6], 10, depthwise=True), SSDHead([64, 32], [4, 6], 3, depthwise=True)
    b.load_state_dict(SSDHead([64, 32], [4, 6], 3, depthwise=True).state_dict())  # same count loads
    with pytest.raises(ValueError, match=r"cls_convs.0.3.weight' holds 10 classes .*num_classes=3"):
        b.load_state_dict(a.state_dict())


def test_one_by_one_predictors_of_the_released_mobilenet_ssd():
    import pytest

    head = SSDHead([512, 1024], [3, 6], 20, kernel_size=1)
    assert [c.kernel_size for c in head.cls_convs] == [(1, 1), (1, 1)]
    assert head.cls_convs[0].weight.shape == (3 * 21, 512, 1, 1)
    assert head.reg_convs[1].weight.shape == (6 * 4, 1024, 1, 1)
    feats = [torch.randn(1, 512, 19, 19), torch.randn(1, 1024, 10, 10)]
    cls, box = head(feats)
    assert cls.shape == (1, 19 * 19 * 3 + 100 * 6, 21)
    x = feats[0][0, :, 0, 0]  # a 1x1 predictor sees only its own location: prior 0's scores by hand
    torch.testing.assert_close(
        cls[0, 0], head.cls_convs[0].weight[:21, :, 0, 0] @ x + head.cls_convs[0].bias[:21], rtol=1e-4, atol=1e-4
    )
    with pytest.raises(ValueError, match="kernel_size"):
        SSDHead([64], [4], 3, depthwise=True, kernel_size=1)


def test_init_background_prob_sets_the_untrained_scores():
    """With the prior-probability bias every prior of an untrained head scores background at exactly p (zero
    features reach the last conv as zeros: BatchNorm of a constant map is its beta, 0), each class (1 - p) / C;
    an ``init_cfg`` initialisation keeps it, and a bad p is refused."""
    import pytest

    for depthwise, kernel in ((True, 3), (False, 3), (False, 1)):
        head = SSDHead(
            [16, 8],
            [4, 6],
            10,
            depthwise=depthwise,
            kernel_size=kernel,
            init_background_prob=0.99,
            init_cfg=dict(type="Normal", layer="Conv2d", std=0.01),
        )
        head.init_weights()
        cls, _ = head([torch.zeros(2, 16, 3, 3), torch.zeros(2, 8, 2, 2)])
        probs = cls.softmax(-1)
        torch.testing.assert_close(probs[..., 0], torch.full_like(probs[..., 0], 0.99))
        torch.testing.assert_close(probs[..., 1:], torch.full_like(probs[..., 1:], 0.001))
        last = [m for m in head.cls_convs[0].modules() if isinstance(m, torch.nn.Conv2d)][-1]
        assert float(last.weight.detach().std()) < 0.02  # init_cfg ran (it zeroes biases), the bias was set again
    plain = SSDHead([16], [4], 10)
    assert plain.cls_convs[0].bias.abs().sum() == 0  # the paper's zero bias without it
    with pytest.raises(ValueError, match="init_background_prob=1.0; valid"):
        SSDHead([16], [4], 10, init_background_prob=1.0)
